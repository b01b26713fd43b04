"""Polling supplier orders: which ones are due, and storing what the supplier's API said.

A supplier order is due when it is placed without any package yet and its backoff has passed,
or when a push hint (AliExpress) marked it `needs_refresh`. A read that finds no tracking backs
the order off exponentially (`poll_failures` counts those reads); a read that finds parcels
stores them as packages through ingest's `upsert_packages`, idempotently on (supplier order,
normalised tracking number).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.supplier_model import ShippedPackage
from schema.db import Connection
from schema.queries.supplier_state import upsert_packages

__all__ = [
    "DueSupplierOrder",
    "due_supplier_orders",
    "insert_polled_messages",
    "store_supplier_api_credentials",
    "store_supplier_poll",
    "supplier_account_secrets",
    "supplier_orders_moved_since",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class DueSupplierOrder:
    shop_id: int
    supplier_order_id: int
    external_id: str
    shopify_order_id: int | None
    poll_failures: int
    needs_refresh: bool


async def due_supplier_orders(
    connection: Connection,
    *,
    account_id: int,
    now: datetime,
    limit: int,
    ignore_backoff: bool = False,
) -> list[DueSupplierOrder]:
    """Hinted orders first, then placed orders without a package whose backoff has passed
    (every placed order without a package when `ignore_backoff`: the nightly full pass)."""
    rows = await connection.fetch(
        """
        SELECT so.shop_id, so.supplier_order_id, so.external_id, so.shopify_order_id,
               so.poll_failures, so.needs_refresh
        FROM supplier_order so
        WHERE so.account_id = $1
          AND (so.needs_refresh
               OR (so.status = 'placed'
                   AND ($4 OR COALESCE(so.next_poll_at, '-infinity') <= $2)
                   AND NOT EXISTS (
                       SELECT 1 FROM package p
                       WHERE p.shop_id = so.shop_id
                         AND p.supplier_order_id = so.supplier_order_id)))
        ORDER BY so.needs_refresh DESC, so.next_poll_at NULLS FIRST, so.supplier_order_id
        LIMIT $3
        """,
        account_id,
        now,
        limit,
        ignore_backoff,
    )
    return [DueSupplierOrder(**dict(row)) for row in rows]


async def store_supplier_poll(
    connection: Connection,
    *,
    order: DueSupplierOrder,
    cancelled: bool,
    packages: Sequence[ShippedPackage],
    now: datetime,
    base_backoff: timedelta,
    max_backoff: timedelta,
    one_package_per_order: bool = False,
) -> list[int]:
    """Store one read of a supplier order; returns the ids of packages it created.

    `one_package_per_order` (CJ) makes a newly read tracking number a relabel of the current
    package, as it is for CJ's webhooks. A read lists every parcel of the order, so a single
    new number in place of a single current one it no longer lists is a relabel too. The
    caller owns the transaction.
    """
    # The supplier order first, then its packages: the order every writer takes (a supplier
    # message upserts the order, then its packages; a package insert locks its order, see
    # migration 0009). Locking the packages first would deadlock with a message for this order.
    await connection.execute(
        "SELECT 1 FROM supplier_order WHERE shop_id = $1 AND supplier_order_id = $2"
        " FOR NO KEY UPDATE",
        order.shop_id,
        order.supplier_order_id,
    )
    existing = {
        row["package_id"]
        for row in await connection.fetch(
            "SELECT package_id FROM package WHERE shop_id = $1 AND supplier_order_id = $2",
            order.shop_id,
            order.supplier_order_id,
        )
    }
    stored = await upsert_packages(
        connection,
        shop_id=order.shop_id,
        supplier_order_id=order.supplier_order_id,
        packages=packages,
        shipped_at=None,
        one_package_per_order=one_package_per_order,
        complete=True,
        message_at=now,
    )
    created = [package_id for package_id in stored if package_id not in existing]
    waiting = not packages and not cancelled
    failures = order.poll_failures + 1 if waiting else 0
    backoff = min(max_backoff, base_backoff * (2 ** min(failures, 20))) if waiting else None
    await connection.execute(
        """
        UPDATE supplier_order SET
            status = CASE WHEN $3::boolean THEN 'cancelled'
                          WHEN $4::boolean AND status = 'placed' THEN 'shipped'
                          ELSE status END,
            needs_refresh = false,
            poll_failures = $5,
            next_poll_at = CASE WHEN $6::interval IS NULL THEN NULL
                                ELSE $7::timestamptz + $6::interval END,
            updated_at = $7::timestamptz
        WHERE shop_id = $1 AND supplier_order_id = $2
        """,
        order.shop_id,
        order.supplier_order_id,
        cancelled,
        bool(packages),
        failures,
        backoff,
        now,
    )
    if created:
        await connection.execute(
            """
            INSERT INTO order_event (shop_id, order_id, supplier_order_id, kind, actor, detail)
            VALUES ($1, $2, $3, 'poll.supplier_shipped', 'poll', $4::jsonb)
            """,
            order.shop_id,
            order.shopify_order_id,
            order.supplier_order_id,
            {"packages": [p.tracking.original for p in packages]},
        )
    return created


async def supplier_orders_moved_since(
    connection: Connection, *, account_id: int, since: datetime
) -> int:
    """How many of the account's orders changed since `since` (by any route)."""
    found: int = await connection.fetchval(
        "SELECT count(*) FROM supplier_order WHERE account_id = $1 AND updated_at > $2",
        account_id,
        since,
    )
    return found


async def supplier_account_secrets(
    connection: Connection, *, name: str
) -> tuple[int, bytes | None] | None:
    """(account id, encrypted secrets) of the account named `name`."""
    row = await connection.fetchrow(
        "SELECT account_id, secrets_enc FROM supplier_account WHERE name = $1", name
    )
    return None if row is None else (row["account_id"], row["secrets_enc"])


async def store_supplier_api_credentials(
    connection: Connection, *, account_id: int, secrets_enc: bytes, webhook_url: str | None
) -> None:
    """Keep the account's API credentials (and CJ's webhook URL, for re-registration)."""
    await connection.execute(
        """
        UPDATE supplier_account SET secrets_enc = $2,
            settings = CASE WHEN $3::text IS NULL THEN settings
                            ELSE settings || jsonb_build_object('webhook_url', $3::text) END
        WHERE account_id = $1
        """,
        account_id,
        secrets_enc,
        webhook_url,
    )


async def insert_polled_messages(
    connection: Connection, *, account_id: int, kind: str, messages: Sequence[tuple[str, bytes]]
) -> int:
    """Queue supplier messages rebuilt from a poll, (dedup key, body), for ingest to apply.

    Unlike a received webhook this leaves `last_delivery_at` alone: the watchdog reads it to
    tell whether the supplier's webhooks still arrive. Returns how many were new.
    """
    if not messages:
        return 0
    status: str = await connection.execute(
        """
        INSERT INTO supplier_delivery (account_id, dedup_key, kind, headers, body)
        SELECT $1, t.dedup_key, $2, '{"x-dropsync-source": "poll"}'::jsonb, t.body
        FROM unnest($3::text[], $4::bytea[]) AS t(dedup_key, body)
        ON CONFLICT DO NOTHING
        """,
        account_id,
        kind,
        [key for key, _ in messages],
        [body for _, body in messages],
    )
    return int(status.rsplit(maxsplit=1)[-1])
