"""``SupplierSimulator``: in-memory supplier orders that emit webhooks on change.

Each mutation (place, ship, tracking event, tracking number change, split,
cancel) updates the order and enqueues the webhooks the supplier would send:
CJ ORDER/LOGISTIC/ORDERSPLIT, an AliExpress message-53 hint, or a signed
generic event. Nothing leaves the process until ``await sim.deliver()``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

import httpx

from simulator.suppliers import aliexpress, cj, generic
from simulator.suppliers.clock import Clock, ManualClock, SystemClock
from simulator.suppliers.delivery import (
    DeliveryKnobs,
    DeliveryReport,
    Outbox,
    WebhookMessage,
)
from simulator.suppliers.ids import IdFactory
from simulator.suppliers.model import (
    CjTrackingStatus,
    LineItem,
    OrderStatus,
    Package,
    Supplier,
    SupplierOrder,
    TrackingEvent,
    line_item_key,
)
from simulator.suppliers.standard_webhooks import generate_secret, signature_headers

__all__ = [
    "TOPICS",
    "InvalidTransitionError",
    "ShipmentSpec",
    "SupplierSettings",
    "SupplierSimulator",
    "UnknownOrderError",
]

# Webhook topics per supplier; each topic has its own callback URL (CJ
# registers "order" and "logistics" separately; ORDERSPLIT rides on "order").
TOPICS: Mapping[Supplier, tuple[str, ...]] = {
    Supplier.CJ: ("order", "logistics"),
    Supplier.ALIEXPRESS: ("order_status",),
    Supplier.GENERIC: ("events",),
}


class InvalidTransitionError(ValueError):
    """The requested change is impossible for the order in its current state."""


class UnknownOrderError(KeyError):
    """No order (or package) has that id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentSpec:
    """One package to ship; ``None`` fields are filled in supplier-style."""

    line_items: tuple[LineItem, ...] | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    tracking_url: str | None = None


@dataclass(slots=True, kw_only=True)
class SupplierSettings:
    """Accounts, credentials and format choices of the simulated suppliers."""

    cj_open_id: int = 1234567
    cj_api_keys: set[str] = field(default_factory=lambda: {"cj-test-api-key"})
    cj_access_tokens: set[str] = field(default_factory=lambda: {"cj-test-token"})
    cj_timezone: tzinfo = cj.CHINA_TIME
    cj_enforce_public_https: bool = False
    ae_app_key: str = "500001"
    ae_app_secret: str = "ae-test-secret"  # noqa: S105 - a simulator credential
    ae_sessions: set[str] = field(default_factory=lambda: {"ae-test-session"})
    ae_buyer_id: int = 1861703697
    ae_seller_id: str = "2000000001"
    ae_store_id: int = 1101234567
    ae_timezone: tzinfo = aliexpress.PACIFIC_TIME
    ae_collapse_single_item_lists: bool = True
    ae_timestamp_tolerance: timedelta | None = None
    # The push signature is unconfirmed; when set, the body's hex HMAC-SHA256
    # with the app secret is sent in this header.
    ae_push_signature_header: str | None = None
    generic_supplier_name: str = "acme-3pl"
    generic_secrets: list[str] = field(default_factory=list)
    shipping_country: str = "US"


class SupplierSimulator:
    """Fake CJdropshipping, AliExpress and generic suppliers sharing one state."""

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        http_client: httpx.AsyncClient | None = None,
        settings: SupplierSettings | None = None,
    ) -> None:
        self.seed = seed
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.settings = settings if settings is not None else SupplierSettings()
        self.http_client = http_client
        self._rng = random.Random(seed)
        self.ids = IdFactory(self._rng)
        self.outbox = Outbox(clock=self.clock, rng=random.Random(seed + 1))
        self._orders: dict[str, SupplierOrder] = {}
        self._history: list[WebhookMessage] = []
        self._urls: dict[tuple[Supplier, str], str] = {}
        if not self.settings.generic_secrets:
            self.settings.generic_secrets = [generate_secret(self._rng)]
        self.outbox.set_signer(Supplier.GENERIC, self._sign_generic)
        self._configure_aliexpress_signer()

    # -- configuration -----------------------------------------------------

    def set_webhook_url(
        self, supplier: Supplier, url: str | None, *, topic: str | None = None
    ) -> None:
        """Point a supplier's webhooks (one topic, or all) at ``url``.

        The URL is used verbatim, query string included.
        """
        topics = TOPICS[supplier] if topic is None else (topic,)
        for name in topics:
            if name not in TOPICS[supplier]:
                raise ValueError(f"{supplier} has no topic {name!r}")
            if url is None:
                self._urls.pop((supplier, name), None)
            else:
                self._urls[(supplier, name)] = url

    def webhook_url(self, supplier: Supplier, topic: str) -> str | None:
        return self._urls.get((supplier, topic))

    def register_cj_webhook(
        self, *, order_url: str | None, logistics_url: str | None
    ) -> None:
        """What CJ's ``webhook/set`` does: set the URLs and lift a pause."""
        self.set_webhook_url(Supplier.CJ, order_url, topic="order")
        self.set_webhook_url(Supplier.CJ, logistics_url, topic="logistics")
        self.outbox.resume(Supplier.CJ)

    def knobs(self, supplier: Supplier) -> DeliveryKnobs:
        return self.outbox.knobs(supplier)

    def set_knobs(
        self,
        supplier: Supplier,
        knobs: DeliveryKnobs | None = None,
        **changes: Any,
    ) -> DeliveryKnobs:
        """Replace a supplier's delivery knobs, or change some of them."""
        updated = (knobs or self.outbox.knobs(supplier)).updated(changes)
        self.outbox.set_knobs(supplier, updated)
        return updated

    def rotate_generic_secret(
        self, new_secret: str | None = None, *, keep_previous: bool = True
    ) -> str:
        """Start signing with a new secret; keep the old one too while rotating."""
        secret = new_secret or generate_secret(self._rng)
        previous = self.settings.generic_secrets if keep_previous else []
        self.settings.generic_secrets = [secret, *previous]
        return secret

    def advance(self, delta: timedelta) -> datetime:
        if not isinstance(self.clock, ManualClock):
            raise TypeError("only a ManualClock can be advanced")
        return self.clock.advance(delta)

    # -- queries -----------------------------------------------------------

    def order(self, supplier_order_id: str) -> SupplierOrder:
        try:
            return self._orders[supplier_order_id]
        except KeyError:
            raise UnknownOrderError(supplier_order_id) from None

    def orders(
        self,
        *,
        supplier: Supplier | None = None,
        merchant_reference: str | None = None,
    ) -> list[SupplierOrder]:
        return [
            o
            for o in self._orders.values()
            if (supplier is None or o.supplier is supplier)
            and (
                merchant_reference is None or o.merchant_reference == merchant_reference
            )
        ]

    def find_package(
        self, tracking_number: str
    ) -> tuple[SupplierOrder, Package] | None:
        for order in self._orders.values():
            for package in order.packages:
                if package.tracking_number == tracking_number:
                    return order, package
        return None

    def messages(
        self, *, supplier: Supplier | None = None, topic: str | None = None
    ) -> list[WebhookMessage]:
        """Every webhook the suppliers produced, routed or not, in order."""
        return [
            m
            for m in self._history
            if (supplier is None or m.supplier is supplier)
            and (topic is None or m.topic == topic)
        ]

    def stats(self) -> dict[str, Any]:
        by_status = Counter(o.status.value for o in self._orders.values())
        return {
            "orders": len(self._orders),
            "orders_by_status": dict(sorted(by_status.items())),
            "messages": len(self._history),
            "delivery": self.outbox.stats(),
        }

    # -- mutations ---------------------------------------------------------

    def place_order(
        self,
        supplier: Supplier,
        *,
        merchant_reference: str,
        line_items: Sequence[LineItem],
        shopify_order_id: str | None = None,
        order_name: str | None = None,
        supplier_order_id: str | None = None,
        logistic_name: str | None = None,
    ) -> SupplierOrder:
        """Record an order the merchant placed with the supplier (paid)."""
        if not line_items:
            raise ValueError("an order needs at least one line item")
        now = self.clock.now()
        order_id = supplier_order_id or self._new_order_id(supplier)
        if order_id in self._orders:
            raise InvalidTransitionError(f"order {order_id} already exists")
        if (
            supplier is Supplier.GENERIC
            and shopify_order_id is None
            and order_name is None
        ):
            order_name = merchant_reference
        order = SupplierOrder(
            supplier=supplier,
            supplier_order_id=order_id,
            merchant_reference=merchant_reference,
            shopify_order_id=shopify_order_id,
            order_name=order_name,
            line_items=tuple(line_items),
            status=OrderStatus.PLACED,
            created_at=now,
            updated_at=now,
            paid_at=now,
            logistic_name=logistic_name or self._default_carrier(supplier),
        )
        self._orders[order_id] = order
        match supplier:
            case Supplier.CJ:
                self._emit_cj_order(order, message_type="INSERT")
            case Supplier.ALIEXPRESS:
                self._emit_ae_push(order)
            case Supplier.GENERIC:
                self._emit_generic(
                    order,
                    lambda event_id: generic.placed_event(
                        order,
                        event_id=event_id,
                        occurred_at=now,
                        supplier_name=self._name,
                    ),
                )
        return order

    def ship(
        self, supplier_order_id: str, *, packages: Sequence[ShipmentSpec] | None = None
    ) -> list[Package]:
        """Ship packages (default: one package with everything not yet shipped)."""
        order = self.order(supplier_order_id)
        if order.status in (
            OrderStatus.CANCELLED,
            OrderStatus.SPLIT,
            OrderStatus.DELIVERED,
        ):
            raise InvalidTransitionError(f"cannot ship a {order.status} order")
        specs = list(packages) if packages else [ShipmentSpec()]
        if order.supplier is Supplier.CJ and (len(specs) != 1 or order.packages):
            raise InvalidTransitionError(
                "a CJ order ships as one package with one trackNumber; split it first"
            )
        now = self.clock.now()
        remaining = _remaining(order)
        created = []
        for spec in specs:
            items = spec.line_items or _as_items(order, remaining)
            _take(remaining, items)
            created.append(self._new_package(order, spec, items, now))
        if order.supplier is Supplier.CJ and any(remaining.values()):
            raise InvalidTransitionError(
                "a CJ package must hold every line of its order"
            )
        first_shipment = not order.packages
        order.packages.extend(created)
        if first_shipment:
            order.status = OrderStatus.SHIPPED
            order.shipped_at = now
        order.updated_at = now
        self._announce_shipment(order, created, first_shipment=first_shipment)
        return created

    def add_tracking_event(
        self,
        supplier_order_id: str,
        *,
        status: CjTrackingStatus,
        package_id: str | None = None,
        description: str | None = None,
        location: str = "",
        occurred_at: datetime | None = None,
    ) -> TrackingEvent:
        """A carrier scan on one package (default: the latest package)."""
        order = self.order(supplier_order_id)
        package = self._package(order, package_id)
        if package.is_delivered:
            raise InvalidTransitionError("the package was already delivered")
        now = self.clock.now()
        event = TrackingEvent(
            occurred_at=occurred_at or now,
            status=CjTrackingStatus(status),
            description=description or CjTrackingStatus(status).description,
            location=location,
        )
        package.events.append(event)
        order.updated_at = now
        became_delivered = self._refresh_status(order, now)
        self._announce_tracking(order, package, became_delivered=became_delivered)
        return event

    def mark_delivered(
        self, supplier_order_id: str, *, package_id: str | None = None
    ) -> None:
        """Deliver one package, or every undelivered package."""
        order = self.order(supplier_order_id)
        targets = (
            [self._package(order, package_id)]
            if package_id is not None
            else [p for p in order.packages if not p.is_delivered]
        )
        if not targets:
            raise InvalidTransitionError("nothing left to deliver")
        for package in targets:
            self.add_tracking_event(
                supplier_order_id,
                package_id=package.package_id,
                status=CjTrackingStatus.DELIVERED,
                location="Destination",
            )

    def change_tracking_number(
        self,
        supplier_order_id: str,
        *,
        tracking_number: str | None = None,
        package_id: str | None = None,
        carrier: str | None = None,
        tracking_url: str | None = None,
    ) -> Package:
        """Correct a package's tracking number (suppliers do this after relabelling)."""
        order = self.order(supplier_order_id)
        package = self._package(order, package_id)
        previous = package.tracking_number
        new_number = tracking_number or self._new_tracking_number(order.supplier)
        if new_number == previous:
            raise InvalidTransitionError("the tracking number did not change")
        package.previous_tracking_numbers.append(previous)
        package.tracking_number = new_number
        if carrier is not None:
            package.carrier = carrier
        package.tracking_url = tracking_url or self._tracking_url(
            order.supplier, new_number
        )
        now = self.clock.now()
        order.updated_at = now
        match order.supplier:
            case Supplier.CJ:
                self._emit_cj_order(order, message_type="UPDATE")
                self._emit_cj_logistic(order, package)
            case Supplier.ALIEXPRESS:
                # Message 53 reports order *status*; a relabel changes none, so
                # AliExpress stays silent and only polling can notice.
                pass
            case Supplier.GENERIC:
                self._emit_generic(
                    order,
                    lambda event_id: generic.tracking_updated_event(
                        order,
                        package,
                        event_id=event_id,
                        occurred_at=now,
                        supplier_name=self._name,
                        previous_tracking_number=previous,
                    ),
                )
        return package

    def split(
        self, supplier_order_id: str, *, parts: Sequence[Sequence[LineItem]]
    ) -> list[SupplierOrder]:
        """Replace an unshipped order by child orders (CJ ORDERSPLIT)."""
        order = self.order(supplier_order_id)
        if order.supplier is Supplier.ALIEXPRESS:
            raise InvalidTransitionError(
                "AliExpress does not split orders; ship several packages instead"
            )
        if order.status is not OrderStatus.PLACED:
            raise InvalidTransitionError(f"cannot split a {order.status} order")
        if len(parts) < 2:
            raise InvalidTransitionError("a split needs at least two parts")
        _check_partition(order, parts)
        now = self.clock.now()
        children = []
        for part in parts:
            child = SupplierOrder(
                supplier=order.supplier,
                supplier_order_id=self._new_order_id(order.supplier),
                merchant_reference=order.merchant_reference,
                shopify_order_id=order.shopify_order_id,
                order_name=order.order_name,
                line_items=tuple(part),
                status=OrderStatus.PLACED,
                created_at=now,
                updated_at=now,
                paid_at=order.paid_at,
                split_from=order.supplier_order_id,
                logistic_name=order.logistic_name,
            )
            self._orders[child.supplier_order_id] = child
            children.append(child)
        order.status = OrderStatus.SPLIT
        order.split_into = [c.supplier_order_id for c in children]
        order.updated_at = now
        if order.supplier is Supplier.CJ:
            message_id = self.ids.uuid_hex()
            payload = cj.split_message(
                order,
                children,
                message_id=message_id,
                open_id=self.settings.cj_open_id,
                split_at=now,
                zone=self.settings.cj_timezone,
            )
            self._emit(
                Supplier.CJ, "ORDERSPLIT", "order", payload, message_id=message_id
            )
        else:
            self._emit_generic(
                order,
                lambda event_id: generic.split_event(
                    order,
                    children,
                    event_id=event_id,
                    occurred_at=now,
                    supplier_name=self._name,
                ),
            )
        return children

    def cancel(
        self, supplier_order_id: str, *, reason: str | None = None
    ) -> SupplierOrder:
        """Cancel an order that has not shipped."""
        order = self.order(supplier_order_id)
        if order.status is not OrderStatus.PLACED:
            raise InvalidTransitionError(f"cannot cancel a {order.status} order")
        now = self.clock.now()
        order.status = OrderStatus.CANCELLED
        order.cancelled_at = now
        order.cancel_reason = reason
        order.updated_at = now
        match order.supplier:
            case Supplier.CJ:
                self._emit_cj_order(order, message_type="UPDATE")
            case Supplier.ALIEXPRESS:
                self._emit_ae_push(order)
            case Supplier.GENERIC:
                self._emit_generic(
                    order,
                    lambda event_id: generic.cancelled_event(
                        order,
                        event_id=event_id,
                        occurred_at=now,
                        supplier_name=self._name,
                    ),
                )
        return order

    # -- delivery ----------------------------------------------------------

    async def deliver(
        self,
        *,
        include_delayed: bool = False,
        client: httpx.AsyncClient | None = None,
    ) -> DeliveryReport:
        """Flush every due webhook through the injected client (or a fresh one)."""
        chosen = client or self.http_client
        if chosen is not None:
            return await self.outbox.deliver(chosen, include_delayed=include_delayed)
        async with httpx.AsyncClient() as temporary:
            return await self.outbox.deliver(temporary, include_delayed=include_delayed)

    # -- internals: ids and defaults ---------------------------------------

    @property
    def _name(self) -> str:
        return self.settings.generic_supplier_name

    def _new_order_id(self, supplier: Supplier) -> str:
        match supplier:
            case Supplier.CJ:
                return self.ids.cj_order_id()
            case Supplier.ALIEXPRESS:
                return self.ids.aliexpress_order_id()
            case Supplier.GENERIC:
                return self.ids.generic_order_id()

    def _new_tracking_number(self, supplier: Supplier) -> str:
        match supplier:
            case Supplier.CJ:
                return self.ids.cj_tracking_number()
            case Supplier.ALIEXPRESS:
                return self.ids.aliexpress_tracking_number()
            case Supplier.GENERIC:
                return self.ids.generic_tracking_number()

    @staticmethod
    def _default_carrier(supplier: Supplier) -> str:
        match supplier:
            case Supplier.CJ:
                return cj.DEFAULT_LOGISTIC_NAME
            case Supplier.ALIEXPRESS:
                return aliexpress.DEFAULT_LOGISTICS_SERVICE
            case Supplier.GENERIC:
                return "UPS"

    @staticmethod
    def _tracking_url(supplier: Supplier, tracking_number: str) -> str:
        match supplier:
            case Supplier.CJ:
                return cj.tracking_url(tracking_number)
            case Supplier.ALIEXPRESS:
                return aliexpress.tracking_url(tracking_number)
            case Supplier.GENERIC:
                return generic.tracking_url(tracking_number)

    def _new_package(
        self,
        order: SupplierOrder,
        spec: ShipmentSpec,
        items: tuple[LineItem, ...],
        now: datetime,
    ) -> Package:
        number = spec.tracking_number or self._new_tracking_number(order.supplier)
        package = Package(
            package_id=self.ids.package_id(),
            tracking_number=number,
            carrier=spec.carrier or order.logistic_name or "",
            tracking_url=spec.tracking_url
            or self._tracking_url(order.supplier, number),
            line_items=items,
            shipped_at=now,
        )
        package.events.append(
            TrackingEvent(
                occurred_at=now,
                status=CjTrackingStatus.WAREHOUSE_OUTBOUND,
                description="Parcel left the warehouse",
                location="Shenzhen, CN",
            )
        )
        return package

    @staticmethod
    def _package(order: SupplierOrder, package_id: str | None) -> Package:
        try:
            return order.package(package_id)
        except KeyError:
            raise UnknownOrderError(f"package {package_id}") from None
        except ValueError as exc:
            raise InvalidTransitionError(str(exc)) from exc

    def _refresh_status(self, order: SupplierOrder, now: datetime) -> bool:
        """Move the order along after a scan; report whether it just got delivered."""
        everything_shipped = not any(_remaining(order).values())
        if everything_shipped and all(p.is_delivered for p in order.packages):
            order.status = OrderStatus.DELIVERED
            order.delivered_at = now
            return True
        in_transit = any(
            p.latest_status > CjTrackingStatus.WAREHOUSE_OUTBOUND
            for p in order.packages
        )
        if order.status is OrderStatus.SHIPPED and in_transit:
            order.status = OrderStatus.IN_TRANSIT
        return False

    # -- internals: announcing -----------------------------------------------

    def _announce_shipment(
        self, order: SupplierOrder, created: list[Package], *, first_shipment: bool
    ) -> None:
        match order.supplier:
            case Supplier.CJ:
                self._emit_cj_order(order, message_type="UPDATE")
                self._emit_cj_logistic(order, created[0])
            case Supplier.ALIEXPRESS:
                # Later packages change no order status, so no message 53.
                if first_shipment:
                    self._emit_ae_push(order)
            case Supplier.GENERIC:
                now = self.clock.now()
                self._emit_generic(
                    order,
                    lambda event_id: generic.shipped_event(
                        order,
                        created,
                        event_id=event_id,
                        occurred_at=now,
                        supplier_name=self._name,
                    ),
                )

    def _announce_tracking(
        self, order: SupplierOrder, package: Package, *, became_delivered: bool
    ) -> None:
        match order.supplier:
            case Supplier.CJ:
                self._emit_cj_logistic(order, package)
                if became_delivered:
                    self._emit_cj_order(order, message_type="UPDATE")
            case Supplier.ALIEXPRESS:
                if became_delivered:
                    self._emit_ae_push(order)
            case Supplier.GENERIC:
                now = self.clock.now()
                self._emit_generic(
                    order,
                    lambda event_id: generic.tracking_updated_event(
                        order,
                        package,
                        event_id=event_id,
                        occurred_at=now,
                        supplier_name=self._name,
                    ),
                )

    def _emit(
        self,
        supplier: Supplier,
        topic: str,
        url_topic: str,
        payload: Any,
        *,
        message_id: str,
    ) -> WebhookMessage:
        message = WebhookMessage(
            message_id=message_id,
            supplier=supplier,
            topic=topic,
            url=self._urls.get((supplier, url_topic)),
            body=json.dumps(payload, separators=(",", ":")).encode(),
            created_at=self.clock.now(),
        )
        self._history.append(message)
        self.outbox.enqueue(message)
        return message

    def _emit_cj_order(self, order: SupplierOrder, *, message_type: str) -> None:
        message_id = self.ids.uuid_hex()
        payload = cj.order_message(
            order,
            message_id=message_id,
            message_type=message_type,
            open_id=self.settings.cj_open_id,
            zone=self.settings.cj_timezone,
        )
        self._emit(Supplier.CJ, "ORDER", "order", payload, message_id=message_id)

    def _emit_cj_logistic(self, order: SupplierOrder, package: Package) -> None:
        message_id = self.ids.uuid_hex()
        payload = cj.logistic_message(
            order,
            package,
            message_id=message_id,
            open_id=self.settings.cj_open_id,
            zone=self.settings.cj_timezone,
        )
        self._emit(Supplier.CJ, "LOGISTIC", "logistics", payload, message_id=message_id)

    def _emit_ae_push(self, order: SupplierOrder) -> None:
        payload = aliexpress.push_message(
            order,
            status=aliexpress.push_status(order),
            buyer_id=self.settings.ae_buyer_id,
            seller_id=self.settings.ae_seller_id,
            sent_at=self.clock.now(),
        )
        self._emit(
            Supplier.ALIEXPRESS,
            str(aliexpress.MESSAGE_TYPE_ORDER_STATUS),
            "order_status",
            payload,
            message_id=self.ids.uuid_hex(),
        )

    def _emit_generic(self, order: SupplierOrder, build: Any) -> None:
        event_id = self.ids.webhook_id()
        payload = build(event_id)
        self._emit(
            Supplier.GENERIC, payload["type"], "events", payload, message_id=event_id
        )

    def _sign_generic(
        self, message: WebhookMessage, now: datetime
    ) -> Mapping[str, str]:
        return signature_headers(
            secrets=self.settings.generic_secrets,
            message_id=message.message_id,
            timestamp=int(now.timestamp()),
            body=message.body,
        )

    def _configure_aliexpress_signer(self) -> None:
        def sign_push(message: WebhookMessage, _now: datetime) -> Mapping[str, str]:
            header = self.settings.ae_push_signature_header
            if header is None:
                return {}
            secret = self.settings.ae_app_secret.encode()
            digest = hmac.new(secret, message.body, hashlib.sha256).hexdigest()
            return {header: digest}

        self.outbox.set_signer(Supplier.ALIEXPRESS, sign_push)


# -- line-item bookkeeping ------------------------------------------------------


def _remaining(
    order: SupplierOrder,
) -> Counter[tuple[str | None, str | None, str | None]]:
    remaining: Counter[tuple[str | None, str | None, str | None]] = Counter()
    for item in order.line_items:
        remaining[line_item_key(item)] += item.quantity
    for package in order.packages:
        for item in package.line_items:
            remaining[line_item_key(item)] -= item.quantity
    return remaining


def _as_items(
    order: SupplierOrder,
    remaining: Counter[tuple[str | None, str | None, str | None]],
) -> tuple[LineItem, ...]:
    items = []
    for item in order.line_items:
        left = remaining[line_item_key(item)]
        if left > 0:
            items.append(_with_quantity(item, left))
    if not items:
        raise InvalidTransitionError("every line item has already shipped")
    return tuple(items)


def _with_quantity(item: LineItem, quantity: int) -> LineItem:
    return LineItem(
        quantity=quantity,
        sku=item.sku,
        variant_id=item.variant_id,
        shopify_line_item_id=item.shopify_line_item_id,
        product_id=item.product_id,
        title=item.title,
        unit_price=item.unit_price,
    )


def _take(
    remaining: Counter[tuple[str | None, str | None, str | None]],
    items: Iterable[LineItem],
) -> None:
    for item in items:
        key = line_item_key(item)
        if remaining[key] < item.quantity:
            raise InvalidTransitionError(
                f"line {key} has only {remaining[key]} left to ship"
            )
        remaining[key] -= item.quantity


def _check_partition(order: SupplierOrder, parts: Sequence[Sequence[LineItem]]) -> None:
    wanted: Counter[tuple[str | None, str | None, str | None]] = Counter()
    for item in order.line_items:
        wanted[line_item_key(item)] += item.quantity
    given: Counter[tuple[str | None, str | None, str | None]] = Counter()
    for part in parts:
        if not part:
            raise InvalidTransitionError("every split part needs a line item")
        for item in part:
            given[line_item_key(item)] += item.quantity
    if given != wanted:
        raise InvalidTransitionError("the split parts must add up to the order's lines")
