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


async def store_order_fulfillment_state(
    connection: Connection, *, shop_id: int, state: OrderFulfillmentState
) -> bool:
    """Write a fresh read of an order; False (nothing written) when the order is not stored.

    The caller owns the transaction.
    """
    exists = await connection.fetchval(
        """
        UPDATE shopify_order
        SET cancelled_at = $3, closed_at = $4, refreshed_at = now()
        WHERE shop_id = $1 AND order_id = $2
        RETURNING true
        """,
        shop_id,
        state.order_id,
        state.cancelled_at,
        state.closed_at,
    )
    if not exists:
        return False
    await _replace_fulfillment_orders(connection, shop_id=shop_id, state=state)
    for fulfillment in state.fulfillments:
        await store_fulfillment(
            connection, shop_id=shop_id, order_id=state.order_id, fulfillment=fulfillment
        )
    return True


async def _replace_fulfillment_orders(
    connection: Connection, *, shop_id: int, state: OrderFulfillmentState
) -> None:
    order_id = state.order_id
    await connection.execute(
        "DELETE FROM shopify_fulfillment_order_line WHERE shop_id = $1 AND order_id = $2",
        shop_id,
        order_id,
    )
    await connection.execute(
        "DELETE FROM shopify_fulfillment_order WHERE shop_id = $1 AND order_id = $2",
        shop_id,
        order_id,
    )
    fos = state.fulfillment_orders
    if not fos:
        return
    # A fulfillment order that moved here from another order (never in practice, but ids are
    # Shopify's) replaces the old row rather than failing the whole write.
    await connection.execute(
        """
        INSERT INTO shopify_fulfillment_order (
            shop_id, fulfillment_order_id, order_id, status, request_status, location_id,
            supported_actions, holds, fulfill_at, updated_at
        )
        SELECT $1, fo.id, $2, fo.status, fo.request_status, fo.location_id,
               ARRAY(SELECT jsonb_array_elements_text(fo.actions)), fo.holds,
               fo.fulfill_at, fo.updated_at
        FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::jsonb[],
                    $8::jsonb[], $9::timestamptz[], $10::timestamptz[])
             AS fo(id, status, request_status, location_id, actions, holds, fulfill_at,
                   updated_at)
        ON CONFLICT (shop_id, fulfillment_order_id) DO UPDATE SET
            order_id = EXCLUDED.order_id, status = EXCLUDED.status,
            request_status = EXCLUDED.request_status, location_id = EXCLUDED.location_id,
            supported_actions = EXCLUDED.supported_actions, holds = EXCLUDED.holds,
            fulfill_at = EXCLUDED.fulfill_at, updated_at = EXCLUDED.updated_at
        """,
        shop_id,
        order_id,
        [fo.fulfillment_order_id for fo in fos],
        [fo.status for fo in fos],
        [fo.request_status for fo in fos],
        [fo.location_id for fo in fos],
        [list(fo.supported_actions) for fo in fos],
        [list(fo.holds) for fo in fos],
        [fo.fulfill_at for fo in fos],
        [fo.updated_at for fo in fos],
    )
    lines = [(fo.fulfillment_order_id, line) for fo in fos for line in fo.lines]
    if not lines:
        return
    await connection.execute(
        """
        INSERT INTO shopify_fulfillment_order_line (
            shop_id, fulfillment_order_line_id, fulfillment_order_id, order_id, line_item_id,
            total_quantity, remaining_quantity
        )
        SELECT $1, line.id, line.fo_id, $2, line.line_item_id, line.total, line.remaining
        FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::int[], $7::int[])
             AS line(id, fo_id, line_item_id, total, remaining)
        ON CONFLICT (shop_id, fulfillment_order_line_id) DO UPDATE SET
            fulfillment_order_id = EXCLUDED.fulfillment_order_id,
            order_id = EXCLUDED.order_id, line_item_id = EXCLUDED.line_item_id,
            total_quantity = EXCLUDED.total_quantity,
            remaining_quantity = EXCLUDED.remaining_quantity
        """,
        shop_id,
        order_id,
        [line.fulfillment_order_line_id for _, line in lines],
        [fo_id for fo_id, _ in lines],
        [line.line_item_id for _, line in lines],
        [line.total_quantity for _, line in lines],
        [line.remaining_quantity for _, line in lines],
    )


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
