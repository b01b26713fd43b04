"""Reading an order's fulfilment state and creating or amending fulfilments, typed.

`read_order_fulfillment_state` re-reads one order (fulfillment orders with their lines and
supported actions, fulfilments with their tracking) and pages any nested connection that did
not fit the first query, so no single query nears Shopify's 1,000-point limit. The result is
`schema.queries.fulfillment_orders.OrderFulfillmentState`, ready to store.

`create_fulfillment` and `update_tracking` send one mutation each and return the new
fulfilment or Shopify's `userErrors`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clients.shopify import ShopifyClient, ShopifyRequestError, UserError, mutation_result
from clients.shopify_documents import (
    FULFILLMENT_CREATE,
    FULFILLMENT_ORDER_LINES,
    FULFILLMENT_TRACKING_INFO_UPDATE,
    ORDER_FULFILLMENT_STATE,
    ORDER_FULFILLMENT_STATE_MORE_FOS,
    ORDER_FULFILLMENTS_WIDE,
)
from core.errors import InvalidIdError
from core.ids import format_gid, parse_gid_id
from schema.queries.fulfillment_orders import (
    FulfillmentLineRow,
    FulfillmentOrderLineRow,
    FulfillmentOrderRow,
    FulfillmentRow,
    OrderFulfillmentState,
)

__all__ = [
    "FulfillmentInputLine",
    "MutationOutcome",
    "TrackingInput",
    "create_fulfillment",
    "parse_fulfillment",
    "read_order_fulfillment_state",
    "update_tracking",
]

_MAX_PAGES = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingInput:
    """`FulfillmentTrackingInput`: one number uses number/url, several use numbers/urls."""

    numbers: tuple[str, ...]
    company: str | None
    urls: tuple[str, ...] = ()

    def as_variables(self) -> dict[str, Any]:
        tracking: dict[str, Any] = {}
        if self.company:
            tracking["company"] = self.company
        if len(self.numbers) == 1:
            tracking["number"] = self.numbers[0]
            if self.urls:
                tracking["url"] = self.urls[0]
        elif self.numbers:
            tracking["numbers"] = list(self.numbers)
            if self.urls:
                tracking["urls"] = list(self.urls)
        return tracking


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentInputLine:
    """One fulfillment order and its (line id, quantity) pairs for `lineItemsByFulfillmentOrder`."""

    fulfillment_order_id: int
    lines: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MutationOutcome:
    """The fulfilment Shopify returned, or its userErrors (never both)."""

    fulfillment: FulfillmentRow | None
    user_errors: tuple[UserError, ...]


async def read_order_fulfillment_state(
    client: ShopifyClient, shop: str, access_token: str, *, order_id: int
) -> OrderFulfillmentState | None:
    """Read the order's fulfilment state fresh; None when Shopify has no such order."""
    order_gid = format_gid("Order", order_id)
    data = await client.execute(shop, access_token, ORDER_FULFILLMENT_STATE, {"id": order_gid})
    order = data.get("order")
    if not isinstance(order, Mapping):
        return None
    fo_nodes = list(_nodes(order.get("fulfillmentOrders")))
    page = _page_info(order.get("fulfillmentOrders"))
    pages = 0
    while page is not None and pages < _MAX_PAGES:
        pages += 1
        more = await client.execute(
            shop, access_token, ORDER_FULFILLMENT_STATE_MORE_FOS, {"id": order_gid, "after": page}
        )
        more_order = more.get("order")
        connection = (
            more_order.get("fulfillmentOrders") if isinstance(more_order, Mapping) else None
        )
        fo_nodes.extend(_nodes(connection))
        page = _page_info(connection)
    fulfillment_orders = [
        await _fulfillment_order(client, shop, access_token, node) for node in fo_nodes
    ]
    fulfillment_nodes: Sequence[Any] = order.get("fulfillments") or []
    count = _count(order.get("fulfillmentsCount"))
    if count is not None and count > len(fulfillment_nodes):
        wide = await client.execute(shop, access_token, ORDER_FULFILLMENTS_WIDE, {"id": order_gid})
        wide_order = wide.get("order")
        if isinstance(wide_order, Mapping):
            fulfillment_nodes = wide_order.get("fulfillments") or []
    return OrderFulfillmentState(
        order_id=parse_gid_id(order.get("id"), expected="Order", field="order.id"),
        name=order.get("name"),
        cancelled_at=_datetime(order.get("cancelledAt")),
        closed_at=_datetime(order.get("closedAt")),
        fulfillment_orders=tuple(fulfillment_orders),
        fulfillments=tuple(parse_fulfillment(node) for node in fulfillment_nodes),
    )


async def create_fulfillment(
    client: ShopifyClient,
    shop: str,
    access_token: str,
    *,
    line_items: Sequence[FulfillmentInputLine],
    tracking: TrackingInput,
    notify_customer: bool,
) -> MutationOutcome:
    """Send one `fulfillmentCreate`. Raises ShopifyAmbiguousError when the outcome is unknown."""
    fulfillment: dict[str, Any] = {
        "notifyCustomer": notify_customer,
        "lineItemsByFulfillmentOrder": [
            {
                "fulfillmentOrderId": format_gid("FulfillmentOrder", entry.fulfillment_order_id),
                "fulfillmentOrderLineItems": [
                    {"id": format_gid("FulfillmentOrderLineItem", line_id), "quantity": quantity}
                    for line_id, quantity in entry.lines
                ],
            }
            for entry in line_items
        ],
    }
    tracking_info = tracking.as_variables()
    if tracking_info:
        fulfillment["trackingInfo"] = tracking_info
    data = await client.execute(
        shop, access_token, FULFILLMENT_CREATE, {"fulfillment": fulfillment}
    )
    return _outcome(data, "fulfillmentCreate")


async def update_tracking(
    client: ShopifyClient,
    shop: str,
    access_token: str,
    *,
    fulfillment_id: int,
    tracking: TrackingInput,
    notify_customer: bool,
) -> MutationOutcome:
    """Send one `fulfillmentTrackingInfoUpdate` (naturally idempotent: it sets, not adds)."""
    data = await client.execute(
        shop,
        access_token,
        FULFILLMENT_TRACKING_INFO_UPDATE,
        {
            "fulfillmentId": format_gid("Fulfillment", fulfillment_id),
            "trackingInfoInput": tracking.as_variables(),
            "notifyCustomer": notify_customer,
        },
    )
    return _outcome(data, "fulfillmentTrackingInfoUpdate")


def _outcome(data: Mapping[str, Any], mutation: str) -> MutationOutcome:
    result = mutation_result(data, mutation)
    node = result.payload.get("fulfillment")
    if result.user_errors or not isinstance(node, Mapping):
        errors = result.user_errors or (UserError(field=(), message="no fulfillment returned"),)
        return MutationOutcome(fulfillment=None, user_errors=errors)
    return MutationOutcome(fulfillment=parse_fulfillment(node), user_errors=())


def parse_fulfillment(node: Mapping[str, Any]) -> FulfillmentRow:
    """A GraphQL `Fulfillment` selection as a row; lines are None unless fully read."""
    tracking = [entry for entry in node.get("trackingInfo") or [] if isinstance(entry, Mapping)]
    numbers = tuple(str(entry["number"]) for entry in tracking if entry.get("number"))
    urls = tuple(str(entry["url"]) for entry in tracking if entry.get("url"))
    company = next((str(entry["company"]) for entry in tracking if entry.get("company")), None)
    lines: tuple[FulfillmentLineRow, ...] | None = None
    connection = node.get("fulfillmentLineItems")
    if isinstance(connection, Mapping) and not _has_next_page(connection):
        lines = tuple(
            FulfillmentLineRow(
                line_item_id=parse_gid_id(
                    (item.get("lineItem") or {}).get("id"), expected="LineItem"
                ),
                quantity=int(item.get("quantity") or 0),
            )
            for item in _nodes(connection)
        )
    return FulfillmentRow(
        fulfillment_id=parse_gid_id(node.get("id"), expected="Fulfillment", field="fulfillment.id"),
        status=str(node.get("status") or "SUCCESS"),
        location_id=_optional_gid(node.get("location"), "Location"),
        tracking_company=company,
        tracking_numbers=numbers,
        tracking_urls=urls,
        created_at=_datetime(node.get("createdAt")),
        updated_at=_datetime(node.get("updatedAt")),
        lines=lines,
    )


async def _fulfillment_order(
    client: ShopifyClient, shop: str, access_token: str, node: Mapping[str, Any]
) -> FulfillmentOrderRow:
    fo_id = parse_gid_id(node.get("id"), expected="FulfillmentOrder", field="fulfillmentOrder.id")
    connection = node.get("lineItems")
    line_nodes = list(_nodes(connection))
    page = _page_info(connection)
    pages = 0
    while page is not None and pages < _MAX_PAGES:
        pages += 1
        more = await client.execute(
            shop,
            access_token,
            FULFILLMENT_ORDER_LINES,
            {"id": format_gid("FulfillmentOrder", fo_id), "after": page},
        )
        fo = more.get("fulfillmentOrder")
        connection = fo.get("lineItems") if isinstance(fo, Mapping) else None
        line_nodes.extend(_nodes(connection))
        page = _page_info(connection)
    assigned = node.get("assignedLocation")
    location = assigned.get("location") if isinstance(assigned, Mapping) else None
    return FulfillmentOrderRow(
        fulfillment_order_id=fo_id,
        status=str(node.get("status") or ""),
        request_status=node.get("requestStatus"),
        location_id=_optional_gid(location, "Location"),
        supported_actions=tuple(
            str(entry["action"])
            for entry in node.get("supportedActions") or []
            if isinstance(entry, Mapping) and entry.get("action")
        ),
        holds=tuple(
            dict(entry)
            for entry in node.get("fulfillmentHolds") or []
            if isinstance(entry, Mapping)
        ),
        fulfill_at=_datetime(node.get("fulfillAt")),
        updated_at=_datetime(node.get("updatedAt")),
        lines=tuple(_fulfillment_order_line(line) for line in line_nodes),
    )


def _fulfillment_order_line(node: Mapping[str, Any]) -> FulfillmentOrderLineRow:
    return FulfillmentOrderLineRow(
        fulfillment_order_line_id=parse_gid_id(node.get("id"), expected="FulfillmentOrderLineItem"),
        line_item_id=parse_gid_id((node.get("lineItem") or {}).get("id"), expected="LineItem"),
        sku=node.get("sku"),
        variant_id=_optional_gid(node.get("variant"), "ProductVariant"),
        total_quantity=int(node.get("totalQuantity") or 0),
        remaining_quantity=int(node.get("remainingQuantity") or 0),
    )


def _nodes(connection: object) -> list[Mapping[str, Any]]:
    if not isinstance(connection, Mapping):
        return []
    return [node for node in connection.get("nodes") or [] if isinstance(node, Mapping)]


def _has_next_page(connection: Mapping[str, Any]) -> bool:
    info = connection.get("pageInfo")
    return isinstance(info, Mapping) and bool(info.get("hasNextPage"))


def _page_info(connection: object) -> str | None:
    """The cursor to read the next page from, or None when this was the last page."""
    if not isinstance(connection, Mapping) or not _has_next_page(connection):
        return None
    cursor = connection["pageInfo"].get("endCursor")
    return str(cursor) if cursor else None


def _count(value: object) -> int | None:
    if isinstance(value, Mapping) and isinstance(value.get("count"), int):
        return int(value["count"])
    return None


def _optional_gid(node: object, resource: str) -> int | None:
    if not isinstance(node, Mapping) or node.get("id") is None:
        return None
    try:
        return parse_gid_id(node.get("id"), expected=resource)
    except InvalidIdError as error:
        raise ShopifyRequestError(f"bad {resource} id: {error}", shop="") from error


def _datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
