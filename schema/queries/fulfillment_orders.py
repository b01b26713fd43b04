"""An order's fulfillment orders and fulfilments as last read from the Admin API.

`OrderFulfillmentState` is what one re-read of an order returns (the Shopify client parses its
GraphQL answer into it); `store_order_fulfillment_state` writes it set-based: the order's
fulfillment orders and their lines are replaced wholesale (fulfillment orders split, move and
close, and their ids change), fulfilments are upserted (a fulfilment never disappears; a late
webhook never overwrites a newer read).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from core.tracking import normalize_tracking_number
from schema.db import Connection

__all__ = [
    "FulfillmentLineRow",
    "FulfillmentOrderLineRow",
    "FulfillmentOrderRow",
    "FulfillmentRow",
    "OrderFulfillmentState",
    "clear_refresh_flag",
    "orders_needing_refresh",
    "store_fulfillment",
    "store_order_fulfillment_state",
    "store_orders_fulfillment_state",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentOrderLineRow:
    fulfillment_order_line_id: int
    line_item_id: int
    sku: str | None
    variant_id: int | None
    total_quantity: int
    remaining_quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentOrderRow:
    fulfillment_order_id: int
    status: str
    request_status: str | None
    location_id: int | None
    supported_actions: tuple[str, ...]
    holds: tuple[dict[str, Any], ...]
    fulfill_at: datetime | None
    updated_at: datetime | None
    lines: tuple[FulfillmentOrderLineRow, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentLineRow:
    line_item_id: int
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentRow:
    """A fulfilment; `lines` is None when the read did not include its line items."""

    fulfillment_id: int
    status: str
    location_id: int | None
    tracking_company: str | None
    tracking_numbers: tuple[str, ...]
    tracking_urls: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    lines: tuple[FulfillmentLineRow, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFulfillmentState:
    """One order's fulfilment state, read fresh from Shopify."""

    order_id: int
    name: str | None
    cancelled_at: datetime | None
    closed_at: datetime | None
    fulfillment_orders: tuple[FulfillmentOrderRow, ...]
    fulfillments: tuple[FulfillmentRow, ...]

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


# The statement that stores fresh reads ($1 the shop, $2..$19 from `store_state_arguments`);
# `schema.queries.push` also runs it as the first part of a bigger statement. It ends in
# `SELECT order_id FROM o`: the stored orders.
STORE_STATE_SQL = """
        WITH o AS (
            UPDATE shopify_order so
            SET cancelled_at = read.cancelled_at, closed_at = read.closed_at,
                refreshed_at = now()
            FROM unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[])
                AS read(order_id, cancelled_at, closed_at)
            WHERE so.shop_id = $1 AND so.order_id = read.order_id
            RETURNING so.shop_id, so.order_id
        ), new_fo AS (
            SELECT * FROM unnest($5::bigint[], $6::bigint[], $7::text[], $8::text[],
                                 $9::bigint[], $10::text[], $11::text[], $12::timestamptz[],
                                 $13::timestamptz[])
                AS fo(order_id, id, status, request_status, location_id, actions, holds,
                      fulfill_at, updated_at)
        ), new_line AS (
            SELECT * FROM unnest($14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[],
                                 $18::int[], $19::int[])
                AS line(order_id, id, fo_id, line_item_id, total, remaining)
        ), gone_line AS (
            DELETE FROM shopify_fulfillment_order_line l
            USING o
            WHERE l.shop_id = o.shop_id AND l.order_id = o.order_id
              AND l.fulfillment_order_line_id <> ALL ($15::bigint[])
        ), gone_fo AS (
            DELETE FROM shopify_fulfillment_order f
            USING o
            WHERE f.shop_id = o.shop_id AND f.order_id = o.order_id
              AND f.fulfillment_order_id <> ALL ($6::bigint[])
        ), put_fo AS (
            INSERT INTO shopify_fulfillment_order (
                shop_id, fulfillment_order_id, order_id, status, request_status, location_id,
                supported_actions, holds, fulfill_at, updated_at
            )
            SELECT o.shop_id, fo.id, o.order_id, fo.status, fo.request_status, fo.location_id,
                   ARRAY(SELECT jsonb_array_elements_text(fo.actions::jsonb)), fo.holds::jsonb,
                   fo.fulfill_at, fo.updated_at
            FROM new_fo fo JOIN o ON o.order_id = fo.order_id
            ON CONFLICT (shop_id, fulfillment_order_id) DO UPDATE SET
                order_id = EXCLUDED.order_id, status = EXCLUDED.status,
                request_status = EXCLUDED.request_status, location_id = EXCLUDED.location_id,
                supported_actions = EXCLUDED.supported_actions, holds = EXCLUDED.holds,
                fulfill_at = EXCLUDED.fulfill_at, updated_at = EXCLUDED.updated_at
        ), put_line AS (
            INSERT INTO shopify_fulfillment_order_line (
                shop_id, fulfillment_order_line_id, fulfillment_order_id, order_id,
                line_item_id, total_quantity, remaining_quantity
            )
            SELECT o.shop_id, line.id, line.fo_id, o.order_id, line.line_item_id, line.total,
                   line.remaining
            FROM new_line line JOIN o ON o.order_id = line.order_id
            ON CONFLICT (shop_id, fulfillment_order_line_id) DO UPDATE SET
                fulfillment_order_id = EXCLUDED.fulfillment_order_id,
                order_id = EXCLUDED.order_id, line_item_id = EXCLUDED.line_item_id,
                total_quantity = EXCLUDED.total_quantity,
                remaining_quantity = EXCLUDED.remaining_quantity
        )
        SELECT order_id FROM o
        """
STORE_STATE_PARAMETERS = 19


def store_state_arguments(shop_id: int, states: Sequence[OrderFulfillmentState]) -> list[Any]:
    """The arguments of STORE_STATE_SQL, from $1 on."""
    fos = [(state.order_id, fo) for state in states for fo in state.fulfillment_orders]
    lines = [(order_id, fo.fulfillment_order_id, line) for order_id, fo in fos for line in fo.lines]
    return [
        shop_id,
        [state.order_id for state in states],
        [state.cancelled_at for state in states],
        [state.closed_at for state in states],
        [order_id for order_id, _ in fos],
        [fo.fulfillment_order_id for _, fo in fos],
        [fo.status for _, fo in fos],
        [fo.request_status for _, fo in fos],
        [fo.location_id for _, fo in fos],
        # JSON text, not jsonb[]: asyncpg would read a list of lists as a 2-D array.
        [orjson.dumps(list(fo.supported_actions)).decode() for _, fo in fos],
        [orjson.dumps(list(fo.holds)).decode() for _, fo in fos],
        [fo.fulfill_at for _, fo in fos],
        [fo.updated_at for _, fo in fos],
        [order_id for order_id, _, _ in lines],
        [line.fulfillment_order_line_id for _, _, line in lines],
        [fo_id for _, fo_id, _ in lines],
        [line.line_item_id for _, _, line in lines],
        [line.total_quantity for _, _, line in lines],
        [line.remaining_quantity for _, _, line in lines],
    ]


async def store_order_fulfillment_state(
    connection: Connection, *, shop_id: int, state: OrderFulfillmentState
) -> bool:
    """Write a fresh read of an order; False (nothing written) when the order is not stored.

    One statement for the order, its fulfillment orders and lines, then the fulfilments
    upserted; callers wanting the whole write atomic wrap it in a transaction.
    """
    stored = await store_orders_fulfillment_state(connection, shop_id=shop_id, states=[state])
    return state.order_id in stored


async def store_orders_fulfillment_state(
    connection: Connection, *, shop_id: int, states: Sequence[OrderFulfillmentState]
) -> set[int]:
    """Write fresh reads of several orders of one shop; returns the ids of the stored orders
    (an order that is not stored is skipped).

    One statement for all of them: each order's cancel/close times, its fulfillment orders and
    lines replaced (rows no longer read are deleted, the rest upserted, so no row is touched
    twice). Fulfilments, when a read has any, are upserted after it, one statement each.
    """
    if not states:
        return set()
    rows = await connection.fetch(STORE_STATE_SQL, *store_state_arguments(shop_id, states))
    stored = {row["order_id"] for row in rows}
    for state in states:
        if state.order_id in stored:
            for fulfillment in state.fulfillments:
                await store_fulfillment(
                    connection, shop_id=shop_id, order_id=state.order_id, fulfillment=fulfillment
                )
    return stored


async def store_fulfillment(
    connection: Connection, *, shop_id: int, order_id: int, fulfillment: FulfillmentRow
) -> None:
    """Upsert one fulfilment (and its lines when known); an older copy never wins."""
    await connection.execute(
        """
        INSERT INTO shopify_fulfillment AS f (
            shop_id, fulfillment_id, order_id, status, location_id, tracking_company,
            tracking_numbers, tracking_numbers_norm, tracking_urls, created_at, updated_at
        )
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (shop_id, fulfillment_id) DO UPDATE SET
            status = EXCLUDED.status,
            location_id = COALESCE(EXCLUDED.location_id, f.location_id),
            tracking_company = EXCLUDED.tracking_company,
            tracking_numbers = EXCLUDED.tracking_numbers,
            tracking_numbers_norm = EXCLUDED.tracking_numbers_norm,
            tracking_urls = EXCLUDED.tracking_urls,
            created_at = COALESCE(f.created_at, EXCLUDED.created_at),
            updated_at = EXCLUDED.updated_at
        WHERE f.updated_at IS NULL OR EXCLUDED.updated_at IS NULL
           OR EXCLUDED.updated_at >= f.updated_at
        """,
        shop_id,
        fulfillment.fulfillment_id,
        order_id,
        fulfillment.status.lower(),
        fulfillment.location_id,
        fulfillment.tracking_company,
        list(fulfillment.tracking_numbers),
        [normalize_tracking_number(number) for number in fulfillment.tracking_numbers],
        list(fulfillment.tracking_urls),
        fulfillment.created_at,
        fulfillment.updated_at,
    )
    if fulfillment.lines is None:
        return
    await connection.execute(
        "DELETE FROM shopify_fulfillment_line WHERE shop_id = $1 AND fulfillment_id = $2",
        shop_id,
        fulfillment.fulfillment_id,
    )
    lines = _merge_lines(fulfillment.lines)
    if lines:
        await connection.execute(
            """
            INSERT INTO shopify_fulfillment_line (shop_id, fulfillment_id, line_item_id,
                                                  order_id, quantity)
            SELECT $1, $2, line.line_item_id, $3, line.quantity
            FROM unnest($4::bigint[], $5::int[]) AS line(line_item_id, quantity)
            """,
            shop_id,
            fulfillment.fulfillment_id,
            order_id,
            [line_item_id for line_item_id, _ in lines],
            [quantity for _, quantity in lines],
        )


def _merge_lines(lines: Sequence[FulfillmentLineRow]) -> list[tuple[int, int]]:
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.line_item_id] = merged.get(line.line_item_id, 0) + line.quantity
    return sorted(merged.items())


async def orders_needing_refresh(
    connection: Connection, *, shop_id: int, limit: int
) -> list[tuple[int, str]]:
    """(order id, row version) of orders marked needs_refresh, oldest first.

    The row version (`xmin`) lets `clear_refresh_flag` clear the flag only when nothing
    touched the order since it was picked, so a webhook arriving mid-read is never lost.
    """
    rows = await connection.fetch(
        """
        SELECT order_id, xmin::text AS version
        FROM shopify_order
        WHERE shop_id = $1 AND needs_refresh
        ORDER BY stored_at, order_id
        LIMIT $2
        """,
        shop_id,
        limit,
    )
    return [(row["order_id"], row["version"]) for row in rows]


async def clear_refresh_flag(
    connection: Connection, *, shop_id: int, order_id: int, version: str
) -> bool:
    """Clear needs_refresh if the order row is still at `version`; True when cleared."""
    status: str = await connection.execute(
        """
        UPDATE shopify_order SET needs_refresh = false
        WHERE shop_id = $1 AND order_id = $2 AND xmin::text = $3
        """,
        shop_id,
        order_id,
        version,
    )
    return status.endswith(" 1")
