"""The generic supplier / 3PL event format dropsync publishes (``generic_event.schema.json``).

The schema file is a verbatim copy of dropsync's published contract; these
builders are written from that documented shape, not from dropsync's parser,
so a misreading on either side shows up as a failed delivery. Each event is a
Standard Webhooks style envelope::

    {"type": "order.shipped", "timestamp": "...Z",
     "data": {"supplier_order_id": ..., "occurred_at": "...Z",
              "shopify_order_id": 5550000001 | "gid://shopify/Order/...",
              "order_name": "#1001", "status": "shipped",
              "packages": [{"tracking_number", "carrier", "tracking_url",
                            "line_items": [...], "status", "events": [...]}]}}

The ``webhook-id`` header (not the body) identifies a delivery.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from typing import Any

from simulator.suppliers.model import (
    CjTrackingStatus,
    LineItem,
    Package,
    SupplierOrder,
    TrackingEvent,
)

__all__ = [
    "GenericEventType",
    "TrackingState",
    "cancelled_event",
    "iso",
    "line_item_json",
    "load_schema",
    "placed_event",
    "shipped_event",
    "split_event",
    "tracking_state",
    "tracking_updated_event",
    "tracking_url",
]

SCHEMA_FILE = "generic_event.schema.json"

_MAX_BIGINT = 9_223_372_036_854_775_807
_DIGITS = re.compile(r"[1-9][0-9]*")


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) every generic event satisfies."""
    text = resources.files("simulator.suppliers").joinpath(SCHEMA_FILE).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


class GenericEventType(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_SHIPPED = "order.shipped"
    TRACKING_UPDATED = "tracking.updated"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_SPLIT = "order.split"


class TrackingState(StrEnum):
    """The format's ``trackingStatus`` values."""

    NO_INFO = "no_info"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AWAITING_PICKUP = "awaiting_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


_TRACKING_STATES = {
    CjTrackingStatus.NO_INFO: TrackingState.NO_INFO,
    CjTrackingStatus.OUT_FOR_DELIVERY: TrackingState.OUT_FOR_DELIVERY,
    CjTrackingStatus.AWAITING_PICKUP: TrackingState.AWAITING_PICKUP,
    CjTrackingStatus.DELIVERED: TrackingState.DELIVERED,
    CjTrackingStatus.ABNORMAL: TrackingState.EXCEPTION,
    CjTrackingStatus.RETURNED: TrackingState.RETURNED,
}


def tracking_state(status: CjTrackingStatus) -> TrackingState:
    """Collapse CJ's 0-14 codes into the generic format's states."""
    return _TRACKING_STATES.get(status, TrackingState.IN_TRANSIT)


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def tracking_url(tracking_number: str) -> str:
    return f"https://www.ups.com/track?tracknum={tracking_number}"


def _shopify_id(raw: str | None, *, resource: str) -> int | str | None:
    """A Shopify id as the format wants it: a JSON integer, or the resource's GID.

    The simulator's model keeps ids as text; anything that is neither digits nor
    a GID of the right resource has no place in the format and is left out.
    """
    if raw is None:
        return None
    text = raw.strip()
    if _DIGITS.fullmatch(text) and int(text) <= _MAX_BIGINT:
        return int(text)
    prefix = f"gid://shopify/{resource}/"
    if text.startswith(prefix) and _DIGITS.fullmatch(text[len(prefix) :]):
        return text
    return None


def line_item_json(item: LineItem) -> dict[str, Any]:
    """One ``lineItem``: quantity plus whichever Shopify ids and SKU the line has.

    Raises
    ------
    ValueError
        If the line carries no reference the format accepts (for example only a
        supplier-side variant id that is not a Shopify variant id).
    """
    out: dict[str, Any] = {"quantity": item.quantity}
    line_item_id = _shopify_id(item.shopify_line_item_id, resource="LineItem")
    if line_item_id is not None:
        out["shopify_line_item_id"] = line_item_id
    if item.sku is not None and item.sku.strip():
        out["sku"] = item.sku
    variant_id = _shopify_id(item.variant_id, resource="ProductVariant")
    if variant_id is not None:
        out["variant_id"] = variant_id
    if len(out) == 1:
        raise ValueError(
            f"line item {item!r} has no shopify_line_item_id, sku or Shopify variant_id"
        )
    return out


def _line_items(items: Sequence[LineItem]) -> list[dict[str, Any]]:
    return [line_item_json(item) for item in items]


def _envelope(
    order: SupplierOrder, *, event_type: GenericEventType, occurred_at: datetime
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "supplier_order_id": order.supplier_order_id,
        "occurred_at": iso(occurred_at),
        "status": order.status.value,
    }
    shopify_order_id = _shopify_id(order.shopify_order_id, resource="Order")
    if shopify_order_id is not None:
        data["shopify_order_id"] = shopify_order_id
    order_name = order.order_name
    if shopify_order_id is None and not (order_name and order_name.strip()):
        # The format needs one Shopify reference; the merchant's own reference
        # is the order name they ordered under.
        order_name = order.merchant_reference
    if order_name is not None and order_name.strip():
        data["order_name"] = order_name
    return {"type": event_type.value, "timestamp": iso(occurred_at), "data": data}


def _event_json(event: TrackingEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "occurred_at": iso(event.occurred_at),
        "status": tracking_state(event.status).value,
        "description": event.description,
    }
    if event.location:
        out["location"] = event.location
    return out


def _package_json(package: Package) -> dict[str, Any]:
    return {
        "tracking_number": package.tracking_number,
        "carrier": package.carrier,
        "tracking_url": package.tracking_url,
        "line_items": _line_items(package.line_items),
        "status": tracking_state(package.latest_status).value,
        "events": [_event_json(event) for event in package.chronological_events()],
    }


def placed_event(order: SupplierOrder, *, occurred_at: datetime) -> dict[str, Any]:
    return _envelope(order, event_type=GenericEventType.ORDER_PLACED, occurred_at=occurred_at)


def shipped_event(
    order: SupplierOrder, packages: Sequence[Package], *, occurred_at: datetime
) -> dict[str, Any]:
    out = _envelope(order, event_type=GenericEventType.ORDER_SHIPPED, occurred_at=occurred_at)
    out["data"]["packages"] = [_package_json(package) for package in packages]
    return out


def tracking_updated_event(
    order: SupplierOrder,
    package: Package,
    *,
    occurred_at: datetime,
    previous_tracking_number: str | None = None,
) -> dict[str, Any]:
    """New scans or a corrected tracking number for one package (its current state).

    After a relabel `previous_tracking_number` names the number the new one replaces.
    """
    out = _envelope(order, event_type=GenericEventType.TRACKING_UPDATED, occurred_at=occurred_at)
    package_json = _package_json(package)
    if previous_tracking_number is not None:
        package_json["previous_tracking_number"] = previous_tracking_number
    out["data"]["packages"] = [package_json]
    return out


def cancelled_event(order: SupplierOrder, *, occurred_at: datetime) -> dict[str, Any]:
    out = _envelope(order, event_type=GenericEventType.ORDER_CANCELLED, occurred_at=occurred_at)
    if order.cancel_reason is not None:
        out["data"]["reason"] = order.cancel_reason
    return out


def split_event(
    order: SupplierOrder, children: Sequence[SupplierOrder], *, occurred_at: datetime
) -> dict[str, Any]:
    out = _envelope(order, event_type=GenericEventType.ORDER_SPLIT, occurred_at=occurred_at)
    out["data"]["split_into"] = [
        {
            "supplier_order_id": child.supplier_order_id,
            "status": child.status.value,
            "created_at": iso(child.created_at),
            "line_items": _line_items(child.line_items),
        }
        for child in children
    ]
    return out
