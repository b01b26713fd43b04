"""Fake external services for dropsync's tests, benchmarks and demos.

`simulator.shopify` fakes the Shopify Admin GraphQL API (2026-10), OAuth and webhook
delivery; other subpackages fake suppliers. Nothing here imports dropsync's own
packages: a fake that shared our reading of an external API would agree with our bugs.
"""

__all__: list[str] = []
