"""Seed both sides of orders with direct SQL, for the report's tests and `bench/report`.

The row-by-row helpers build the exact stores a test needs; `seed_bulk` builds a large store
with a fixed shape set-based (INSERT ... SELECT generate_series), for the benchmark.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.tracking import normalize_supplier_id, normalize_tracking_number
from schema.db import Connection

__all__ = [
    "EXPECTED",
    "NOW",
    "BulkShape",
    "seed_account",
    "seed_bulk",
    "seed_fulfillment",
    "seed_fulfillment_order",
    "seed_line_item",
    "seed_order",
    "seed_package",
    "seed_planted_store",
    "seed_push",
    "seed_shop",
    "seed_supplier_order",
]

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
_DAY = timedelta(days=1)


async def seed_shop(
    connection: Connection,
    *,
    domain: str,
    timezone: str = "UTC",
    status: str = "active",
    attention_reason: str | None = None,
    settings: dict[str, Any] | None = None,
) -> int:
    app_id: int = await connection.fetchval(
        """
        INSERT INTO app (name, kind) VALUES ($1, 'legacy')
        ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind RETURNING app_id
        """,
        domain,
    )
    shop_id: int = await connection.fetchval(
        """
        INSERT INTO shop (domain, app_id, timezone, status, attention_reason, settings)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING shop_id
        """,
        domain,
        app_id,
        timezone,
        status,
        attention_reason,
        settings or {},
    )
    return shop_id


async def seed_account(connection: Connection, *, name: str, kind: str = "cj") -> int:
    account_id: int = await connection.fetchval(
        "INSERT INTO supplier_account (kind, name) VALUES ($1, $2) RETURNING account_id",
        kind,
        name,
    )
    return account_id


async def seed_order(
    connection: Connection,
    *,
    shop_id: int,
    order_id: int,
    name: str | None = None,
    financial_status: str = "paid",
    fulfillment_status: str | None = None,
    created_at: datetime = NOW - timedelta(days=2),
    cancelled_at: datetime | None = None,
    closed_at: datetime | None = None,
    test: bool = False,
) -> None:
    await connection.execute(
        """
        INSERT INTO shopify_order (shop_id, order_id, name, financial_status, fulfillment_status,
                                   cancelled_at, closed_at, test, created_at, updated_at,
                                   stored_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)
        """,
        shop_id,
        order_id,
        name or f"#{order_id}",
        financial_status,
        fulfillment_status,
        cancelled_at,
        closed_at,
        test,
        created_at,
    )


async def seed_line_item(
    connection: Connection,
    *,
    shop_id: int,
    order_id: int,
    line_item_id: int,
    quantity: int = 1,
    sku: str | None = None,
) -> None:
    await connection.execute(
        """
        INSERT INTO shopify_line_item (shop_id, line_item_id, order_id, sku, quantity,
                                       fulfillable_quantity)
        VALUES ($1, $2, $3, $4, $5, $5)
        """,
        shop_id,
        line_item_id,
        order_id,
        sku,
        quantity,
    )


async def seed_fulfillment_order(
    connection: Connection,
    *,
    shop_id: int,
    order_id: int,
    fulfillment_order_id: int,
    status: str = "open",
    holds: Sequence[dict[str, Any]] = (),
    updated_at: datetime | None = None,
) -> None:
    await connection.execute(
        """
        INSERT INTO shopify_fulfillment_order (shop_id, fulfillment_order_id, order_id, status,
                                               holds, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        shop_id,
        fulfillment_order_id,
        order_id,
        status,
        list(holds),
        updated_at,
    )


async def seed_fulfillment(
    connection: Connection,
    *,
    shop_id: int,
    order_id: int,
    fulfillment_id: int,
    tracking: Sequence[str] = (),
    company: str | None = "YunExpress",
    status: str = "success",
    created_at: datetime = NOW - timedelta(days=1),
    lines: Sequence[tuple[int, int]] = (),
) -> None:
    await connection.execute(
        """
        INSERT INTO shopify_fulfillment (shop_id, fulfillment_id, order_id, status,
                                         tracking_company, tracking_numbers,
                                         tracking_numbers_norm, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
        """,
        shop_id,
        fulfillment_id,
        order_id,
        status,
        company,
        list(tracking),
        [normalize_tracking_number(number) for number in tracking],
        created_at,
    )
    for line_item_id, quantity in lines:
        await connection.execute(
            """
            INSERT INTO shopify_fulfillment_line (shop_id, fulfillment_id, line_item_id,
                                                  order_id, quantity)
            VALUES ($1, $2, $3, $4, $5)
            """,
            shop_id,
            fulfillment_id,
            line_item_id,
            order_id,
            quantity,
        )


async def seed_supplier_order(
    connection: Connection,
    *,
    shop_id: int,
    account_id: int,
    external_id: str,
    shopify_order_id: int | None,
    status: str = "placed",
    placed_at: datetime = NOW - timedelta(days=2),
    updated_at: datetime = NOW - timedelta(days=1),
    stored_at: datetime = NOW - timedelta(days=2),
) -> int:
    supplier_order_id: int = await connection.fetchval(
        """
        INSERT INTO supplier_order (shop_id, account_id, external_id, external_id_norm,
                                    reference, shopify_order_id, status, placed_at, updated_at,
                                    stored_at)
        VALUES ($1, $2, $3, $4, $3, $5, $6, $7, $8, $9) RETURNING supplier_order_id
        """,
        shop_id,
        account_id,
        external_id,
        normalize_supplier_id(external_id),
        shopify_order_id,
        status,
        placed_at,
        updated_at,
        stored_at,
    )
    return supplier_order_id


async def seed_package(
    connection: Connection,
    *,
    shop_id: int,
    supplier_order_id: int,
    tracking: str,
    carrier: str | None = "YunExpress",
    shipped_at: datetime = NOW - timedelta(days=1, hours=2),
    last_event_at: datetime | None = None,
    tracking_status: str | None = None,
    superseded_at: datetime | None = None,
) -> int:
    package_id: int = await connection.fetchval(
        """
        INSERT INTO package (shop_id, supplier_order_id, tracking_number, tracking_number_norm,
                             carrier, shipped_at, last_event_at, tracking_status, superseded_at,
                             stored_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $6) RETURNING package_id
        """,
        shop_id,
        supplier_order_id,
        tracking,
        normalize_tracking_number(tracking),
        carrier,
        shipped_at,
        last_event_at or shipped_at,
        tracking_status,
        superseded_at,
    )
    return package_id


async def seed_push(
    connection: Connection,
    *,
    shop_id: int,
    order_id: int,
    status: str = "failed",
    last_error: str | None = None,
    package_ids: Sequence[int] = (),
    updated_at: datetime = NOW - timedelta(hours=20),
    completed_at: datetime | None = None,
) -> int:
    push_id: int = await connection.fetchval(
        """
        INSERT INTO push (shop_id, order_id, package_ids, idempotency_key, kind, status,
                          attempts, last_error, created_at, updated_at, completed_at)
        VALUES ($1, $2, $3, $4, 'create', $5, 3, $6, $7, $7, $8) RETURNING push_id
        """,
        shop_id,
        order_id,
        list(package_ids),
        f"seed-{shop_id}-{order_id}-{status}-{updated_at.timestamp()}",
        status,
        last_error,
        updated_at,
        completed_at,
    )
    return push_id


async def seed_planted_store(connection: Connection) -> tuple[int, int]:
    """One shop with an order planted for every order-level class (and an orphan supplier
    order); returns (shop_id, orphan supplier_order_id). `EXPECTED` lists what to find."""
    shop = await seed_shop(connection, domain="planted.myshopify.com")
    account = await seed_account(connection, name="cj-main")

    async def shipped_order(
        order_id: int, *, pushed: bool, carrier: str = "YunExpress", company: str = "YunExpress"
    ) -> int:
        await seed_order(connection, shop_id=shop, order_id=order_id)
        await seed_fulfillment_order(
            connection,
            shop_id=shop,
            order_id=order_id,
            fulfillment_order_id=order_id * 10,
            status="closed" if pushed else "open",
        )
        so = await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id=f"SO{order_id}",
            shopify_order_id=order_id,
            status="shipped",
        )
        await seed_package(
            connection,
            shop_id=shop,
            supplier_order_id=so,
            tracking=f"YT{order_id}",
            carrier=carrier,
            tracking_status="delivered",
        )
        if pushed:
            await seed_fulfillment(
                connection,
                shop_id=shop,
                order_id=order_id,
                fulfillment_id=order_id * 10,
                tracking=[f"YT{order_id}"],
                company=company,
            )
        return so

    # 1: in sync, no row
    await shipped_order(1, pushed=True)
    # 2: shipped, never pushed
    await shipped_order(2, pushed=False)
    # 3: Shopify carries another number
    await shipped_order(3, pushed=False)
    await seed_fulfillment(
        connection, shop_id=shop, order_id=3, fulfillment_id=31, tracking=["WRONG3"]
    )
    # 4: two packages, one pushed
    so4 = await shipped_order(4, pushed=True)
    await seed_package(connection, shop_id=shop, supplier_order_id=so4, tracking="YT4B")
    # 5: fulfilled in Shopify, nothing at the supplier
    await seed_order(connection, shop_id=shop, order_id=5, fulfillment_status="fulfilled")
    await seed_fulfillment(connection, shop_id=shop, order_id=5, fulfillment_id=50, tracking=["X5"])
    # 6: paid two days ago, never placed
    await seed_order(connection, shop_id=shop, order_id=6)
    await seed_fulfillment_order(connection, shop_id=shop, order_id=6, fulfillment_order_id=60)
    # 7: supplier cancelled, Shopify open
    await seed_order(connection, shop_id=shop, order_id=7)
    await seed_fulfillment_order(connection, shop_id=shop, order_id=7, fulfillment_order_id=70)
    await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO7",
        shopify_order_id=7,
        status="cancelled",
    )
    # 8: cancelled in Shopify, still placed at the supplier
    await seed_order(connection, shop_id=shop, order_id=8, cancelled_at=NOW - _DAY)
    await seed_supplier_order(
        connection, shop_id=shop, account_id=account, external_id="SO8", shopify_order_id=8
    )
    # 9: the same tracking number on two fulfilments
    await shipped_order(9, pushed=True)
    await seed_fulfillment(
        connection, shop_id=shop, order_id=9, fulfillment_id=91, tracking=["YT9"]
    )
    # 10: carrier not on Shopify's list, same on both sides
    await shipped_order(10, pushed=True, carrier="Speedy Local", company="Speedy Local")
    # 11: push parked as failed
    await shipped_order(11, pushed=False)
    await seed_push(
        connection, shop_id=shop, order_id=11, last_error="Fulfillment order is on hold"
    )
    # 12: held in Shopify while the supplier shipped
    await seed_order(connection, shop_id=shop, order_id=12)
    await seed_fulfillment_order(
        connection,
        shop_id=shop,
        order_id=12,
        fulfillment_order_id=120,
        status="ON_HOLD",
        holds=[{"reason": "HIGH_RISK_OF_FRAUD"}],
        updated_at=NOW - _DAY,
    )
    so12 = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO12",
        shopify_order_id=12,
        status="shipped",
    )
    await seed_package(connection, shop_id=shop, supplier_order_id=so12, tracking="YT12")
    # 13: unpaid, but already placed with the supplier
    await seed_order(connection, shop_id=shop, order_id=13, financial_status="pending")
    await seed_supplier_order(
        connection, shop_id=shop, account_id=account, external_id="SO13", shopify_order_id=13
    )
    # 14: archived while unfulfilled
    await seed_order(connection, shop_id=shop, order_id=14, closed_at=NOW - _DAY)
    await seed_fulfillment_order(connection, shop_id=shop, order_id=14, fulfillment_order_id=140)
    await seed_supplier_order(
        connection, shop_id=shop, account_id=account, external_id="SO14", shopify_order_id=14
    )
    # a supplier order nobody claims
    orphan = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO-ORPHAN",
        shopify_order_id=None,
        stored_at=NOW - _DAY,
    )
    # 15: in transit, no scan for ten days
    await seed_order(connection, shop_id=shop, order_id=15, created_at=NOW - 12 * _DAY)
    so15 = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO15",
        shopify_order_id=15,
        status="shipped",
    )
    await seed_package(
        connection,
        shop_id=shop,
        supplier_order_id=so15,
        tracking="YT15",
        shipped_at=NOW - 11 * _DAY,
        last_event_at=NOW - 10 * _DAY,
        tracking_status="in_transit",
    )
    await seed_fulfillment(
        connection, shop_id=shop, order_id=15, fulfillment_id=150, tracking=["YT15"]
    )
    # 16: shipped an hour ago in a carrier spelling that resolves to the Shopify company
    await seed_order(connection, shop_id=shop, order_id=16)
    so16 = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO16",
        shopify_order_id=16,
        status="shipped",
    )
    await seed_package(
        connection,
        shop_id=shop,
        supplier_order_id=so16,
        tracking="YT16",
        carrier="Yun Express Line",
        tracking_status="delivered",
    )
    await seed_fulfillment(
        connection, shop_id=shop, order_id=16, fulfillment_id=160, tracking=["yt-16"]
    )
    # 17: shipped twenty minutes ago: pending, inside the sync grace
    await seed_order(connection, shop_id=shop, order_id=17)
    so17 = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO17",
        shopify_order_id=17,
        status="shipped",
    )
    await seed_package(
        connection,
        shop_id=shop,
        supplier_order_id=so17,
        tracking="YT17",
        shipped_at=NOW - timedelta(minutes=20),
        tracking_status="delivered",
    )
    # 18: a test order is never classified
    await seed_order(connection, shop_id=shop, order_id=18, test=True)
    return shop, orphan


EXPECTED = {
    (2, "shipped_not_synced"),
    (3, "tracking_mismatch"),
    (4, "partially_synced"),
    (5, "fulfilled_without_supplier_shipment"),
    (6, "paid_not_placed"),
    (7, "cancelled_at_supplier_open_in_shopify"),
    (8, "cancelled_in_shopify_active_at_supplier"),
    (9, "duplicate_fulfilment"),
    (10, "carrier_not_recognised"),
    (11, "push_failed"),
    (12, "held_in_shopify"),
    (13, "payment_pending"),
    (14, "archived_unfulfilled"),
    (15, "tracking_stalled"),
    (17, "shipped_not_synced"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkShape:
    """The benchmark's fixed shape; ids are derived from the order number `g`, so rows are cheap.

    Per order: 2 line items on average (1 or 3), 1.2 fulfillment orders (every fifth order has
    two), 1.3 packages (three in ten orders ship in two parcels); every `break_every`-th order
    is broken, cycling through twelve planted break kinds.
    """

    orders: int
    shops: int = 10
    break_every: int = 20
    now: datetime = NOW
    first_order_id: int = 5_000_000_000_000
    carriers: tuple[str, ...] = field(default=("YunExpress", "4PX", "China Post", "USPS"))


_BULK_SQL = """
-- g: order number (1..n); k: which planted break (0 = none); shops round-robin
CREATE TEMP TABLE bulk_orders ON COMMIT DROP AS
SELECT g,
       $2::bigint + g AS order_id,
       shop_ids[1 + (g % 7919) % cardinality(shop_ids)] AS shop_id,
       account_ids[1 + (g % cardinality(account_ids))] AS account_id,
       CASE WHEN g % $3 = 0 THEN 1 + (g / $3) % 12 ELSE 0 END AS k,
       $4::timestamptz - make_interval(mins => (g % 43200)::int) - interval '1 day' AS created_at,
       1 + 2 * (g % 2) AS n_lines,
       CASE WHEN g % 5 = 0 THEN 2 ELSE 1 END AS n_fos,
       CASE WHEN g % 10 < 3 THEN 2 ELSE 1 END AS n_pkgs
FROM generate_series(1, $1::bigint) AS g,
     (SELECT $5::bigint[] AS shop_ids, $6::bigint[] AS account_ids) ids;

INSERT INTO shopify_order (shop_id, order_id, name, financial_status, fulfillment_status,
                           cancelled_at, closed_at, created_at, updated_at, stored_at)
SELECT shop_id, order_id, '#' || g,
       CASE WHEN k = 9 THEN 'pending' ELSE 'paid' END,
       CASE WHEN k IN (0, 3, 6, 7, 11) THEN 'fulfilled' ELSE NULL END,
       CASE WHEN k = 5 THEN created_at + interval '1 hour' END,
       CASE WHEN k = 10 THEN created_at + interval '2 hours' END,
       created_at, created_at, created_at
FROM bulk_orders;

INSERT INTO shopify_line_item (shop_id, line_item_id, order_id, sku, quantity,
                               fulfillable_quantity)
SELECT shop_id, order_id * 10 + l, order_id, 'SKU-' || l, 1, 0
FROM bulk_orders, generate_series(1, n_lines) AS l;

-- k: 1 shipped_not_synced, 2 tracking_mismatch, 3 fulfilled_without_supplier_shipment,
-- 4 paid_not_placed, 5 cancelled_in_shopify_active_at_supplier, 6 duplicate_fulfilment,
-- 7 carrier_not_recognised, 8 push_failed, 9 payment_pending, 10 archived_unfulfilled,
-- 11 tracking_stalled, 12 held_in_shopify
INSERT INTO shopify_fulfillment_order (shop_id, fulfillment_order_id, order_id, status, holds,
                                       updated_at)
SELECT shop_id, order_id * 10 + f, order_id,
       CASE WHEN k IN (0, 2, 3, 6, 7, 11) THEN 'closed'
            WHEN k = 12 THEN 'on_hold' ELSE 'open' END,
       CASE WHEN k = 12 THEN '[{"reason": "HIGH_RISK_OF_FRAUD"}]'::jsonb ELSE '[]'::jsonb END,
       created_at
FROM bulk_orders, generate_series(1, n_fos) AS f;

INSERT INTO supplier_order (shop_id, supplier_order_id, account_id, external_id,
                            external_id_norm, reference, shopify_order_id, status, placed_at,
                            updated_at, stored_at)
OVERRIDING SYSTEM VALUE
SELECT shop_id, order_id, account_id, 'SO' || g, 'SO' || g, '#' || g, order_id,
       CASE WHEN k IN (9, 10, 12) THEN 'placed' ELSE 'shipped' END,
       created_at + interval '1 hour', created_at + interval '5 hours',
       created_at + interval '1 hour'
FROM bulk_orders WHERE k NOT IN (3, 4);

INSERT INTO package (shop_id, package_id, supplier_order_id, tracking_number,
                     tracking_number_norm, carrier, shipped_at, last_event_at, tracking_status,
                     stored_at)
OVERRIDING SYSTEM VALUE
SELECT shop_id, order_id * 10 + p, order_id, 'TRK' || g || 'P' || p, 'TRK' || g || 'P' || p,
       CASE WHEN k = 7 THEN 'Some Local Courier'
            ELSE ($7::text[])[1 + (g % cardinality($7::text[]))] END,
       created_at + interval '6 hours',
       CASE WHEN k = 11 THEN $4::timestamptz - interval '10 days'
            ELSE $4::timestamptz - interval '2 hours' END,
       CASE WHEN k = 11 THEN 'in_transit' ELSE 'delivered' END,
       created_at + interval '6 hours'
FROM bulk_orders, generate_series(1, n_pkgs) AS p
WHERE k NOT IN (3, 4, 9, 10, 12);

INSERT INTO shopify_fulfillment (shop_id, fulfillment_id, order_id, status, tracking_company,
                                 tracking_numbers, tracking_numbers_norm, created_at,
                                 updated_at)
SELECT b.shop_id, b.order_id * 10 + q, b.order_id, 'success',
       CASE WHEN b.k = 7 THEN 'Some Local Courier'
            ELSE ($7::text[])[1 + (b.g % cardinality($7::text[]))] END,
       ARRAY[CASE WHEN b.k = 2 THEN 'OTHER' || b.g || 'P' || p ELSE 'TRK' || b.g || 'P' || p END],
       ARRAY[CASE WHEN b.k = 2 THEN 'OTHER' || b.g || 'P' || p ELSE 'TRK' || b.g || 'P' || p END],
       b.created_at + interval '7 hours', b.created_at + interval '7 hours'
FROM bulk_orders b, generate_series(1, b.n_pkgs + CASE WHEN b.k = 6 THEN 1 ELSE 0 END) AS q,
     LATERAL (SELECT least(q, b.n_pkgs) AS p) pp
WHERE b.k IN (0, 2, 3, 6, 7, 11);

INSERT INTO shopify_fulfillment_line (shop_id, fulfillment_id, line_item_id, order_id, quantity)
SELECT f.shop_id, f.fulfillment_id, f.order_id * 10 + 1, f.order_id, 1
FROM shopify_fulfillment f JOIN bulk_orders b ON b.shop_id = f.shop_id AND b.order_id = f.order_id
WHERE f.fulfillment_id = f.order_id * 10 + 1;

INSERT INTO push (shop_id, order_id, package_ids, idempotency_key, kind, status, attempts,
                  last_error, created_at, updated_at, completed_at)
SELECT shop_id, order_id, ARRAY[order_id * 10 + 1], 'bulk-' || order_id, 'create',
       CASE WHEN k = 8 THEN 'failed' ELSE 'succeeded' END, 1,
       CASE WHEN k = 8 THEN 'Tracking number is invalid' END,
       created_at + interval '6 hours', created_at + interval '7 hours',
       created_at + interval '7 hours'
FROM bulk_orders WHERE k IN (0, 6, 7, 8, 11);
"""


async def seed_bulk(
    connection: Connection,
    *,
    shape: BulkShape,
    shop_ids: Sequence[int],
    account_ids: Sequence[int],
) -> None:
    """Seed `shape.orders` orders across the given shops and accounts, triggers off.

    The classify_dirty triggers are switched off for the load (it is not a change stream),
    so the store starts clean; the caller runs a full pass.
    """
    async with connection.transaction():
        await connection.execute("SET LOCAL session_replication_role = replica")
        statements = [part.strip() for part in _BULK_SQL.split(";\n") if part.strip()]
        args: dict[int, Any] = {
            1: shape.orders,
            2: shape.first_order_id,
            3: shape.break_every,
            4: shape.now,
            5: list(shop_ids),
            6: list(account_ids),
            7: list(shape.carriers),
        }
        for statement in statements:
            used = sorted({int(n) for n in _placeholders(statement)})
            renumbered = statement
            for position, number in enumerate(used, start=1):
                renumbered = renumbered.replace(f"${number}", f"$__{position}")
            renumbered = renumbered.replace("$__", "$")
            await connection.execute(renumbered, *(args[number] for number in used))


def _placeholders(statement: str) -> list[str]:
    import re  # noqa: PLC0415  (only the bulk loader needs it)

    return re.findall(r"\$(\d+)", statement)
