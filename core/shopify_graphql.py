"""GraphQL documents for push-back, and pure converters to and from the planner.

The push worker, for one order:

1. runs :data:`ORDER_PUSH_STATE_QUERY` and hands ``data.order`` to
   :func:`parse_order_push_state`, which returns the planner's inputs read fresh
   from Shopify (order flags, fulfillment orders, existing fulfilments);
2. calls :func:`core.planner.plan_push`;
3. sends each :class:`~core.planner.CreateFulfillment` as
   :data:`FULFILLMENT_CREATE_MUTATION` with :func:`fulfillment_create_variables`, and
   each :class:`~core.planner.UpdateTracking` as
   :data:`TRACKING_INFO_UPDATE_MUTATION` with :func:`tracking_update_variables`.

The documents validate against the Admin GraphQL 2026-10 schema. The variables
follow ``FulfillmentTrackingInput``'s rules (facts doc 3.3): ``number``/``url`` for
one number, ``numbers``/``urls`` for several, never both forms; ``url(s)`` only with
``number(s)``; ``notifyCustomer`` always explicit (Shopify's default is false).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from core.errors import PayloadError
from core.ids import (
    FulfillmentId,
    FulfillmentOrderId,
    FulfillmentOrderLineItemId,
    GidType,
    LineItemId,
    LocationId,
    OrderId,
    VariantId,
    format_gid,
)
from core.json_reader import JsonObject
from core.planner import (
    CreateFulfillment,
    ExistingFulfillment,
    FulfillmentOrderAction,
    FulfillmentOrderLine,
    FulfillmentOrderRequestStatus,
    FulfillmentOrderState,
    FulfillmentOrderStatus,
    OrderState,
    UpdateTracking,
)

__all__ = [
    "FULFILLMENT_CREATE_MUTATION",
    "ORDER_PUSH_STATE_QUERY",
    "TRACKING_INFO_UPDATE_MUTATION",
    "OrderPushState",
    "fulfillment_create_variables",
    "parse_order_push_state",
    "tracking_update_variables",
]

ORDER_PUSH_STATE_QUERY = """
query OrderPushState($id: ID!) {
  order(id: $id) {
    id
    name
    cancelledAt
    closed
    fulfillmentOrders(first: 50) {
      pageInfo { hasNextPage }
      nodes {
        id
        status
        requestStatus
        assignedLocation { location { id } }
        supportedActions { action }
        fulfillmentHolds { reason }
        lineItems(first: 250) {
          pageInfo { hasNextPage }
          nodes { id sku remainingQuantity lineItem { id } variant { id } }
        }
      }
    }
    fulfillments(first: 250) {
      id
      status
      trackingInfo(first: 250) { company number url }
    }
  }
}
"""

FULFILLMENT_CREATE_MUTATION = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id status trackingInfo(first: 250) { company number url } }
    userErrors { field message }
  }
}
"""

TRACKING_INFO_UPDATE_MUTATION = """
mutation FulfillmentTrackingInfoUpdate(
  $fulfillmentId: ID!
  $trackingInfoInput: FulfillmentTrackingInput!
  $notifyCustomer: Boolean
) {
  fulfillmentTrackingInfoUpdate(
    fulfillmentId: $fulfillmentId
    trackingInfoInput: $trackingInfoInput
    notifyCustomer: $notifyCustomer
  ) {
    fulfillment { id status trackingInfo(first: 250) { company number url } }
    userErrors { field message }
  }
}
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPushState:
    """The planner's Shopify-side inputs for one order, read at push time."""

    name: str
    order: OrderState
    fulfillment_orders: tuple[FulfillmentOrderState, ...]
    fulfillments: tuple[ExistingFulfillment, ...]


def parse_order_push_state(order: Mapping[str, object]) -> OrderPushState:
    """Read ``data.order`` of :data:`ORDER_PUSH_STATE_QUERY`.

    Raises
    ------
    PayloadError
        If the node is malformed, a status is unknown, or a connection has more
        pages than the query reads (planning on partial data could skip items).
    """
    node = JsonObject(order, path="order")
    fos = node.req_obj("fulfillmentOrders")
    _require_single_page(fos)
    return OrderPushState(
        name=node.req_str("name"),
        order=OrderState(
            order_id=OrderId(node.shopify_id(GidType.ORDER)),
            cancelled=node.has("cancelledAt"),
            closed=node.opt_bool("closed", default=False),
        ),
        fulfillment_orders=tuple(_fulfillment_order(fo) for fo in fos.objs("nodes")),
        fulfillments=tuple(_fulfillment(f) for f in node.objs("fulfillments")),
    )


def fulfillment_create_variables(action: CreateFulfillment) -> dict[str, object]:
    """Return the variables of :data:`FULFILLMENT_CREATE_MUTATION` for `action`."""
    fulfillment: dict[str, object] = {
        "notifyCustomer": action.notify_customer,
        "lineItemsByFulfillmentOrder": [
            {
                "fulfillmentOrderId": format_gid(
                    GidType.FULFILLMENT_ORDER, group.fulfillment_order_id
                ),
                "fulfillmentOrderLineItems": [
                    {
                        "id": format_gid(
                            GidType.FULFILLMENT_ORDER_LINE_ITEM,
                            line.fulfillment_order_line_item_id,
                        ),
                        "quantity": line.quantity,
                    }
                    for line in group.lines
                ],
            }
            for group in action.line_items_by_fulfillment_order
        ],
    }
    tracking = _tracking_input(
        action.tracking_numbers, action.tracking_company, action.tracking_urls
    )
    if tracking:
        fulfillment["trackingInfo"] = tracking
    return {"fulfillment": fulfillment}


def tracking_update_variables(action: UpdateTracking) -> dict[str, object]:
    """Return the variables of :data:`TRACKING_INFO_UPDATE_MUTATION` for `action`."""
    return {
        "fulfillmentId": format_gid(GidType.FULFILLMENT, action.fulfillment_id),
        "trackingInfoInput": _tracking_input(
            action.tracking_numbers, action.tracking_company, action.tracking_urls
        ),
        "notifyCustomer": action.notify_customer,
    }


def _tracking_input(
    numbers: tuple[str, ...], company: str | None, urls: tuple[str, ...]
) -> dict[str, object]:
    tracking: dict[str, object] = {}
    if company:
        tracking["company"] = company
    if len(numbers) == 1:
        tracking["number"] = numbers[0]
        if len(urls) == 1:
            tracking["url"] = urls[0]
    elif numbers:
        tracking["numbers"] = list(numbers)
        if len(urls) == len(numbers):
            tracking["urls"] = list(urls)
    return tracking


def _fulfillment_order(node: JsonObject) -> FulfillmentOrderState:
    lines = node.req_obj("lineItems")
    _require_single_page(lines)
    location = node.opt_obj("assignedLocation")
    location_node = location.opt_obj("location") if location else None
    return FulfillmentOrderState(
        fulfillment_order_id=FulfillmentOrderId(node.shopify_id(GidType.FULFILLMENT_ORDER)),
        status=_enum(node, "status", FulfillmentOrderStatus),
        request_status=_enum(node, "requestStatus", FulfillmentOrderRequestStatus),
        location_id=(
            LocationId(location_node.shopify_id(GidType.LOCATION)) if location_node else None
        ),
        supported_actions=frozenset(
            FulfillmentOrderAction(action)
            for item in node.objs("supportedActions")
            if (action := item.req_str("action")) in _KNOWN_ACTIONS
        ),
        hold_reasons=tuple(h.req_str("reason") for h in node.objs("fulfillmentHolds")),
        line_items=tuple(_fulfillment_order_line(line) for line in lines.objs("nodes")),
    )


_KNOWN_ACTIONS = frozenset(action.value for action in FulfillmentOrderAction)


def _fulfillment_order_line(node: JsonObject) -> FulfillmentOrderLine:
    variant = node.opt_obj("variant")
    return FulfillmentOrderLine(
        fulfillment_order_line_item_id=FulfillmentOrderLineItemId(
            node.shopify_id(GidType.FULFILLMENT_ORDER_LINE_ITEM)
        ),
        line_item_id=LineItemId(node.req_obj("lineItem").shopify_id(GidType.LINE_ITEM)),
        sku=node.opt_str("sku") or None,
        variant_id=(VariantId(variant.shopify_id(GidType.PRODUCT_VARIANT)) if variant else None),
        remaining_quantity=node.req_count("remainingQuantity"),
    )


def _fulfillment(node: JsonObject) -> ExistingFulfillment:
    tracking = node.objs("trackingInfo")
    numbers = [t.opt_str("number") for t in tracking]
    urls = [t.opt_str("url") for t in tracking]
    companies = [c for t in tracking if (c := t.opt_str("company"))]
    return ExistingFulfillment(
        fulfillment_id=FulfillmentId(node.shopify_id(GidType.FULFILLMENT)),
        status=node.req_str("status"),
        tracking_company=companies[0] if companies else None,
        tracking_numbers=tuple(n for n in numbers if n),
        tracking_urls=tuple(u for u in urls if u) if all(urls) else (),
    )


_E = TypeVar("_E", bound=StrEnum)


def _enum(node: JsonObject, key: str, kind: type[_E]) -> _E:
    raw = node.req_str(key)
    try:
        return kind(raw)
    except ValueError as exc:
        raise PayloadError(
            f"{raw!r} is not a known {kind.__name__}", field=node.field(key)
        ) from exc


def _require_single_page(connection: JsonObject) -> None:
    page = connection.opt_obj("pageInfo")
    if page is not None and page.opt_bool("hasNextPage", default=False):
        raise PayloadError(
            "has more pages than one query reads; refusing to plan on partial data",
            field=connection.path,
        )
