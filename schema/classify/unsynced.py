"""Shipped but not synced: packages whose tracking number has not reached Shopify.

A package (supplier order, tracking number) of a supplier order linked to a stored Shopify
order is *unsynced* when all of these hold:

- it is current (not superseded by a newer tracking number for the same parcel);
- it shipped (or, without a ship time, was stored) at least the grace period ago;
- no live fulfilment of the same Shopify order carries its tracking number (compared on the
  normalised key; cancelled, error and failure fulfilments do not count);
- no succeeded or adopted push ledger row covers it (the ledger knows before the next read).

`unsynced_cte` returns the CTE body as SQL text so the report can embed it in its own query:

    WITH unsynced AS ({unsynced_cte(grace="$1", shop_id="$2")})
    SELECT ... FROM unsynced ...

Its columns: shop_id, order_id, package_id, supplier_order_id, tracking_number,
tracking_number_norm, carrier, tracking_url, lines, shipped_at, stored_at, waiting_since,
before_cutover.
`grace` is a placeholder for an interval; `shop_id` one for a bigint, or None for all shops.

Cut-over: a shop usually arrives with history, often synced by another app. A package that
shipped before the shop's `push_shipped_since` setting (set when the shop is connected; the
operator moves it earlier to opt in) is `before_cutover`: still unsynced, so the report shows
it, but never a push candidate (`BEFORE_CUTOVER_SQL` is what the push queries exclude). A shop
without the setting has no cut-over.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schema.db import Connection

__all__ = [
    "BEFORE_CUTOVER_SQL",
    "LIVE_FULFILLMENT_STATUSES_SQL",
    "UnsyncedPackage",
    "shops_with_unsynced_packages",
    "unsynced_cte",
    "unsynced_packages",
]

# The tables the query reads that `sources` may replace.
_SOURCES = ("package", "supplier_order", "shopify_order", "shopify_fulfillment", "push")

# Fulfilment statuses that do not put a tracking number in front of the customer.
LIVE_FULFILLMENT_STATUSES_SQL = "lower(f.status) NOT IN ('cancelled', 'error', 'failure')"

# True for a package `p` of shop `s` shipped before the shop's cut-over date.
BEFORE_CUTOVER_SQL = (
    "COALESCE(p.shipped_at, p.stored_at)"
    " < COALESCE((s.settings->>'push_shipped_since')::timestamptz, '-infinity')"
)


def unsynced_cte(
    *, grace: str, shop_id: str | None, sources: Mapping[str, str] | None = None
) -> str:
    """The unsynced-packages query, for `WITH unsynced AS (...)`.

    `grace` is a placeholder for an interval; `shop_id` one for a bigint, or None for every
    shop (a separate text rather than `$n IS NULL OR ...`, so Postgres plans each well).
    `sources` reads some tables from elsewhere under the same rules: the report's passes point
    it at their copies of the rows of the orders in scope (`schema.classify.report_sql`).
    """
    table = {name: name for name in _SOURCES} | dict(sources or {})
    shop_filter = "TRUE" if shop_id is None else f"p.shop_id = {shop_id}::bigint"
    return f"""
    SELECT p.shop_id, so.shopify_order_id AS order_id, p.package_id, p.supplier_order_id,
           p.tracking_number, p.tracking_number_norm, p.carrier, p.tracking_url, p.lines,
           p.shipped_at, p.stored_at, COALESCE(p.shipped_at, p.stored_at) AS waiting_since,
           {BEFORE_CUTOVER_SQL} AS before_cutover
    FROM {table["package"]} p
    JOIN shop s ON s.shop_id = p.shop_id
    JOIN {table["supplier_order"]} so
      ON so.shop_id = p.shop_id AND so.supplier_order_id = p.supplier_order_id
    JOIN {table["shopify_order"]} o
      ON o.shop_id = so.shop_id AND o.order_id = so.shopify_order_id
    WHERE {shop_filter}
      AND p.superseded_at IS NULL
      AND COALESCE(p.shipped_at, p.stored_at) <= now() - {grace}::interval
      AND NOT EXISTS (
          SELECT 1 FROM {table["shopify_fulfillment"]} f
          WHERE f.shop_id = p.shop_id AND f.order_id = so.shopify_order_id
            AND {LIVE_FULFILLMENT_STATUSES_SQL}
            AND p.tracking_number_norm = ANY (f.tracking_numbers_norm)
      )
      AND NOT EXISTS (
          SELECT 1 FROM {table["push"]} l
          WHERE l.shop_id = p.shop_id AND l.order_id = so.shopify_order_id
            AND l.status IN ('succeeded', 'adopted')
            AND p.package_id = ANY (l.package_ids)
      )
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsyncedPackage:
    shop_id: int
    order_id: int
    package_id: int
    supplier_order_id: int
    tracking_number: str
    tracking_number_norm: str
    carrier: str | None
    tracking_url: str | None
    lines: list[dict[str, Any]]
    shipped_at: datetime | None
    waiting_since: datetime
    before_cutover: bool


async def unsynced_packages(
    connection: Connection,
    *,
    grace: timedelta,
    shop_id: int | None = None,
    order_ids: list[int] | None = None,
) -> list[UnsyncedPackage]:
    """Unsynced packages (of one shop, or all), ordered by shop, order and package."""
    shop_param = None if shop_id is None else "$3"
    rows = await connection.fetch(
        f"""
        WITH unsynced AS ({unsynced_cte(grace="$1", shop_id=shop_param)})
        SELECT shop_id, order_id, package_id, supplier_order_id, tracking_number,
               tracking_number_norm, carrier, tracking_url, lines, shipped_at, waiting_since,
               before_cutover
        FROM unsynced
        WHERE $2::bigint[] IS NULL OR order_id = ANY ($2::bigint[])
        ORDER BY shop_id, order_id, package_id
        """,
        grace,
        order_ids,
        *([] if shop_id is None else [shop_id]),
    )
    return [UnsyncedPackage(**dict(row)) for row in rows]


async def shops_with_unsynced_packages(connection: Connection, *, grace: timedelta) -> list[int]:
    """Active shops that have at least one unsynced package."""
    rows = await connection.fetch(
        f"""
        WITH unsynced AS ({unsynced_cte(grace="$1", shop_id=None)})
        SELECT DISTINCT u.shop_id FROM unsynced u JOIN shop s USING (shop_id)
        WHERE s.status = 'active'
        ORDER BY u.shop_id
        """,
        grace,
    )
    return [row["shop_id"] for row in rows]
