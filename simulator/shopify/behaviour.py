"""The rules of the simulated shop: order routing, fulfilment, holds, moves, cancels.

Every state change goes through `ShopBehaviour`, whether a GraphQL mutation asked for it
or a test acted "underneath" the client (as the merchant or another app would). Failures
a client can cause raise `UserErrors`, which the GraphQL layer turns into `userErrors`.
Each change emits the webhook topics Shopify would send, with payloads built at trigger
time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulator.shopify.ids import IdAllocator, gid
from simulator.shopify.model import (
    Fulfillment,
    FulfillmentHold,
    FulfillmentLineItem,
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    FulfillmentOrderStatus,
    LineItem,
    Location,
    Order,
    Shop,
    TrackingInfo,
    WebhookSubscription,
)
from simulator.shopify.payloads import (
    fulfilled_quantities,
    fulfillment_order_brief,
    fulfillment_payload,
    order_payload,
    placed_on_hold_payload,
)
from simulator.shopify.tracking import tracking_url_for

__all__ = [
    "FULFILLABLE_STATUSES",
    "FulfillmentRequest",
    "ShopBehaviour",
    "UserErrorSpec",
    "UserErrors",
    "supported_actions",
]

Status = FulfillmentOrderStatus
FULFILLABLE_STATUSES = frozenset({Status.OPEN, Status.IN_PROGRESS})
_LIVE_STATUSES = frozenset(
    {Status.OPEN, Status.IN_PROGRESS, Status.ON_HOLD, Status.SCHEDULED}
)
MAX_HOLDS = 10
Emit = Callable[[Shop, str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class UserErrorSpec:
    """One entry of a mutation's `userErrors`."""

    field: tuple[str, ...] | None
    message: str
    code: str | None = None

    def as_graphql(self) -> dict[str, Any]:
        return {
            "field": list(self.field) if self.field is not None else None,
            "message": self.message,
            "code": self.code,
        }


class UserErrors(Exception):  # noqa: N818 - named after Shopify's `userErrors`
    """A mutation was refused; carries the `userErrors` Shopify would return."""

    def __init__(self, errors: Sequence[UserErrorSpec]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = list(errors)


def _refuse(
    field: Sequence[str] | None, message: str, code: str | None = None
) -> UserErrors:
    return UserErrors(
        [
            UserErrorSpec(
                field=tuple(field) if field else None, message=message, code=code
            )
        ]
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentRequest:
    """One `lineItemsByFulfillmentOrder` entry: an FO and optional (item, qty)s."""

    fulfillment_order_id: int
    line_items: tuple[tuple[int, int], ...] | None = None


def supported_actions(shop: Shop, fulfillment_order: FulfillmentOrder) -> list[str]:
    """Derive `supportedActions` from the FO's status, holds and quantities."""
    status = fulfillment_order.status
    can_move = len(shop.locations) > 1
    actions: list[str] = []
    if status in FULFILLABLE_STATUSES:
        actions += ["CREATE_FULFILLMENT", "HOLD"]
        if can_move:
            actions.append("MOVE")
        if fulfillment_order.remaining_total() > 1:
            actions.append("SPLIT")
        if status is Status.OPEN:
            actions.append("CANCEL_FULFILLMENT_ORDER")
    elif status is Status.ON_HOLD:
        actions.append("RELEASE_HOLD")
        if len(fulfillment_order.holds) < MAX_HOLDS:
            actions.append("HOLD")
    elif status is Status.SCHEDULED:
        actions.append("MARK_AS_OPEN")
    return actions


class ShopBehaviour:
    """Apply Shopify's rules to a shop's in-memory state and emit webhook topics."""

    def __init__(
        self, *, ids: IdAllocator, now: Callable[[], datetime], emit: Emit
    ) -> None:
        self._ids = ids
        self._now = now
        self._emit = emit

    # ----------------------------------------------------------------- orders

    def add_location(self, shop: Shop, *, name: str) -> Location:
        for location in shop.locations.values():
            if location.name == name:
                return location
        location = Location(id=self._ids.allocate(), name=name, created_at=self._now())
        shop.locations[location.id] = location
        return location

    def create_order(
        self,
        shop: Shop,
        *,
        line_items: Sequence[dict[str, Any]],
        routing_due_at: float,
        details: dict[str, Any],
    ) -> Order:
        now = self._now()
        items = [self._new_line_item(shop, spec) for spec in line_items]
        number = shop.next_order_number
        shop.next_order_number += 1
        order = Order(
            id=self._ids.allocate(),
            number=number,
            name=details.get("name") or f"#{number}",
            email=details.get("email"),
            phone=details.get("phone"),
            note=details.get("note"),
            customer=details.get("customer"),
            shipping_address=details.get("shipping_address"),
            financial_status=details.get("financial_status") or "paid",
            currency=details.get("currency") or "USD",
            created_at=details.get("created_at") or now,
            updated_at=details.get("created_at") or now,
            test=bool(details.get("test", False)),
            line_items=items,
            custom_attributes=list(details.get("custom_attributes") or []),
            tags=list(details.get("tags") or []),
            routing_due_at=routing_due_at,
        )
        shop.orders[order.id] = order
        for item in items:
            shop.line_item_index[item.id] = order.id
        self._emit(shop, "orders/create", order_payload(shop, order))
        if order.financial_status == "paid":
            self._emit(shop, "orders/paid", order_payload(shop, order))
        return order

    def _new_line_item(self, shop: Shop, spec: dict[str, Any]) -> LineItem:
        location_name = spec.get("location")
        location_id = (
            self.add_location(shop, name=str(location_name)).id
            if location_name
            else shop.primary_location_id
        )
        quantity = int(spec.get("quantity", 1))
        sku = spec.get("sku")
        title = str(spec.get("title") or sku or "Item")
        return LineItem(
            id=self._ids.allocate(),
            sku=sku,
            title=title,
            quantity=quantity,
            price=str(spec.get("price", "10.00")),
            location_id=location_id,
            variant_id=spec.get("variant_id") or self._ids.allocate(),
            product_id=spec.get("product_id") or self._ids.allocate(),
            current_quantity=quantity,
            requires_shipping=bool(spec.get("requires_shipping", True)),
        )

    def route_order(self, shop: Shop, order: Order) -> list[FulfillmentOrder]:
        """Create one OPEN fulfillment order per location of the order's items."""
        if order.routed:
            return []
        order.routed = True
        if order.cancelled_at is not None:
            return []
        by_location: dict[int, list[LineItem]] = {}
        for item in order.line_items:
            if item.requires_shipping and item.current_quantity > 0:
                by_location.setdefault(item.location_id, []).append(item)
        created = []
        for location_id, items in by_location.items():
            fo_items = [
                FulfillmentOrderLineItem(
                    id=self._ids.allocate(),
                    line_item_id=item.id,
                    total_quantity=item.current_quantity,
                    remaining_quantity=item.current_quantity,
                )
                for item in items
            ]
            created.append(
                self._new_fulfillment_order(shop, order, location_id, fo_items)
            )
        for fulfillment_order in created:
            self._emit(
                shop,
                "fulfillment_orders/order_routing_complete",
                {"fulfillment_order": fulfillment_order_brief(fulfillment_order)},
            )
        return created

    def _new_fulfillment_order(
        self,
        shop: Shop,
        order: Order,
        location_id: int,
        line_items: list[FulfillmentOrderLineItem],
        status: Status = Status.OPEN,
    ) -> FulfillmentOrder:
        now = self._now()
        fulfillment_order = FulfillmentOrder(
            id=self._ids.allocate(),
            order_id=order.id,
            location_id=location_id,
            status=status,
            created_at=now,
            updated_at=now,
            line_items=line_items,
        )
        shop.fulfillment_orders[fulfillment_order.id] = fulfillment_order
        order.fulfillment_order_ids.append(fulfillment_order.id)
        for item in line_items:
            shop.fo_line_item_index[item.id] = fulfillment_order.id
        return fulfillment_order

    def mark_paid(self, shop: Shop, order: Order) -> None:
        order.financial_status = "paid"
        order.updated_at = self._now()
        self._emit(shop, "orders/paid", order_payload(shop, order))
        self._emit(shop, "orders/updated", order_payload(shop, order))

    def cancel_order(self, shop: Shop, order: Order, *, reason: str) -> None:
        """Cancel an order; its unfulfilled fulfillment orders are closed."""
        if order.cancelled_at is not None:
            raise _refuse(["orderId"], "Order has already been cancelled.", "INVALID")
        now = self._now()
        order.cancelled_at = now
        order.cancel_reason = reason
        order.closed_at = order.closed_at or now
        order.updated_at = now
        if order.financial_status == "paid":
            order.financial_status = "refunded"
        for fulfillment_order in self.fulfillment_orders_of(shop, order):
            if fulfillment_order.status in _LIVE_STATUSES:
                fulfillment_order.status = Status.CLOSED
                fulfillment_order.holds.clear()
                fulfillment_order.updated_at = now
        fulfilled = fulfilled_quantities(shop, order)
        for item in order.line_items:
            item.current_quantity = fulfilled.get(item.id, 0)
        self._emit(shop, "orders/cancelled", order_payload(shop, order))
        self._emit(shop, "orders/updated", order_payload(shop, order))

    def close_order(self, shop: Shop, order: Order) -> None:
        """Archive (close) an order, as the merchant does after fulfilling it."""
        now = self._now()
        order.closed_at = order.closed_at or now
        order.updated_at = now
        self._emit(shop, "orders/updated", order_payload(shop, order))

    def fulfillment_orders_of(self, shop: Shop, order: Order) -> list[FulfillmentOrder]:
        return [shop.fulfillment_orders[i] for i in order.fulfillment_order_ids]

    # ------------------------------------------------------------- webhooks

    def create_subscription(
        self,
        shop: Shop,
        *,
        topic: str,
        spec: dict[str, Any],
        api_version: str,
        require_https: bool,
    ) -> WebhookSubscription:
        """Create a shop-specific subscription, as `webhookSubscriptionCreate` does."""
        uri = spec.get("uri") or spec.get("callbackUrl")
        field = ["webhookSubscription", "uri"]
        if not uri:
            raise _refuse(field, "Address can't be blank")
        allowed: tuple[str, ...] = ("https://", "pubsub://", "arn:aws:events:")
        if not require_https:
            allowed = (*allowed, "http://")
        if not str(uri).startswith(allowed):
            raise _refuse(field, "Address protocol http:// is not supported")
        for existing in shop.subscriptions.values():
            if existing.topic == topic and existing.uri == uri:
                raise _refuse(field, "Address for this topic has already been taken")
        now = self._now()
        subscription = WebhookSubscription(
            id=self._ids.allocate(),
            topic=topic,
            uri=str(uri),
            format=str(spec.get("format") or "JSON"),
            include_fields=list(spec.get("includeFields") or []),
            metafield_namespaces=list(spec.get("metafieldNamespaces") or []),
            name=spec.get("name"),
            filter=spec.get("filter"),
            api_version=api_version,
            created_at=now,
            updated_at=now,
        )
        shop.subscriptions[subscription.id] = subscription
        return subscription

    # ------------------------------------------------------------ fulfilment

    def create_fulfillment(
        self,
        shop: Shop,
        *,
        requests: Sequence[FulfillmentRequest],
        tracking: dict[str, Any] | None,
        notify_customer: bool,
        origin_address: dict[str, Any] | None,
        message: str | None,
        created_by: str,
    ) -> Fulfillment:
        """Fulfil FO line items (all remaining items of an FO when none are named)."""
        fulfillment_orders = self._fulfillable_orders(shop, requests)
        picks = self._picks(shop, requests, fulfillment_orders)
        order = shop.orders[fulfillment_orders[0].order_id]
        now = self._now()
        fulfillment = Fulfillment(
            id=self._ids.allocate(),
            order_id=order.id,
            location_id=fulfillment_orders[0].location_id,
            name=f"{order.name}-F{len(order.fulfillment_ids) + 1}",
            status="SUCCESS",
            created_at=now,
            updated_at=now,
            tracking=tracking_entries(tracking),
            line_items=[],
            fulfillment_order_ids=[fo.id for fo in fulfillment_orders],
            notify_customer=notify_customer,
            origin_address=origin_address,
            created_by=created_by,
            message=message,
        )
        for fulfillment_order, fo_item, quantity in picks:
            fo_item.remaining_quantity -= quantity
            fulfillment.line_items.append(
                FulfillmentLineItem(
                    id=self._ids.allocate(),
                    line_item_id=fo_item.line_item_id,
                    quantity=quantity,
                    fulfillment_order_id=fulfillment_order.id,
                    fulfillment_order_line_item_id=fo_item.id,
                )
            )
        for fulfillment_order in fulfillment_orders:
            fulfillment_order.fulfillment_ids.append(fulfillment.id)
            fulfillment_order.status = self._status_after_fulfilment(fulfillment_order)
            fulfillment_order.updated_at = now
        shop.fulfillments[fulfillment.id] = fulfillment
        order.fulfillment_ids.append(fulfillment.id)
        order.updated_at = now
        self._emit(shop, "fulfillments/create", fulfillment_payload(shop, fulfillment))
        self._emit_order_fulfilment_topics(shop, order)
        return fulfillment

    def _fulfillable_orders(
        self, shop: Shop, requests: Sequence[FulfillmentRequest]
    ) -> list[FulfillmentOrder]:
        field = ["fulfillment", "lineItemsByFulfillmentOrder"]
        if not requests:
            raise _refuse(field, "Line items by fulfillment order must not be empty.")
        found: list[FulfillmentOrder] = []
        for request in requests:
            fulfillment_order = shop.fulfillment_orders.get(
                request.fulfillment_order_id
            )
            if fulfillment_order is None:
                raise _refuse(field, "Fulfillment order does not exist.")
            if fulfillment_order in found:
                raise _refuse(field, "Fulfillment orders must be unique.")
            if (
                fulfillment_order.status not in FULFILLABLE_STATUSES
                or fulfillment_order.remaining_total() == 0
            ):
                raise _refuse(
                    field,
                    f"Fulfillment order {fulfillment_order.id} has an unfulfillable "
                    f"status= {fulfillment_order.status.lower()}.",
                )
            found.append(fulfillment_order)
        if len({fo.order_id for fo in found}) > 1:
            raise _refuse(
                field, "All fulfillment orders must belong to the same order."
            )
        if len({fo.location_id for fo in found}) > 1:
            raise _refuse(
                field, "All fulfillment orders must be assigned to the same location."
            )
        return found

    def _picks(
        self,
        shop: Shop,
        requests: Sequence[FulfillmentRequest],
        fulfillment_orders: list[FulfillmentOrder],
    ) -> list[tuple[FulfillmentOrder, FulfillmentOrderLineItem, int]]:
        picks: list[tuple[FulfillmentOrder, FulfillmentOrderLineItem, int]] = []
        for request, fulfillment_order in zip(
            requests, fulfillment_orders, strict=True
        ):
            items = {item.id: item for item in fulfillment_order.line_items}
            if request.line_items is None:
                picks += [
                    (fulfillment_order, item, item.remaining_quantity)
                    for item in fulfillment_order.line_items
                    if item.remaining_quantity > 0
                ]
                continue
            wanted: dict[int, int] = {}
            for item_id, quantity in request.line_items:
                if item_id not in items:
                    raise _refuse(
                        ["fulfillment", "lineItemsByFulfillmentOrder"],
                        "Fulfillment order line item does not belong to the "
                        "fulfillment order.",
                    )
                wanted[item_id] = wanted.get(item_id, 0) + quantity
            for item_id, quantity in wanted.items():
                if quantity <= 0 or quantity > items[item_id].remaining_quantity:
                    raise _refuse(
                        ["fulfillment", "lineItemsByFulfillmentOrder"],
                        "Invalid fulfillment order line item quantity requested.",
                    )
                picks.append((fulfillment_order, items[item_id], quantity))
        if not picks:
            raise _refuse(
                ["fulfillment", "lineItemsByFulfillmentOrder"],
                "Invalid fulfillment order line item quantity requested.",
            )
        return picks

    @staticmethod
    def _status_after_fulfilment(fulfillment_order: FulfillmentOrder) -> Status:
        if fulfillment_order.remaining_total() == 0:
            return Status.CLOSED
        if fulfillment_order.is_partially_fulfilled():
            return Status.IN_PROGRESS
        return Status.OPEN

    def _emit_order_fulfilment_topics(self, shop: Shop, order: Order) -> None:
        payload = order_payload(shop, order)
        self._emit(shop, "orders/updated", payload)
        if payload["fulfillment_status"] == "fulfilled":
            self._emit(shop, "orders/fulfilled", payload)
        elif payload["fulfillment_status"] == "partial":
            self._emit(shop, "orders/partially_fulfilled", payload)

    def update_tracking(
        self, shop: Shop, fulfillment: Fulfillment, *, tracking: dict[str, Any]
    ) -> Fulfillment:
        if fulfillment.status != "SUCCESS":
            raise _refuse(["fulfillmentId"], "Fulfillment is cancelled.")
        fulfillment.tracking = tracking_entries(tracking)
        fulfillment.updated_at = self._now()
        self._emit(shop, "fulfillments/update", fulfillment_payload(shop, fulfillment))
        return fulfillment

    def cancel_fulfillment(self, shop: Shop, fulfillment: Fulfillment) -> Fulfillment:
        """Cancel a fulfillment; its quantities return to their fulfillment orders."""
        if fulfillment.status != "SUCCESS":
            raise _refuse(["id"], "Fulfillment is already cancelled.")
        now = self._now()
        fulfillment.status = "CANCELLED"
        fulfillment.updated_at = now
        for item in fulfillment.line_items:
            fulfillment_order = shop.fulfillment_orders.get(item.fulfillment_order_id)
            if fulfillment_order is None:
                continue
            for fo_item in fulfillment_order.line_items:
                if fo_item.id == item.fulfillment_order_line_item_id:
                    fo_item.remaining_quantity += item.quantity
            if fulfillment_order.status in {Status.CLOSED, Status.IN_PROGRESS}:
                fulfillment_order.status = self._status_after_fulfilment(
                    fulfillment_order
                )
            fulfillment_order.updated_at = now
        order = shop.orders[fulfillment.order_id]
        order.updated_at = now
        self._emit(shop, "fulfillments/update", fulfillment_payload(shop, fulfillment))
        self._emit(shop, "orders/updated", order_payload(shop, order))
        return fulfillment

    # ------------------------------------------------- fulfillment orders

    def hold(
        self,
        shop: Shop,
        fulfillment_order: FulfillmentOrder,
        *,
        reason: str,
        reason_notes: str | None = None,
        handle: str | None = None,
        external_id: str | None = None,
        line_items: Sequence[tuple[int, int]] | None = None,
    ) -> tuple[FulfillmentHold, FulfillmentOrder | None]:
        """Place a hold; holding a subset of items splits the rest into a new FO."""
        if fulfillment_order.status not in {*FULFILLABLE_STATUSES, Status.ON_HOLD}:
            raise _refuse(
                ["id"],
                "The fulfillment order's status must be one of open, in_progress or "
                "on_hold.",
            )
        if len(fulfillment_order.holds) >= MAX_HOLDS:
            raise _refuse(
                ["id"],
                "The maximum number of fulfillment holds for this fulfillment order "
                "has been reached.",
                "FULFILLMENT_ORDER_HOLD_LIMIT_REACHED",
            )
        if handle is not None and any(
            h.handle == handle for h in fulfillment_order.holds
        ):
            raise _refuse(
                ["fulfillmentHold", "handle"],
                "The handle provided for the fulfillment hold is already in use by "
                "this app for another hold on this fulfillment order.",
                "DUPLICATE_FULFILLMENT_HOLD_HANDLE",
            )
        remaining = None
        if line_items:
            remaining = self._hold_subset(shop, fulfillment_order, line_items)
        hold = FulfillmentHold(
            id=self._ids.allocate(),
            reason=reason,
            reason_notes=reason_notes,
            handle=handle,
            external_id=external_id,
        )
        was_on_hold = fulfillment_order.status is Status.ON_HOLD
        fulfillment_order.holds.append(hold)
        shop.hold_index[hold.id] = fulfillment_order.id
        fulfillment_order.status = Status.ON_HOLD
        fulfillment_order.updated_at = self._now()
        if not was_on_hold:
            self._emit(
                shop,
                "fulfillment_orders/placed_on_hold",
                placed_on_hold_payload(
                    fulfillment_order, created_hold=hold, remaining=remaining
                ),
            )
        return hold, remaining

    def _hold_subset(
        self,
        shop: Shop,
        fulfillment_order: FulfillmentOrder,
        line_items: Sequence[tuple[int, int]],
    ) -> FulfillmentOrder | None:
        """Keep the held quantities on the FO and split the rest into a new FO."""
        field = ["fulfillmentHold", "fulfillmentOrderLineItems"]
        self._check_quantities(fulfillment_order, line_items, field[:1])
        held = dict(line_items)
        rest = [
            (item.id, item.remaining_quantity - held.get(item.id, 0))
            for item in fulfillment_order.line_items
            if item.remaining_quantity - held.get(item.id, 0) > 0
        ]
        if not rest:
            return None
        return self._split_off(shop, fulfillment_order, rest, field=field[:1])

    def release_hold(
        self,
        shop: Shop,
        fulfillment_order: FulfillmentOrder,
        *,
        hold_ids: Sequence[int] | None = None,
    ) -> FulfillmentOrder:
        """Release some (or all) holds; the FO reopens when the last one goes."""
        if fulfillment_order.status is not Status.ON_HOLD:
            raise _refuse(["id"], "The fulfillment order is not on hold.")
        if hold_ids is None:
            fulfillment_order.holds.clear()
        else:
            unknown = set(hold_ids) - {hold.id for hold in fulfillment_order.holds}
            if unknown:
                raise _refuse(["holdIds"], "Fulfillment hold does not exist.")
            fulfillment_order.holds = [
                h for h in fulfillment_order.holds if h.id not in set(hold_ids)
            ]
        fulfillment_order.updated_at = self._now()
        if not fulfillment_order.holds:
            fulfillment_order.status = (
                Status.IN_PROGRESS
                if fulfillment_order.is_partially_fulfilled()
                else Status.OPEN
            )
            self._emit(
                shop,
                "fulfillment_orders/hold_released",
                {"fulfillment_order": fulfillment_order_brief(fulfillment_order)},
            )
        return fulfillment_order

    def split(
        self,
        shop: Shop,
        fulfillment_order: FulfillmentOrder,
        *,
        line_items: Sequence[tuple[int, int]],
    ) -> FulfillmentOrder:
        """Keep the named quantities on the FO; move the rest to a new FO (returned)."""
        if fulfillment_order.status not in FULFILLABLE_STATUSES:
            raise _refuse(
                ["fulfillmentOrderSplits", "fulfillmentOrderId"],
                "Fulfillment order cannot be split.",
                "FULFILLMENT_ORDER_NOT_FOUND",
            )
        if not line_items:
            raise _refuse(
                ["fulfillmentOrderSplits", "fulfillmentOrderLineItems"],
                "No line items provided to split.",
                "NO_LINE_ITEMS_PROVIDED_TO_SPLIT",
            )
        kept = dict(line_items)
        rest = [
            (item.id, item.remaining_quantity - kept.get(item.id, 0))
            for item in fulfillment_order.line_items
            if item.remaining_quantity - kept.get(item.id, 0) > 0
        ]
        self._check_quantities(
            fulfillment_order, line_items, ["fulfillmentOrderSplits"]
        )
        if not rest:
            raise _refuse(
                ["fulfillmentOrderSplits", "fulfillmentOrderLineItems"],
                "Quantity must be less than the remaining quantity of the line items.",
                "GREATER_THAN",
            )
        remaining = self._split_off(
            shop, fulfillment_order, rest, field=["fulfillmentOrderSplits"]
        )
        self._emit(
            shop,
            "fulfillment_orders/split",
            {
                "fulfillment_order": fulfillment_order_brief(fulfillment_order),
                "remaining_fulfillment_order": fulfillment_order_brief(remaining),
            },
        )
        return remaining

    def move(
        self,
        shop: Shop,
        fulfillment_order: FulfillmentOrder,
        *,
        location_id: int,
        line_items: Sequence[tuple[int, int]] | None = None,
    ) -> FulfillmentOrder:
        """Move remaining items to another location: a new FO id holds them there."""
        if location_id not in shop.locations:
            raise _refuse(["newLocationId"], "Location not found.")
        if fulfillment_order.status not in FULFILLABLE_STATUSES:
            raise _refuse(["id"], "Cannot move a fulfillment order with this status.")
        if location_id == fulfillment_order.location_id:
            raise _refuse(
                ["newLocationId"],
                "Cannot move fulfillment order to the same location.",
            )
        if line_items is None:
            line_items = [
                (item.id, item.remaining_quantity)
                for item in fulfillment_order.line_items
                if item.remaining_quantity > 0
            ]
        moved = self._split_off(shop, fulfillment_order, line_items, field=["id"])
        moved.location_id = location_id
        if fulfillment_order.remaining_total() == 0:
            fulfillment_order.status = Status.CLOSED
        self._emit(
            shop,
            "fulfillment_orders/moved",
            {
                "original_fulfillment_order": fulfillment_order_brief(
                    fulfillment_order
                ),
                "moved_fulfillment_order": fulfillment_order_brief(moved),
                "destination_location_id": gid("Location", location_id),
            },
        )
        return moved

    def cancel_fulfillment_order(
        self, shop: Shop, fulfillment_order: FulfillmentOrder, *, replace: bool = True
    ) -> FulfillmentOrder | None:
        """Cancel an FO; by default its remaining items reopen in a replacement FO."""
        if fulfillment_order.status not in _LIVE_STATUSES:
            raise _refuse(["id"], "Fulfillment order is not in a cancelable state.")
        replacement = None
        if replace and fulfillment_order.remaining_total() > 0:
            rest = [
                (item.id, item.remaining_quantity)
                for item in fulfillment_order.line_items
                if item.remaining_quantity > 0
            ]
            replacement = self._split_off(shop, fulfillment_order, rest, field=["id"])
        fulfillment_order.status = Status.CANCELLED
        fulfillment_order.holds.clear()
        fulfillment_order.updated_at = self._now()
        self._emit(
            shop,
            "fulfillment_orders/cancelled",
            {
                "fulfillment_order": fulfillment_order_brief(fulfillment_order),
                "replacement_fulfillment_order": (
                    fulfillment_order_brief(replacement) if replacement else None
                ),
            },
        )
        return replacement

    def close_fulfillment_order(
        self, shop: Shop, fulfillment_order: FulfillmentOrder
    ) -> FulfillmentOrder:
        """Mark an FO incomplete (`fulfillmentOrderClose`): nothing more ships."""
        if fulfillment_order.status not in _LIVE_STATUSES:
            raise _refuse(["id"], "Fulfillment order is not in a closable state.")
        fulfillment_order.status = Status.INCOMPLETE
        fulfillment_order.request_status = "CLOSED"
        fulfillment_order.updated_at = self._now()
        return fulfillment_order

    def _check_quantities(
        self,
        fulfillment_order: FulfillmentOrder,
        line_items: Sequence[tuple[int, int]],
        field: list[str],
    ) -> None:
        items = {item.id: item for item in fulfillment_order.line_items}
        for item_id, quantity in line_items:
            item = items.get(item_id)
            if item is None or quantity <= 0 or quantity > item.remaining_quantity:
                raise _refuse(
                    [*field, "fulfillmentOrderLineItems"],
                    "Invalid fulfillment order line item quantity requested.",
                    "INVALID_LINE_ITEM_QUANTITY",
                )

    def _split_off(
        self,
        shop: Shop,
        fulfillment_order: FulfillmentOrder,
        line_items: Sequence[tuple[int, int]],
        *,
        field: list[str],
    ) -> FulfillmentOrder:
        """Move quantities from an FO into a new OPEN FO at the same location."""
        self._check_quantities(fulfillment_order, line_items, field)
        items = {item.id: item for item in fulfillment_order.line_items}
        moved_items = []
        for item_id, quantity in line_items:
            source = items[item_id]
            source.remaining_quantity -= quantity
            source.total_quantity -= quantity
            moved_items.append(
                FulfillmentOrderLineItem(
                    id=self._ids.allocate(),
                    line_item_id=source.line_item_id,
                    total_quantity=quantity,
                    remaining_quantity=quantity,
                )
            )
        fulfillment_order.line_items = [
            item for item in fulfillment_order.line_items if item.total_quantity > 0
        ]
        fulfillment_order.updated_at = self._now()
        order = shop.orders[fulfillment_order.order_id]
        return self._new_fulfillment_order(
            shop, order, fulfillment_order.location_id, moved_items
        )


def tracking_entries(tracking: dict[str, Any] | None) -> list[TrackingInfo]:
    """Turn `FulfillmentTrackingInput` into tracking entries (one per number)."""
    if not tracking:
        return []
    company = tracking.get("company")
    numbers = list(tracking.get("numbers") or [])
    if tracking.get("number"):
        numbers.insert(0, tracking["number"])
    urls = list(tracking.get("urls") or [])
    if tracking.get("url"):
        urls.insert(0, tracking["url"])
    entries = []
    for index, number in enumerate(numbers):
        url = urls[index] if index < len(urls) else tracking_url_for(company, number)
        entries.append(TrackingInfo(number=number, url=url, company=company))
    if not entries and (company or urls):
        entries.append(
            TrackingInfo(number=None, url=urls[0] if urls else None, company=company)
        )
    return entries
