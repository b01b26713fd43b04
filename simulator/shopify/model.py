"""In-memory state of simulated shops: orders, fulfillment orders, webhooks, tokens.

Plain mutable records; the rules that change them live in `behaviour.py`. Statuses use
Shopify's GraphQL enum spellings (`OPEN`, `IN_PROGRESS`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "PLAN_LIMITS",
    "AccessToken",
    "CallRecord",
    "Fulfillment",
    "FulfillmentHold",
    "FulfillmentLineItem",
    "FulfillmentOrder",
    "FulfillmentOrderLineItem",
    "FulfillmentOrderStatus",
    "LineItem",
    "Location",
    "Order",
    "Plan",
    "Shop",
    "TrackingInfo",
    "WebhookSubscription",
]


class Plan(StrEnum):
    """Shopify plans that set the GraphQL rate limit."""

    STANDARD = "standard"
    ADVANCED = "advanced"
    PLUS = "plus"
    ENTERPRISE = "enterprise"


# (bucket size, restore rate points/s): facts doc 4.1; the bucket is about 20x the rate.
PLAN_LIMITS: dict[Plan, tuple[float, float]] = {
    Plan.STANDARD: (2000.0, 100.0),
    Plan.ADVANCED: (4000.0, 200.0),
    Plan.PLUS: (20000.0, 1000.0),
    Plan.ENTERPRISE: (40000.0, 2000.0),
}

PLAN_DISPLAY_NAMES: dict[Plan, str] = {
    Plan.STANDARD: "Basic",
    Plan.ADVANCED: "Advanced",
    Plan.PLUS: "Shopify Plus",
    Plan.ENTERPRISE: "Shopify Plus",
}


class FulfillmentOrderStatus(StrEnum):
    """`FulfillmentOrderStatus` values of the Admin API."""

    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    ON_HOLD = "ON_HOLD"
    SCHEDULED = "SCHEDULED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    INCOMPLETE = "INCOMPLETE"


@dataclass(slots=True)
class Location:
    id: int
    name: str
    created_at: datetime


@dataclass(slots=True)
class LineItem:
    id: int
    sku: str | None
    title: str
    quantity: int
    price: str
    location_id: int
    variant_id: int | None
    product_id: int | None
    current_quantity: int
    requires_shipping: bool = True


@dataclass(slots=True)
class FulfillmentOrderLineItem:
    id: int
    line_item_id: int
    total_quantity: int
    remaining_quantity: int


@dataclass(slots=True)
class FulfillmentHold:
    id: int
    reason: str
    reason_notes: str | None
    handle: str | None
    external_id: str | None


@dataclass(slots=True)
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    status: FulfillmentOrderStatus
    created_at: datetime
    updated_at: datetime
    line_items: list[FulfillmentOrderLineItem]
    request_status: str = "UNSUBMITTED"
    fulfill_at: datetime | None = None
    holds: list[FulfillmentHold] = field(default_factory=list)
    fulfillment_ids: list[int] = field(default_factory=list)

    def remaining_total(self) -> int:
        return sum(item.remaining_quantity for item in self.line_items)

    def is_partially_fulfilled(self) -> bool:
        return any(
            item.remaining_quantity < item.total_quantity for item in self.line_items
        )


@dataclass(slots=True)
class TrackingInfo:
    number: str | None
    url: str | None
    company: str | None


@dataclass(slots=True)
class FulfillmentLineItem:
    id: int
    line_item_id: int
    quantity: int
    fulfillment_order_id: int
    fulfillment_order_line_item_id: int


@dataclass(slots=True)
class Fulfillment:
    id: int
    order_id: int
    location_id: int
    name: str
    status: str
    created_at: datetime
    updated_at: datetime
    tracking: list[TrackingInfo]
    line_items: list[FulfillmentLineItem]
    fulfillment_order_ids: list[int]
    notify_customer: bool
    origin_address: dict[str, Any] | None
    created_by: str
    message: str | None = None

    def total_quantity(self) -> int:
        return sum(item.quantity for item in self.line_items)


@dataclass(slots=True)
class Order:
    id: int
    number: int
    name: str
    email: str | None
    phone: str | None
    note: str | None
    customer: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    financial_status: str
    currency: str
    created_at: datetime
    updated_at: datetime
    test: bool
    line_items: list[LineItem]
    custom_attributes: list[tuple[str, str | None]]
    tags: list[str]
    routing_due_at: float
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    routed: bool = False
    fulfillment_order_ids: list[int] = field(default_factory=list)
    fulfillment_ids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class WebhookSubscription:
    id: int
    topic: str
    uri: str
    format: str
    include_fields: list[str]
    metafield_namespaces: list[str]
    name: str | None
    filter: str | None
    api_version: str
    created_at: datetime
    updated_at: datetime
    consecutive_failures: int = 0


@dataclass(slots=True)
class AccessToken:
    token: str
    shop: str
    scope: str
    expires_at: float | None
    kind: str
    revoked: bool = False
    refresh_token: str | None = None


@dataclass(slots=True)
class CallRecord:
    """One Admin API call as the simulator saw it (for tests and benchmarks)."""

    shop: str
    operation: str
    operation_name: str | None
    requested_cost: int | None
    actual_cost: int | None
    outcome: str
    at: float
    http_status: int
    root_fields: tuple[str, ...] = ()


@dataclass(slots=True)
class Shop:
    domain: str
    id: int
    name: str
    plan: Plan
    client_id: str
    client_secret: str
    timezone: str
    scope: str
    email: str
    created_at: datetime
    primary_location_id: int
    bucket_available: float
    bucket_updated_at: float
    locations: dict[int, Location] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    fulfillment_orders: dict[int, FulfillmentOrder] = field(default_factory=dict)
    fulfillments: dict[int, Fulfillment] = field(default_factory=dict)
    subscriptions: dict[int, WebhookSubscription] = field(default_factory=dict)
    line_item_index: dict[int, int] = field(default_factory=dict)
    fo_line_item_index: dict[int, int] = field(default_factory=dict)
    hold_index: dict[int, int] = field(default_factory=dict)
    next_order_number: int = 1001
    installed: bool = True
    default_webhook_url: str | None = None

    @property
    def bucket_size(self) -> float:
        return PLAN_LIMITS[self.plan][0]

    @property
    def restore_rate(self) -> float:
        return PLAN_LIMITS[self.plan][1]
