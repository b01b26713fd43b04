"""The one normalised model of what suppliers tell us.

Every supplier adapter (CJdropshipping, AliExpress, our generic format) turns its
messages into these values, so everything downstream handles one shape:

* :class:`SupplierEvent`: something happened to a supplier order (placed, shipped
  with packages, tracking updated, cancelled, split into several supplier orders).
  Each carries a `dedup_key` (unique per delivered message) and, when the supplier
  says, the merchant's `shopify_reference` to the Shopify order (feed it to
  :func:`core.order_reference.reference_keys`).
* :class:`SupplierHint`: a push that only says "look at order X again"
  (AliExpress message push); the worker re-reads the order through the API.
* :class:`SupplierOrderState`: the full state of a supplier order as read from the
  supplier's order-detail API.
* :class:`IgnoredSupplierMessage`: a well-formed message of a type we do not use.

Times are tz-aware UTC. Tracking numbers keep the supplier's text and a matching key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.ids import LineItemId, VariantId
from core.tracking import TrackingNumber

__all__ = [
    "CJ_TRACKING_STATUS",
    "IgnoredSupplierMessage",
    "PackageItem",
    "ShippedPackage",
    "SplitPart",
    "Supplier",
    "SupplierEvent",
    "SupplierEventKind",
    "SupplierHint",
    "SupplierOrderState",
    "TrackingEvent",
    "TrackingStatus",
    "tracking_status_from_cj",
]


class Supplier(StrEnum):
    CJ = "cj"
    ALIEXPRESS = "aliexpress"
    GENERIC = "generic"


class SupplierEventKind(StrEnum):
    """What happened to the supplier order (the generic format's event types)."""

    ORDER_PLACED = "order.placed"
    ORDER_SHIPPED = "order.shipped"
    TRACKING_UPDATED = "tracking.updated"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_SPLIT = "order.split"


class TrackingStatus(StrEnum):
    """A coarse, supplier-independent parcel status."""

    NO_INFO = "no_info"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AWAITING_PICKUP = "awaiting_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED = "returned"


# CJ `trackingStatus` codes and their documented meanings (facts doc 7.3).
CJ_TRACKING_STATUS: Mapping[int, tuple[str, TrackingStatus]] = {
    0: ("No tracking info yet", TrackingStatus.NO_INFO),
    1: ("Warehouse outbound", TrackingStatus.IN_TRANSIT),
    2: ("Freight forwarder inbound", TrackingStatus.IN_TRANSIT),
    3: ("Forwarder return", TrackingStatus.EXCEPTION),
    4: ("Forwarder outbound", TrackingStatus.IN_TRANSIT),
    5: ("First-leg transport", TrackingStatus.IN_TRANSIT),
    6: ("Arrived in destination country", TrackingStatus.IN_TRANSIT),
    7: ("Customs clearance started", TrackingStatus.IN_TRANSIT),
    8: ("Customs cleared", TrackingStatus.IN_TRANSIT),
    9: ("Last-mile pickup", TrackingStatus.IN_TRANSIT),
    10: ("Out for delivery", TrackingStatus.OUT_FOR_DELIVERY),
    11: ("Awaiting pickup", TrackingStatus.AWAITING_PICKUP),
    12: ("Signed for / delivered", TrackingStatus.DELIVERED),
    13: ("Failure / abnormal", TrackingStatus.EXCEPTION),
    14: ("Returned", TrackingStatus.RETURNED),
}


def tracking_status_from_cj(code: int) -> TrackingStatus | None:
    """Return the status for a CJ ``trackingStatus`` code (``None`` if unknown)."""
    entry = CJ_TRACKING_STATUS.get(code)
    return entry[1] if entry else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageItem:
    """An item in a package or split part, identified as well as the supplier can.

    `shopify_line_item_id`, `sku` and `variant_id` refer to the Shopify order;
    `supplier_variant_id` is the supplier's own id (CJ ``vid``), kept for reports.
    """

    shopify_line_item_id: LineItemId | None
    sku: str | None
    variant_id: VariantId | None
    supplier_variant_id: str | None
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingEvent:
    """One carrier scan."""

    occurred_at: datetime
    status: TrackingStatus | None
    description: str
    location: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShippedPackage:
    """A parcel with one tracking number.

    `items` is empty when the supplier does not say what is inside (AliExpress
    ``logistics_info_list``, CJ ``ORDER`` messages). `previous_tracking` is set when
    the supplier says this number replaces another (a relabel, generic format).
    """

    tracking: TrackingNumber
    carrier: str | None
    tracking_url: str | None
    items: tuple[PackageItem, ...]
    status: TrackingStatus | None
    events: tuple[TrackingEvent, ...]
    previous_tracking: TrackingNumber | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitPart:
    """One of the supplier orders an order was split into."""

    supplier_order_id: str
    status: str | None
    items: tuple[PackageItem, ...]
    created_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierEvent:
    """One normalised supplier message.

    `packages` is set for ``order.shipped`` and ``tracking.updated``; `split_into`
    for ``order.split``; `reason` may be set for ``order.cancelled``.
    `supplier_status` is the supplier's raw status text, for reports.
    """

    supplier: Supplier
    kind: SupplierEventKind
    dedup_key: str
    supplier_order_id: str
    shopify_reference: str | None
    occurred_at: datetime | None
    supplier_status: str | None
    packages: tuple[ShippedPackage, ...]
    split_into: tuple[SplitPart, ...]
    reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierHint:
    """A push that only names an order to re-read."""

    supplier: Supplier
    dedup_key: str
    supplier_order_id: str
    status: str | None
    occurred_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierOrderState:
    """A supplier order as read from its order-detail API."""

    supplier: Supplier
    supplier_order_id: str
    shopify_reference: str | None
    status: str | None
    logistics_status: str | None
    cancelled: bool
    created_at: datetime | None
    items: tuple[PackageItem, ...]
    packages: tuple[ShippedPackage, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class IgnoredSupplierMessage:
    """A valid message of a type dropsync does not use (kept, not applied)."""

    supplier: Supplier
    message_type: str
    dedup_key: str | None
