"""Job names: explicit constants, so renaming a function never orphans queued jobs.

The HTTP edge imports this module (and `workers.trigger`) only, never job code.
"""

__all__ = ["PURGE_PAYLOADS"]

PURGE_PAYLOADS = "purge_payloads"
