"""The generic supplier / 3PL event format (schema: ``generic_event.schema.json``).

One flat JSON object per event, delivered with Standard Webhooks signatures.
Every event carries ``version``, ``event_id`` (equal to the ``webhook-id``
header), ``type``, ``occurred_at`` (ISO-8601 with a zone), ``supplier``,
``supplier_order_id`` and at least one of ``shopify_order_id`` / ``order_name``.
"""

from __future__ import annotations

import json
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
)

__all__ = [
    "SCHEMA_VERSION",
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

SCHEMA_VERSION = 1
SCHEMA_FILE = "generic_event.schema.json"


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
    PENDING = "pending"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


_TRACKING_STATES = {
    CjTrackingStatus.NO_INFO: TrackingState.PENDING,
    CjTrackingStatus.OUT_FOR_DELIVERY: TrackingState.OUT_FOR_DELIVERY,
    CjTrackingStatus.AWAITING_PICKUP: TrackingState.AVAILABLE_FOR_PICKUP,
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


def line_item_json(item: LineItem) -> dict[str, Any]:
    out: dict[str, Any] = {"quantity": item.quantity}
    if item.shopify_line_item_id is not None:
        out["shopify_line_item_id"] = item.shopify_line_item_id
    if item.sku is not None:
        out["sku"] = item.sku
    if item.variant_id is not None:
        out["variant_id"] = item.variant_id
    return out


def _line_items(items: Sequence[LineItem]) -> list[dict[str, Any]]:
    return [line_item_json(item) for item in items]


def _base(
    order: SupplierOrder,
    *,
    event_id: str,
    event_type: GenericEventType,
    occurred_at: datetime,
    supplier_name: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "event_id": event_id,
        "type": event_type.value,
        "occurred_at": iso(occurred_at),
        "supplier": supplier_name,
        "supplier_order_id": order.supplier_order_id,
    }
    if order.shopify_order_id is not None:
        out["shopify_order_id"] = order.shopify_order_id
    if order.order_name is not None:
        out["order_name"] = order.order_name
    return out


def placed_event(
    order: SupplierOrder, *, event_id: str, occurred_at: datetime, supplier_name: str
) -> dict[str, Any]:
    out = _base(
        order,
        event_id=event_id,
        event_type=GenericEventType.ORDER_PLACED,
        occurred_at=occurred_at,
        supplier_name=supplier_name,
    )
    out["line_items"] = _line_items(order.line_items)
    return out


def _package_json(package: Package) -> dict[str, Any]:
    return {
        "package_id": package.package_id,
        "tracking_number": package.tracking_number,
        "carrier": package.carrier,
        "tracking_url": package.tracking_url,
        "line_items": _line_items(package.line_items),
    }


def shipped_event(
    order: SupplierOrder,
    packages: Sequence[Package],
    *,
    event_id: str,
    occurred_at: datetime,
    supplier_name: str,
) -> dict[str, Any]:
    out = _base(
        order,
        event_id=event_id,
        event_type=GenericEventType.ORDER_SHIPPED,
        occurred_at=occurred_at,
        supplier_name=supplier_name,
    )
    out["packages"] = [_package_json(p) for p in packages]
    return out


def tracking_updated_event(
    order: SupplierOrder,
    package: Package,
    *,
    event_id: str,
    occurred_at: datetime,
    supplier_name: str,
    previous_tracking_number: str | None = None,
) -> dict[str, Any]:
    out = _base(
        order,
        event_id=event_id,
        event_type=GenericEventType.TRACKING_UPDATED,
        occurred_at=occurred_at,
        supplier_name=supplier_name,
    )
    out["package_id"] = package.package_id
    out["tracking_number"] = package.tracking_number
    if previous_tracking_number is not None:
        out["previous_tracking_number"] = previous_tracking_number
    out["carrier"] = package.carrier
    out["tracking_url"] = package.tracking_url
    out["status"] = tracking_state(package.latest_status).value
    events = package.chronological_events()
    rendered = []
    for event in events:
        row: dict[str, Any] = {
            "occurred_at": iso(event.occurred_at),
            "status": tracking_state(event.status).value,
            "description": event.description,
        }
        if event.location:
            row["location"] = event.location
        rendered.append(row)
    out["events"] = rendered
    return out


def cancelled_event(
    order: SupplierOrder, *, event_id: str, occurred_at: datetime, supplier_name: str
) -> dict[str, Any]:
    out = _base(
        order,
        event_id=event_id,
        event_type=GenericEventType.ORDER_CANCELLED,
        occurred_at=occurred_at,
        supplier_name=supplier_name,
    )
    if order.cancel_reason is not None:
        out["reason"] = order.cancel_reason
    return out


def split_event(
    order: SupplierOrder,
    children: Sequence[SupplierOrder],
    *,
    event_id: str,
    occurred_at: datetime,
    supplier_name: str,
) -> dict[str, Any]:
    out = _base(
        order,
        event_id=event_id,
        event_type=GenericEventType.ORDER_SPLIT,
        occurred_at=occurred_at,
        supplier_name=supplier_name,
    )
    out["child_orders"] = [
        {
            "supplier_order_id": child.supplier_order_id,
            "line_items": _line_items(child.line_items),
        }
        for child in children
    ]
    return out
