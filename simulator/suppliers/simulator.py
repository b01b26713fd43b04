"""``SupplierSimulator``: in-memory supplier orders that emit webhooks on change.

Each mutation (place, ship, tracking event, tracking number change, split,
cancel) updates the order and enqueues the webhooks the supplier would send:
CJ ORDER/LOGISTIC/ORDERSPLIT, an AliExpress message-53 hint, or a signed
generic event. Nothing leaves the process until ``await sim.deliver()``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from simulator.suppliers import aliexpress, cj, generic, lines
from simulator.suppliers.announce import TOPICS, Announcer
from simulator.suppliers.clock import Clock, ManualClock, SystemClock
from simulator.suppliers.delivery import (
    DeliveryKnobs,
    DeliveryReport,
    Outbox,
    WebhookMessage,
)
from simulator.suppliers.errors import InvalidTransitionError, UnknownOrderError
from simulator.suppliers.ids import IdFactory
from simulator.suppliers.model import (
    CjTrackingStatus,
    LineItem,
    OrderStatus,
    Package,
    Supplier,
    SupplierOrder,
    TrackingEvent,
)
from simulator.suppliers.settings import SupplierSettings
from simulator.suppliers.standard_webhooks import generate_secret
from simulator.suppliers.timeline import STANDARD_ROUTE, RouteStep, Timeline

__all__ = [
    "TOPICS",
    "InvalidTransitionError",
    "ScheduleFailure",
    "ShipmentSpec",
    "SupplierSettings",
    "SupplierSimulator",
    "UnknownOrderError",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ShipmentSpec:
    """One package to ship; ``None`` fields are filled in supplier-style."""

    line_items: tuple[LineItem, ...] | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    tracking_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleFailure:
    """A scheduled change that could no longer happen when it came due."""

    due: datetime
    label: str
    error: str


class SupplierSimulator:
    """Fake CJdropshipping, AliExpress and generic suppliers sharing one state."""

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        http_client: httpx.AsyncClient | None = None,
        settings: SupplierSettings | None = None,
        signing_clock: Clock | None = None,
    ) -> None:
        """Build a simulator.

        ``signing_clock`` (default: ``clock``) stamps ``webhook-timestamp`` on
        generic deliveries; pass ``SystemClock()`` when the receiver checks the
        timestamp against its own wall clock while ``clock`` is a ManualClock.
        """
        self.seed = seed
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.signing_clock: Clock = signing_clock or self.clock
        self.settings = settings if settings is not None else SupplierSettings()
        self.http_client = http_client
        self._rng = random.Random(seed)
        self.ids = IdFactory(self._rng)
        self.outbox = Outbox(clock=self.clock, rng=random.Random(seed + 1))
        self._orders: dict[str, SupplierOrder] = {}
        self.timeline = Timeline()
        self.schedule_failures: list[ScheduleFailure] = []
        if not self.settings.generic_secrets:
            self.settings.generic_secrets = [generate_secret(self._rng)]
        self._announce = Announcer(
            settings=self.settings,
            ids=self.ids,
            clock=self.clock,
            signing_clock=self.signing_clock,
            outbox=self.outbox,
        )

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
                self._announce.urls.pop((supplier, name), None)
            else:
                self._announce.urls[(supplier, name)] = url

    def webhook_url(self, supplier: Supplier, topic: str) -> str | None:
        return self._announce.urls.get((supplier, topic))

    def register_cj_webhook(self, *, order_url: str | None, logistics_url: str | None) -> None:
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
        """Move a ManualClock forward, running scheduled changes at their times."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("only a ManualClock can be advanced")
        target = self.clock.now() + delta
        while (due := self.timeline.next_due()) is not None and due <= target:
            self.clock.set(max(due, self.clock.now()))
            self.tick()
        self.clock.set(target)
        return target

    # -- scheduling ----------------------------------------------------------

    def schedule(self, at: datetime, action: Callable[[], object], *, label: str = "") -> None:
        """Run ``action`` once the clock reaches ``at`` (see ``tick``/``advance``)."""
        self.timeline.add(at, action, label=label)

    def tick(self) -> int:
        """Run every scheduled change that is due; return how many ran.

        A change that became impossible (say, a scan for a cancelled order) is
        recorded in ``schedule_failures`` instead of raising.
        """
        ran = 0
        while (entry := self.timeline.pop_due(self.clock.now())) is not None:
            try:
                entry.action()
            except (InvalidTransitionError, UnknownOrderError) as exc:
                self.schedule_failures.append(
                    ScheduleFailure(due=entry.due, label=entry.label, error=str(exc))
                )
            ran += 1
        return ran

    def schedule_journey(
        self,
        supplier_order_id: str,
        *,
        package_id: str | None = None,
        step: timedelta = timedelta(hours=12),
        jitter: timedelta = timedelta(0),
        start_after: timedelta | None = None,
        route: Sequence[RouteStep] = STANDARD_ROUTE,
    ) -> list[datetime]:
        """Schedule carrier scans for a shipped package, ``step`` (+ jitter) apart."""
        package = self._package(self.order(supplier_order_id), package_id)
        due = self.clock.now() + (step if start_after is None else start_after)
        times = []
        for hop in route:
            times.append(due)
            self.schedule(
                due,
                self._scan_action(supplier_order_id, package.package_id, hop),
                label=f"{supplier_order_id}/{package.package_id}: {hop.status.name}",
            )
            spread = jitter.total_seconds() * self._rng.random()
            due += step + timedelta(seconds=spread)
        return times

    def schedule_shipment(
        self,
        supplier_order_id: str,
        *,
        after: timedelta,
        packages: Sequence[ShipmentSpec] | None = None,
        journey_step: timedelta | None = timedelta(hours=12),
    ) -> datetime:
        """Ship later; then, unless ``journey_step`` is None, schedule journeys."""
        due = self.clock.now() + after

        def ship_then_travel() -> None:
            for package in self.ship(supplier_order_id, packages=packages):
                if journey_step is not None:
                    self.schedule_journey(
                        supplier_order_id,
                        package_id=package.package_id,
                        step=journey_step,
                    )

        self.schedule(due, ship_then_travel, label=f"{supplier_order_id}: ship")
        return due

    def _scan_action(
        self, supplier_order_id: str, package_id: str, hop: RouteStep
    ) -> Callable[[], object]:
        def scan() -> object:
            return self.add_tracking_event(
                supplier_order_id,
                package_id=package_id,
                status=hop.status,
                description=hop.description,
                location=hop.location,
            )

        return scan

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
            and (merchant_reference is None or o.merchant_reference == merchant_reference)
        ]

    def find_package(self, tracking_number: str) -> tuple[SupplierOrder, Package] | None:
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
            for m in self._announce.history
            if (supplier is None or m.supplier is supplier) and (topic is None or m.topic == topic)
        ]

    def stats(self) -> dict[str, Any]:
        by_status = Counter(o.status.value for o in self._orders.values())
        return {
            "orders": len(self._orders),
            "orders_by_status": dict(sorted(by_status.items())),
            "messages": len(self._announce.history),
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
        if supplier is Supplier.GENERIC:
            # Refuse lines the generic format cannot name before any state depends on them.
            for item in line_items:
                generic.line_item_json(item)
            if shopify_order_id is None and order_name is None:
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
        self._announce.placed(order)
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
        remaining = lines.remaining_quantities(order)
        contents = []
        for spec in specs:
            items = spec.line_items or lines.unshipped_items(order, remaining)
            lines.take(remaining, items)
            contents.append((spec, items))
        if order.supplier is Supplier.CJ and any(remaining.values()):
            raise InvalidTransitionError("a CJ package must hold every line of its order")
        now = self.clock.now()
        created = [self._new_package(order, spec, items, now) for spec, items in contents]
        first_shipment = not order.packages
        order.packages.extend(created)
        if first_shipment:
            order.status = OrderStatus.SHIPPED
            order.shipped_at = now
        order.updated_at = now
        self._announce.shipped(order, created, first=first_shipment)
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
        self._announce.scanned(order, package, delivered=became_delivered)
        return event

    def mark_delivered(self, supplier_order_id: str, *, package_id: str | None = None) -> None:
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
        package.tracking_url = tracking_url or self._tracking_url(order.supplier, new_number)
        order.updated_at = self.clock.now()
        self._announce.relabelled(order, package, previous=previous)
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
        lines.check_partition(order, parts)
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
        self._announce.split(order, children)
        return children

    def cancel(self, supplier_order_id: str, *, reason: str | None = None) -> SupplierOrder:
        """Cancel an order that has not shipped."""
        order = self.order(supplier_order_id)
        if order.status is not OrderStatus.PLACED:
            raise InvalidTransitionError(f"cannot cancel a {order.status} order")
        now = self.clock.now()
        order.status = OrderStatus.CANCELLED
        order.cancelled_at = now
        order.cancel_reason = reason
        order.updated_at = now
        self._announce.cancelled(order)
        return order

    # -- delivery ----------------------------------------------------------

    async def deliver(
        self,
        *,
        include_delayed: bool = False,
        client: httpx.AsyncClient | None = None,
        concurrency: int = 1,
    ) -> DeliveryReport:
        """Flush every due webhook through the injected client (or a fresh one)."""
        chosen = client or self.http_client
        if chosen is not None:
            return await self.outbox.deliver(
                chosen, include_delayed=include_delayed, concurrency=concurrency
            )
        async with httpx.AsyncClient() as temporary:
            return await self.outbox.deliver(
                temporary, include_delayed=include_delayed, concurrency=concurrency
            )

    # -- internals: ids and defaults ---------------------------------------

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
            tracking_url=spec.tracking_url or self._tracking_url(order.supplier, number),
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
        everything_shipped = not any(lines.remaining_quantities(order).values())
        if everything_shipped and all(p.is_delivered for p in order.packages):
            order.status = OrderStatus.DELIVERED
            order.delivered_at = now
            return True
        in_transit = any(
            p.latest_status > CjTrackingStatus.WAREHOUSE_OUTBOUND for p in order.packages
        )
        if order.status is OrderStatus.SHIPPED and in_transit:
            order.status = OrderStatus.IN_TRANSIT
        return False
