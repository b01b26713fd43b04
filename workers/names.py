"""Job names: explicit constants, so renaming a function never orphans queued jobs.

The HTTP edge imports this module (and `workers.trigger`) only, never job code.
"""

__all__ = [
    "CONNECT_SHOP",
    "FULL_PASS_SHOPS",
    "POLL_SHOP",
    "POLL_SHOPS",
    "POLL_SUPPLIER",
    "POLL_SUPPLIERS",
    "PURGE_PAYLOADS",
    "WATCHDOG",
]

PURGE_PAYLOADS = "purge_payloads"
# Connect: register webhook subscriptions, then backfill (one shop).
CONNECT_SHOP = "connect_shop"
# Poll one shop's recently updated orders; the cron fans out to every shop.
POLL_SHOP = "poll_shop"
POLL_SHOPS = "poll_shops"
# Nightly: every shop re-reads its last 24 hours.
FULL_PASS_SHOPS = "full_pass_shops"  # noqa: S105  (a job name, not a password)
# Poll one supplier account's open orders; the cron fans out to every account.
POLL_SUPPLIER = "poll_supplier"
POLL_SUPPLIERS = "poll_suppliers"
# Re-create missing webhook subscriptions and re-register silent supplier webhooks.
WATCHDOG = "watchdog"
