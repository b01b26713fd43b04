"""Shopify's side of each order, written set-based from normalised webhook snapshots.

Out-of-order guard: an order row is only overwritten by a snapshot that is newer by
(`updated_at`, triggered-at). Shopify's `updated_at` has one-second resolution, so the
delivery's `X-Shopify-Triggered-At` breaks ties; an equal pair changes nothing, which is what
makes applying a delivery twice a no-op. Fulfilments compare their own `updated_at`.

A fulfilment can arrive before its order: a stub order row (epoch `updated_at`, marked
`needs_refresh`) is created so the fulfilment has somewhere to live; the order's own payload,
or a re-read, fills it in later.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from core.shopify_payloads import FulfillmentSnapshot, OrderSnapshot
from core.tracking import normalize_tracking_number
from schema.db import Connection

__all__ = [
    "OrderEventRow",
    "TimedOrder",
    "insert_order_events",
    "mark_orders_for_refresh",
    "upsert_fulfillments",
    "upsert_orders",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimedOrder:
    """An order snapshot with the triggered-at of the delivery that carried it."""

    snapshot: OrderSnapshot
    triggered_at: datetime | None

    @property
    def version(self) -> tuple[datetime, datetime]:
        return (self.snapshot.updated_at, self.triggered_at or _NEVER)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEventRow:
    order_id: int | None
    kind: str
    actor: str
    detail: dict[str, Any]
    supplier_order_id: int | None = None


def _newest_orders(orders: Iterable[TimedOrder]) -> list[TimedOrder]:
    newest: dict[int, TimedOrder] = {}
    for order in orders:
        current = newest.get(order.snapshot.order_id)
        if current is None or order.version > current.version:
            newest[order.snapshot.order_id] = order
    return [newest[key] for key in sorted(newest)]


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _address_json(order: OrderSnapshot) -> str | None:
    address = order.pii.shipping_address
    if address is None:
        return None
    return _json({slot: getattr(address, slot) for slot in address.__slots__})


async def upsert_orders(
    connection: Connection, *, shop_id: int, orders: Sequence[TimedOrder]
) -> list[int]:
    """Insert or overwrite orders (and their line items and fulfilments) with newer snapshots.

    Returns the ids of the orders that were written; older or equal snapshots are left out.
    An order whose personal data was redacted keeps it erased.
    """
    newest = _newest_orders(orders)
    if not newest:
        return []
    snapshots = [order.snapshot for order in newest]
    rows = await connection.fetch(
        """
        INSERT INTO shopify_order AS o
            (shop_id, order_id, name, order_number, financial_status, fulfillment_status,
             cancelled_at, closed_at, test, created_at, updated_at, source_triggered_at,
             note_attributes, customer_id, email, shipping_address, stored_at)
        SELECT $1, t.order_id, t.name, t.order_number, t.financial_status,
               t.fulfillment_status, t.cancelled_at, t.closed_at, t.test, t.created_at,
               t.updated_at, t.triggered_at, t.note_attributes::jsonb, t.customer_id, t.email,
               t.shipping_address::jsonb, now()
        FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[],
                    $7::timestamptz[], $8::timestamptz[], $9::boolean[], $10::timestamptz[],
                    $11::timestamptz[], $12::timestamptz[], $13::text[], $14::bigint[],
                    $15::text[], $16::text[])
             AS t(order_id, name, order_number, financial_status, fulfillment_status,
                  cancelled_at, closed_at, test, created_at, updated_at, triggered_at,
                  note_attributes, customer_id, email, shipping_address)
        ON CONFLICT (shop_id, order_id) DO UPDATE SET
            name = EXCLUDED.name,
            order_number = EXCLUDED.order_number,
            financial_status = EXCLUDED.financial_status,
            fulfillment_status = EXCLUDED.fulfillment_status,
            cancelled_at = EXCLUDED.cancelled_at,
            closed_at = EXCLUDED.closed_at,
            test = EXCLUDED.test,
            created_at = EXCLUDED.created_at,
            updated_at = EXCLUDED.updated_at,
            source_triggered_at = EXCLUDED.source_triggered_at,
            note_attributes = EXCLUDED.note_attributes,
            customer_id = CASE WHEN o.pii_redacted_at IS NULL THEN EXCLUDED.customer_id END,
            email = CASE WHEN o.pii_redacted_at IS NULL THEN EXCLUDED.email END,
            shipping_address = CASE WHEN o.pii_redacted_at IS NULL
                                    THEN EXCLUDED.shipping_address END,
            stored_at = now()
        WHERE (EXCLUDED.updated_at, COALESCE(EXCLUDED.source_triggered_at, '-infinity'))
            > (o.updated_at, COALESCE(o.source_triggered_at, '-infinity'))
        RETURNING order_id
        """,
        shop_id,
        [s.order_id for s in snapshots],
        [s.name for s in snapshots],
        [s.order_number for s in snapshots],
        [s.financial_status for s in snapshots],
        [s.fulfillment_status for s in snapshots],
        [s.cancelled_at for s in snapshots],
        [s.closed_at for s in snapshots],
        [s.test for s in snapshots],
        [s.created_at for s in snapshots],
        [s.updated_at for s in snapshots],
        [order.triggered_at for order in newest],
        [_json(dict(s.note_attributes)) for s in snapshots],
        [s.pii.customer_id for s in snapshots],
        [s.pii.email or s.pii.contact_email or s.pii.customer_email for s in snapshots],
        [_address_json(s) for s in snapshots],
    )
    written = {row["order_id"] for row in rows}
    if written:
        chosen = [s for s in snapshots if s.order_id in written]
        await _replace_line_items(connection, shop_id=shop_id, orders=chosen)
        embedded = [f for s in chosen for f in s.fulfillments]
        if embedded:
            await upsert_fulfillments(connection, shop_id=shop_id, fulfillments=embedded)
    return sorted(written)


async def _replace_line_items(
    connection: Connection, *, shop_id: int, orders: Sequence[OrderSnapshot]
) -> None:
    lines = [(order.order_id, line) for order in orders for line in order.line_items]
    await connection.execute(
        """
        WITH incoming AS (
            SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
                                 $7::bigint[], $8::text[], $9::integer[], $10::integer[],
                                 $11::text[])
                AS t(order_id, line_item_id, sku, variant_id, product_id, title, quantity,
                     fulfillable_quantity, fulfillment_status)
        ), removed AS (
            DELETE FROM shopify_line_item l
            WHERE l.shop_id = $1 AND l.order_id = ANY($2::bigint[])
              AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.line_item_id = l.line_item_id)
        )
        INSERT INTO shopify_line_item AS l
            (shop_id, line_item_id, order_id, sku, variant_id, product_id, title, quantity,
             fulfillable_quantity, fulfillment_status)
        SELECT $1, line_item_id, order_id, sku, variant_id, product_id, title, quantity,
               fulfillable_quantity, fulfillment_status
        FROM incoming
        ON CONFLICT (shop_id, line_item_id) DO UPDATE SET
            order_id = EXCLUDED.order_id,
            sku = EXCLUDED.sku,
            variant_id = EXCLUDED.variant_id,
            product_id = EXCLUDED.product_id,
            title = EXCLUDED.title,
            quantity = EXCLUDED.quantity,
            fulfillable_quantity = EXCLUDED.fulfillable_quantity,
            fulfillment_status = EXCLUDED.fulfillment_status
        WHERE (l.order_id, l.sku, l.variant_id, l.product_id, l.title, l.quantity,
               l.fulfillable_quantity, l.fulfillment_status)
            IS DISTINCT FROM (EXCLUDED.order_id, EXCLUDED.sku, EXCLUDED.variant_id,
               EXCLUDED.product_id, EXCLUDED.title, EXCLUDED.quantity,
               EXCLUDED.fulfillable_quantity, EXCLUDED.fulfillment_status)
        """,
        shop_id,
        [order.order_id for order in orders],
        [order_id for order_id, _ in lines],
        [line.line_item_id for _, line in lines],
        [line.sku for _, line in lines],
        [line.variant_id for _, line in lines],
        [line.product_id for _, line in lines],
        [line.title for _, line in lines],
        # current_quantity reflects order edits and removals; quantity is the original count.
        [
            line.current_quantity if line.current_quantity is not None else line.quantity
            for _, line in lines
        ],
        [line.fulfillable_quantity for _, line in lines],
        [line.fulfillment_status for _, line in lines],
    )


def _newest_fulfillments(fulfillments: Iterable[FulfillmentSnapshot]) -> list[FulfillmentSnapshot]:
    newest: dict[int, FulfillmentSnapshot] = {}
    for fulfillment in fulfillments:
        current = newest.get(fulfillment.fulfillment_id)
        if current is None or fulfillment.updated_at >= current.updated_at:
            newest[fulfillment.fulfillment_id] = fulfillment
    return [newest[key] for key in sorted(newest)]


def _order_name_from_fulfillment(name: str | None) -> str:
    # A fulfilment is named after its order: "#1001.1" belongs to "#1001".
    if not name:
        return ""
    head, _, tail = name.rpartition(".")
    return head if head and tail.isdigit() else name


async def upsert_fulfillments(
    connection: Connection, *, shop_id: int, fulfillments: Sequence[FulfillmentSnapshot]
) -> list[int]:
    """Insert or overwrite fulfilments with newer snapshots; returns the ids written."""
    newest = _newest_fulfillments(fulfillments)
    if not newest:
        return []
    await connection.execute(
        """
        INSERT INTO shopify_order
            (shop_id, order_id, name, created_at, updated_at, needs_refresh, stored_at)
        SELECT DISTINCT ON (t.order_id) $1, t.order_id, t.name, t.created_at, $5, true, now()
        FROM unnest($2::bigint[], $3::text[], $4::timestamptz[]) AS t(order_id, name, created_at)
        ORDER BY t.order_id
        ON CONFLICT (shop_id, order_id) DO NOTHING
        """,
        shop_id,
        [f.order_id for f in newest],
        [_order_name_from_fulfillment(f.name) for f in newest],
        [f.created_at for f in newest],
        _EPOCH,
    )
    rows = await connection.fetch(
        """
        INSERT INTO shopify_fulfillment AS f
            (shop_id, fulfillment_id, order_id, status, location_id, tracking_company,
             tracking_numbers, tracking_numbers_norm, tracking_urls, created_at, updated_at)
        SELECT $1, t.fulfillment_id, t.order_id, t.status, t.location_id, t.tracking_company,
               ARRAY(SELECT jsonb_array_elements_text(t.numbers::jsonb)),
               ARRAY(SELECT jsonb_array_elements_text(t.numbers_norm::jsonb)),
               ARRAY(SELECT jsonb_array_elements_text(t.urls::jsonb)),
               t.created_at, t.updated_at
        FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
                    $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
             AS t(fulfillment_id, order_id, status, location_id, tracking_company, numbers,
                  numbers_norm, urls, created_at, updated_at)
        ON CONFLICT (shop_id, fulfillment_id) DO UPDATE SET
            order_id = EXCLUDED.order_id,
            status = EXCLUDED.status,
            location_id = EXCLUDED.location_id,
            tracking_company = EXCLUDED.tracking_company,
            tracking_numbers = EXCLUDED.tracking_numbers,
            tracking_numbers_norm = EXCLUDED.tracking_numbers_norm,
            tracking_urls = EXCLUDED.tracking_urls,
            created_at = EXCLUDED.created_at,
            updated_at = EXCLUDED.updated_at
        WHERE f.updated_at IS NULL OR EXCLUDED.updated_at > f.updated_at
        RETURNING fulfillment_id
        """,
        shop_id,
        [f.fulfillment_id for f in newest],
        [f.order_id for f in newest],
        [f.status for f in newest],
        [f.location_id for f in newest],
        [f.tracking_company for f in newest],
        [_json(list(f.tracking_numbers)) for f in newest],
        [
            _json([normalize_tracking_number(number) for number in f.tracking_numbers])
            for f in newest
        ],
        [_json(list(f.tracking_urls)) for f in newest],
        [f.created_at for f in newest],
        [f.updated_at for f in newest],
    )
    written = {row["fulfillment_id"] for row in rows}
    chosen = [f for f in newest if f.fulfillment_id in written]
    lines = [(f, line) for f in chosen for line in f.line_items]
    if chosen:
        await connection.execute(
            """
            WITH incoming AS (
                SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::integer[])
                    AS t(fulfillment_id, line_item_id, order_id, quantity)
            ), removed AS (
                DELETE FROM shopify_fulfillment_line l
                WHERE l.shop_id = $1 AND l.fulfillment_id = ANY($2::bigint[])
                  AND NOT EXISTS (
                      SELECT 1 FROM incoming i
                      WHERE i.fulfillment_id = l.fulfillment_id
                        AND i.line_item_id = l.line_item_id)
            )
            INSERT INTO shopify_fulfillment_line AS l
                (shop_id, fulfillment_id, line_item_id, order_id, quantity)
            SELECT $1, fulfillment_id, line_item_id, order_id, quantity FROM incoming
            ON CONFLICT (shop_id, fulfillment_id, line_item_id) DO UPDATE SET
                order_id = EXCLUDED.order_id, quantity = EXCLUDED.quantity
            WHERE (l.order_id, l.quantity) IS DISTINCT FROM (EXCLUDED.order_id, EXCLUDED.quantity)
            """,
            shop_id,
            [f.fulfillment_id for f in chosen],
            [f.fulfillment_id for f, _ in lines],
            [line.line_item_id for _, line in lines],
            [f.order_id for f, _ in lines],
            [line.quantity for _, line in lines],
        )
    return sorted(written)


async def mark_orders_for_refresh(
    connection: Connection,
    *,
    shop_id: int,
    order_ids: Sequence[int] = (),
    fulfillment_order_ids: Sequence[int] = (),
    recent_without_fulfillment_orders: bool = False,
) -> list[int]:
    """Flag orders to be re-read from Shopify; returns the flagged order ids.

    Orders are found by id, or through a stored fulfillment order. A hint about a fulfillment
    order we have never seen (routing just finished for a new order) cannot be traced to its
    order, so `recent_without_fulfillment_orders` flags every open order of the last 60 days
    that has no fulfillment order stored yet: those are the ones the hint can be about.
    """
    rows = await connection.fetch(
        """
        UPDATE shopify_order o SET needs_refresh = true
        WHERE o.shop_id = $1 AND (
            o.order_id = ANY($2::bigint[])
            OR o.order_id IN (
                SELECT fo.order_id FROM shopify_fulfillment_order fo
                WHERE fo.shop_id = $1 AND fo.fulfillment_order_id = ANY($3::bigint[]))
            OR ($4 AND o.cancelled_at IS NULL AND o.closed_at IS NULL
                AND o.created_at > now() - interval '60 days'
                AND NOT EXISTS (
                    SELECT 1 FROM shopify_fulfillment_order fo
                    WHERE fo.shop_id = $1 AND fo.order_id = o.order_id))
        )
        RETURNING o.order_id
        """,
        shop_id,
        list(order_ids),
        list(fulfillment_order_ids),
        recent_without_fulfillment_orders,
    )
    return sorted(row["order_id"] for row in rows)


async def insert_order_events(
    connection: Connection, *, shop_id: int, events: Sequence[OrderEventRow]
) -> None:
    if not events:
        return
    await connection.execute(
        """
        INSERT INTO order_event (shop_id, order_id, supplier_order_id, kind, actor, detail)
        SELECT $1, order_id, supplier_order_id, kind, actor, detail::jsonb
        FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])
             AS t(order_id, supplier_order_id, kind, actor, detail)
        """,
        shop_id,
        [event.order_id for event in events],
        [event.supplier_order_id for event in events],
        [event.kind for event in events],
        [event.actor for event in events],
        [_json(event.detail) for event in events],
    )
