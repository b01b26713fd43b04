"""The simulator's in-memory picture of supplier orders, packages and tracking.

This is the simulator's own model, deliberately independent of dropsync's
``core``: each supplier module renders it into that supplier's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

__all__ = [
    "CjTrackingStatus",
    "LineItem",
    "OrderStatus",
    "Package",
    "Supplier",
    "SupplierOrder",
    "TrackingEvent",
    "line_item_key",
]


class Supplier(StrEnum):
    """The suppliers the simulator can play."""

    CJ = "cj"
    ALIEXPRESS = "aliexpress"
    GENERIC = "generic"


class OrderStatus(StrEnum):
    """Lifecycle of a supplier order as the simulator tracks it."""

    PLACED = "placed"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    # The order was replaced by several child orders (CJ ORDERSPLIT).
    SPLIT = "split"


class CjTrackingStatus(IntEnum):
    """CJ ``trackingStatus`` codes 0-14; the simulator uses them for every supplier."""

    NO_INFO = 0
    WAREHOUSE_OUTBOUND = 1
    FORWARDER_INBOUND = 2
    FORWARDER_RETURN = 3
    FORWARDER_OUTBOUND = 4
    FIRST_LEG = 5
    ARRIVED_IN_DESTINATION = 6
    CUSTOMS_STARTED = 7
    CUSTOMS_CLEARED = 8
    LAST_MILE_PICKUP = 9
    OUT_FOR_DELIVERY = 10
    AWAITING_PICKUP = 11
    DELIVERED = 12
    ABNORMAL = 13
    RETURNED = 14

    @property
    def description(self) -> str:
        return _CJ_STATUS_TEXT[self]


_CJ_STATUS_TEXT = {
    CjTrackingStatus.NO_INFO: "No tracking info yet",
    CjTrackingStatus.WAREHOUSE_OUTBOUND: "Warehouse outbound",
    CjTrackingStatus.FORWARDER_INBOUND: "Freight forwarder inbound",
    CjTrackingStatus.FORWARDER_RETURN: "Forwarder return",
    CjTrackingStatus.FORWARDER_OUTBOUND: "Forwarder outbound",
    CjTrackingStatus.FIRST_LEG: "First-leg transport",
    CjTrackingStatus.ARRIVED_IN_DESTINATION: "Arrived in destination country",
    CjTrackingStatus.CUSTOMS_STARTED: "Customs clearance started",
    CjTrackingStatus.CUSTOMS_CLEARED: "Customs cleared",
    CjTrackingStatus.LAST_MILE_PICKUP: "Last-mile pickup",
    CjTrackingStatus.OUT_FOR_DELIVERY: "Out for delivery",
    CjTrackingStatus.AWAITING_PICKUP: "Awaiting pickup",
    CjTrackingStatus.DELIVERED: "Delivered",
    CjTrackingStatus.ABNORMAL: "Abnormal",
    CjTrackingStatus.RETURNED: "Returned",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LineItem:
    """One ordered product line.

    ``variant_id`` is the supplier's variant id (CJ ``vid``, AliExpress SKU id);
    generic events pass it through unchanged. ``product_id`` is the supplier's
    product id (CJ product code, AliExpress product id).
    """

    quantity: int
    sku: str | None = None
    variant_id: str | None = None
    shopify_line_item_id: str | None = None
    product_id: str | None = None
    title: str | None = None
    unit_price: str = "4.99"

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")
        if not (self.sku or self.variant_id or self.shopify_line_item_id):
            raise ValueError("a line item needs a sku, a variant_id or a shopify_line_item_id")


def line_item_key(item: LineItem) -> tuple[str | None, str | None, str | None]:
    """Identify a line independently of its quantity."""
    return (item.shopify_line_item_id, item.variant_id, item.sku)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingEvent:
    """One carrier scan."""

    occurred_at: datetime
    status: CjTrackingStatus
    description: str
    location: str = ""


@dataclass(slots=True, kw_only=True)
class Package:
    """One parcel with one tracking number; mutable because numbers get corrected."""

    package_id: str
    tracking_number: str
    carrier: str
    tracking_url: str
    line_items: tuple[LineItem, ...]
    shipped_at: datetime
    events: list[TrackingEvent] = field(default_factory=list)
    previous_tracking_numbers: list[str] = field(default_factory=list)

    def chronological_events(self) -> list[TrackingEvent]:
        """Events oldest first; scans at the same instant keep their arrival order."""
        return sorted(self.events, key=lambda event: event.occurred_at)

    @property
    def latest_status(self) -> CjTrackingStatus:
        if not self.events:
            return CjTrackingStatus.NO_INFO
        return self.chronological_events()[-1].status

    @property
    def is_delivered(self) -> bool:
        return self.latest_status is CjTrackingStatus.DELIVERED


@dataclass(slots=True, kw_only=True)
class SupplierOrder:
    """A supplier-side order placed by the merchant for one Shopify order.

    ``merchant_reference`` is what the merchant sent when ordering: CJ
    ``orderNumber``, AliExpress ``out_order_id``, or the generic order name.
    """

    supplier: Supplier
    supplier_order_id: str
    merchant_reference: str
    line_items: tuple[LineItem, ...]
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    shopify_order_id: str | None = None
    order_name: str | None = None
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    packages: list[Package] = field(default_factory=list)
    split_from: str | None = None
    split_into: list[str] = field(default_factory=list)
    logistic_name: str | None = None

    def package(self, package_id: str | None = None) -> Package:
        """Return the named package, or the only/latest one when no id is given."""
        if not self.packages:
            raise ValueError(f"order {self.supplier_order_id} has no packages yet")
        if package_id is None:
            return self.packages[-1]
        for package in self.packages:
            if package.package_id == package_id:
                return package
        raise KeyError(package_id)
