"""Fake Shopify Admin API and fake suppliers, for tests and demos.

Imports nothing from dropsync's own packages: a fake sharing our reading of Shopify would
agree with our bugs.
"""
