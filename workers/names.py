"""Job names: explicit constants, so renaming a function never orphans queued jobs.

The HTTP edge imports this module (and `workers.trigger`) only, never job code.
"""

__all__ = ["PURGE_PAYLOADS", "PUSH_SHOP", "PUSH_SWEEP", "REFRESH_ORDERS"]

PURGE_PAYLOADS = "purge_payloads"

# push_shop(shop_id): push every unsynced package of the shop. Trigger it after applying a
# supplier shipment; no unique_id is needed (a second run for a busy shop re-queues itself).
PUSH_SHOP = "push_shop"
# refresh_orders(shop_id): re-read orders marked needs_refresh (fulfillment_orders/* webhooks).
REFRESH_ORDERS = "refresh_orders"
# Cron: re-trigger shops with unsynced packages, due ledger rows or orders to re-read.
PUSH_SWEEP = "push_sweep"
