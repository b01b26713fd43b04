"""Job names: explicit constants, so renaming a function never orphans queued jobs.

The HTTP edge imports this module (and `workers.trigger`) only, never job code.
"""

__all__ = [
    "CONNECT_SHOP",
    "FULL_PASS_SHOPS",
    "FULL_PASS_SUPPLIERS",
    "POLL_SHOP",
    "POLL_SHOPS",
    "POLL_SUPPLIER",
    "POLL_SUPPLIERS",
    "PURGE_PAYLOADS",
    "PUSH_SHOP",
    "PUSH_SWEEP",
    "REFRESH_ORDERS",
    "WATCHDOG",
    "WATCHDOG_SHOP",
]

PURGE_PAYLOADS = "purge_payloads"

# push_shop(shop_id): push every unsynced package of the shop. Trigger it after applying a
# supplier shipment; no unique_id is needed (a second run for a busy shop re-queues itself).
PUSH_SHOP = "push_shop"
# refresh_orders(shop_id): re-read orders marked needs_refresh (fulfillment_orders/* webhooks).
REFRESH_ORDERS = "refresh_orders"
# Cron: re-trigger shops with unsynced packages, due ledger rows or orders to re-read.
PUSH_SWEEP = "push_sweep"

# connect_shop(shop_id): register webhook subscriptions, then run the queued backfill.
CONNECT_SHOP = "connect_shop"
# poll_shop(shop_id, full_pass): read orders updated since the watermark (or the last 24 h).
POLL_SHOP = "poll_shop"
# Crons fanning out one job per shop: every poll interval, and nightly for the full pass.
POLL_SHOPS = "poll_shops"
FULL_PASS_SHOPS = "full_pass_shops"  # noqa: S105  (a job name, not a password)
# poll_supplier(account_id): re-read open supplier orders; the cron fans out per account.
POLL_SUPPLIER = "poll_supplier"
POLL_SUPPLIERS = "poll_suppliers"
FULL_PASS_SUPPLIERS = "full_pass_suppliers"  # noqa: S105  (a job name, not a password)
# Cron: one watchdog_shop per shop (missing webhook subscriptions) and CJ re-registration.
WATCHDOG = "watchdog"
WATCHDOG_SHOP = "watchdog_shop"
# ingest: apply stored deliveries (one job per shop / supplier account), and the sweeper that
# re-triggers whatever is left pending.
APPLY_SHOPIFY = "apply_shopify"
APPLY_SUPPLIER = "apply_supplier"
SWEEP_DELIVERIES = "sweep_deliveries"
PURGE_SUPPLIER_PAYLOADS = "purge_supplier_payloads"
__all__ += ["APPLY_SHOPIFY", "APPLY_SUPPLIER", "PURGE_SUPPLIER_PAYLOADS", "SWEEP_DELIVERIES"]
# The report's classification: classify_dirty every minute (the dirty set), classify_full on
# the schedule in settings.classify_full_pass_minutes (the safety net and the report's run).
CLASSIFY_DIRTY = "classify_dirty"
CLASSIFY_FULL = "classify_full"
__all__ += ["CLASSIFY_DIRTY", "CLASSIFY_FULL"]
