"""Poll watermarks, backfill progress and webhook subscriptions, per shop and per supplier."""

from dataclasses import dataclass
from datetime import datetime

from schema.db import Connection

__all__ = [
    "ShopSyncRecord",
    "SupplierSyncRecord",
    "WebhookSubscriptionRecord",
    "active_shop_ids",
    "advance_watermark",
    "backfill_page_done",
    "delete_webhook_subscription",
    "ensure_shop_sync_state",
    "finish_backfill",
    "get_shop_sync_state",
    "get_supplier_sync_state",
    "list_webhook_subscriptions",
    "poll_failed",
    "poll_started",
    "poll_succeeded",
    "start_backfill",
    "supplier_poll_finished",
    "supplier_webhook_registered",
    "upsert_webhook_subscription",
    "webhooks_checked",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopSyncRecord:
    shop_id: int
    orders_watermark: datetime | None
    last_poll_started_at: datetime | None
    last_poll_ok_at: datetime | None
    last_full_pass_at: datetime | None
    poll_failures: int
    last_error: str | None
    backfill_status: str
    backfill_since: datetime | None
    backfill_cursor: str | None
    backfill_orders: int
    backfill_total: int | None
    backfill_started_at: datetime | None
    backfill_finished_at: datetime | None
    webhooks_checked_at: datetime | None


_SHOP_SYNC_COLUMNS = (
    "shop_id, orders_watermark, last_poll_started_at, last_poll_ok_at, last_full_pass_at, "
    "poll_failures, last_error, backfill_status, backfill_since, backfill_cursor, "
    "backfill_orders, backfill_total, backfill_started_at, backfill_finished_at, "
    "webhooks_checked_at"
)


async def active_shop_ids(connection: Connection) -> list[int]:
    """Shops work runs for: connected and holding a token. needs_attention shops are still
    tried, so a token that starts working again (a reinstall, a fixed scope) is noticed."""
    rows = await connection.fetch(
        """
        SELECT shop_id FROM shop
        WHERE status IN ('active', 'needs_attention') AND access_token_enc IS NOT NULL
        ORDER BY shop_id
        """
    )
    return [row["shop_id"] for row in rows]


async def ensure_shop_sync_state(connection: Connection, shop_id: int) -> None:
    await connection.execute(
        "INSERT INTO shop_sync_state (shop_id) VALUES ($1) ON CONFLICT (shop_id) DO NOTHING",
        shop_id,
    )


async def get_shop_sync_state(connection: Connection, shop_id: int) -> ShopSyncRecord | None:
    row = await connection.fetchrow(
        f"SELECT {_SHOP_SYNC_COLUMNS} FROM shop_sync_state WHERE shop_id = $1", shop_id
    )
    return None if row is None else ShopSyncRecord(**dict(row))


async def start_backfill(connection: Connection, *, shop_id: int, since: datetime) -> None:
    """Queue a backfill from `since`; progress restarts from zero."""
    await ensure_shop_sync_state(connection, shop_id)
    await connection.execute(
        """
        UPDATE shop_sync_state SET backfill_status = 'pending', backfill_since = $2,
            backfill_cursor = NULL, backfill_orders = 0, backfill_total = NULL,
            backfill_started_at = NULL, backfill_finished_at = NULL, updated_at = now()
        WHERE shop_id = $1
        """,
        shop_id,
        since,
    )


async def backfill_page_done(
    connection: Connection,
    *,
    shop_id: int,
    cursor: str | None,
    orders: int,
    total: int | None,
    started_at: datetime,
) -> None:
    """Record one committed page: the cursor to resume from and the running count."""
    await connection.execute(
        """
        UPDATE shop_sync_state SET backfill_status = 'running', backfill_cursor = $2,
            backfill_orders = backfill_orders + $3,
            backfill_total = COALESCE($4, backfill_total),
            backfill_started_at = COALESCE(backfill_started_at, $5), updated_at = now()
        WHERE shop_id = $1
        """,
        shop_id,
        cursor,
        orders,
        total,
        started_at,
    )


async def finish_backfill(
    connection: Connection, *, shop_id: int, status: str, at: datetime, error: str | None = None
) -> None:
    await connection.execute(
        """
        UPDATE shop_sync_state SET backfill_status = $2, backfill_finished_at = $3,
            backfill_cursor = CASE WHEN $2 = 'done' THEN NULL ELSE backfill_cursor END,
            last_error = COALESCE($4, last_error), updated_at = now()
        WHERE shop_id = $1
        """,
        shop_id,
        status,
        at,
        error,
    )


async def poll_started(connection: Connection, *, shop_id: int, at: datetime) -> None:
    await ensure_shop_sync_state(connection, shop_id)
    await connection.execute(
        "UPDATE shop_sync_state SET last_poll_started_at = $2, updated_at = now()"
        " WHERE shop_id = $1",
        shop_id,
        at,
    )


async def advance_watermark(connection: Connection, *, shop_id: int, watermark: datetime) -> None:
    """Move the watermark forward only; call it in the transaction that stored the page."""
    await connection.execute(
        """
        UPDATE shop_sync_state
        SET orders_watermark = GREATEST(COALESCE(orders_watermark, $2), $2), updated_at = now()
        WHERE shop_id = $1
        """,
        shop_id,
        watermark,
    )


async def poll_succeeded(
    connection: Connection, *, shop_id: int, at: datetime, full_pass: bool
) -> None:
    await connection.execute(
        """
        UPDATE shop_sync_state SET last_poll_ok_at = $2, poll_failures = 0, last_error = NULL,
            last_full_pass_at = CASE WHEN $3 THEN $2 ELSE last_full_pass_at END,
            updated_at = now()
        WHERE shop_id = $1
        """,
        shop_id,
        at,
        full_pass,
    )


async def poll_failed(connection: Connection, *, shop_id: int, error: str) -> None:
    await connection.execute(
        """
        UPDATE shop_sync_state SET poll_failures = poll_failures + 1, last_error = $2,
            updated_at = now()
        WHERE shop_id = $1
        """,
        shop_id,
        error[:500],
    )


async def webhooks_checked(connection: Connection, *, shop_id: int, at: datetime) -> None:
    await ensure_shop_sync_state(connection, shop_id)
    await connection.execute(
        "UPDATE shop_sync_state SET webhooks_checked_at = $2 WHERE shop_id = $1", shop_id, at
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSubscriptionRecord:
    shop_id: int
    topic: str
    subscription_gid: str
    uri: str
    created_at: datetime
    verified_at: datetime | None


async def upsert_webhook_subscription(
    connection: Connection,
    *,
    shop_id: int,
    topic: str,
    subscription_gid: str,
    uri: str,
    at: datetime,
) -> None:
    await connection.execute(
        """
        INSERT INTO webhook_subscription (shop_id, topic, subscription_gid, uri, verified_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (shop_id, topic) DO UPDATE SET
            subscription_gid = EXCLUDED.subscription_gid, uri = EXCLUDED.uri,
            verified_at = EXCLUDED.verified_at
        """,
        shop_id,
        topic,
        subscription_gid,
        uri,
        at,
    )


async def delete_webhook_subscription(connection: Connection, *, shop_id: int, topic: str) -> None:
    await connection.execute(
        "DELETE FROM webhook_subscription WHERE shop_id = $1 AND topic = $2", shop_id, topic
    )


async def list_webhook_subscriptions(
    connection: Connection, shop_id: int
) -> list[WebhookSubscriptionRecord]:
    rows = await connection.fetch(
        """
        SELECT shop_id, topic, subscription_gid, uri, created_at, verified_at
        FROM webhook_subscription WHERE shop_id = $1 ORDER BY topic
        """,
        shop_id,
    )
    return [WebhookSubscriptionRecord(**dict(row)) for row in rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierSyncRecord:
    account_id: int
    last_poll_started_at: datetime | None
    last_poll_ok_at: datetime | None
    last_full_pass_at: datetime | None
    poll_failures: int
    last_error: str | None
    orders_polled: int
    webhook_registered_at: datetime | None


async def get_supplier_sync_state(
    connection: Connection, account_id: int
) -> SupplierSyncRecord | None:
    row = await connection.fetchrow(
        """
        SELECT account_id, last_poll_started_at, last_poll_ok_at, last_full_pass_at,
               poll_failures, last_error, orders_polled, webhook_registered_at
        FROM supplier_sync_state WHERE account_id = $1
        """,
        account_id,
    )
    return None if row is None else SupplierSyncRecord(**dict(row))


async def supplier_poll_finished(
    connection: Connection,
    *,
    account_id: int,
    started_at: datetime,
    polled: int,
    error: str | None,
    full_pass: bool,
) -> None:
    await connection.execute(
        """
        INSERT INTO supplier_sync_state (account_id) VALUES ($1)
        ON CONFLICT (account_id) DO NOTHING
        """,
        account_id,
    )
    await connection.execute(
        """
        UPDATE supplier_sync_state SET
            last_poll_started_at = $2,
            last_poll_ok_at = CASE WHEN $4::text IS NULL THEN $2 ELSE last_poll_ok_at END,
            last_full_pass_at = CASE WHEN $4::text IS NULL AND $5 THEN $2
                                     ELSE last_full_pass_at END,
            poll_failures = CASE WHEN $4::text IS NULL THEN 0 ELSE poll_failures + 1 END,
            last_error = $4, orders_polled = orders_polled + $3, updated_at = now()
        WHERE account_id = $1
        """,
        account_id,
        started_at,
        polled,
        error,
        full_pass,
    )


async def supplier_webhook_registered(
    connection: Connection, *, account_id: int, at: datetime
) -> None:
    await connection.execute(
        """
        INSERT INTO supplier_sync_state (account_id, webhook_registered_at) VALUES ($1, $2)
        ON CONFLICT (account_id) DO UPDATE
        SET webhook_registered_at = EXCLUDED.webhook_registered_at
        """,
        account_id,
        at,
    )
