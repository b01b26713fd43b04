"""Job names: explicit constants, so renaming a function never orphans queued jobs.

The HTTP edge imports this module (and `workers.trigger`) only, never job code.
"""

__all__ = ["PURGE_PAYLOADS"]

PURGE_PAYLOADS = "purge_payloads"

# ingest: apply stored deliveries (one job per shop / supplier account), and the sweeper that
# re-triggers whatever is left pending.
APPLY_SHOPIFY = "apply_shopify"
APPLY_SUPPLIER = "apply_supplier"
SWEEP_DELIVERIES = "sweep_deliveries"
PURGE_SUPPLIER_PAYLOADS = "purge_supplier_payloads"
__all__ += ["APPLY_SHOPIFY", "APPLY_SUPPLIER", "PURGE_SUPPLIER_PAYLOADS", "SWEEP_DELIVERIES"]
