"""Plan how supplier packages become Shopify fulfilments for one order.

Pure: the push worker loads the inputs (fulfillment orders read from Shopify *at push
time*, the order's fulfilments, the packages waiting to be pushed, what was pushed
before), calls :func:`plan_push`, then executes the returned :class:`PushPlan`.

Actions
-------
:class:`AdoptExisting`
    A live fulfilment already carries the package's tracking number (made by the
    merchant, another app, or by us before a lost response). Record it; create
    nothing. Adoption is checked first and wins over every other action.
:class:`UpdateTracking`
    The supplier order has exactly one package, it was pushed before, and the
    supplier now reports a different tracking number: amend that fulfilment with
    ``fulfillmentTrackingInfoUpdate`` instead of creating a second one.
:class:`CreateFulfillment`
    One ``fulfillmentCreate`` call. It covers fulfillment orders at ONE location only
    (Shopify's rule), so a package whose items sit at two locations yields two.
:class:`Blocked`
    Nothing can be done now; `reason` (a :class:`BlockReason`) and a human message
    say why. The worker records it and retries when the order changes.

Rules
-----
* Only fulfillment orders whose ``supportedActions`` include ``CREATE_FULFILLMENT``
  are fulfilled, and never above a line's ``remainingQuantity`` (allocations made
  earlier in the same plan count).
* Package lines match fulfillment-order lines by Shopify line item id when the
  package carries it, else by SKU (trimmed, case-insensitive), else by variant id.
  A line that cannot be fully allocated blocks its whole package: a partial
  fulfilment would tell the customer a wrong story.
* A package without line information covers all remaining fulfillable items of the
  order, but only when it is its supplier order's only package. When a supplier
  order ships several unitemised packages (AliExpress ``logistics_info_list``), they
  are fulfilled together as one fulfilment with several numbers, which Shopify
  allows only for one carrier; so they must all be in the batch and share a
  carrier, otherwise they are blocked. The database layer should fill `lines` from
  the supplier order's own line mapping whenever it knows it, because "all remaining
  items" also covers items of other suppliers.
* Tracking URLs: Shopify builds the link itself for companies on its list and then
  also tracks ``shipment_status``; a supplier URL would override that link with the
  supplier's tracker. So the URL is sent only when the carrier is not known to
  Shopify (or when :attr:`PushSettings.always_send_tracking_url` is set); when an
  unknown carrier comes without a URL, :attr:`PushSettings.fallback_tracking_url`
  (a template with ``{number}``) is used if configured.
* Output order is deterministic: packages sorted by (supplier order id, package id),
  then fulfilments by location id. Idempotency keys hash (order id, sorted package
  ids, location id), so a re-plan after a crash yields the same keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NewType

from core.carriers import CarrierResolution, resolve_carrier
from core.errors import PlanInputError
from core.ids import (
    FulfillmentId,
    FulfillmentOrderId,
    FulfillmentOrderLineItemId,
    LineItemId,
    LocationId,
    OrderId,
    VariantId,
)
from core.tracking import normalize_tracking_number

__all__ = [
    "AdoptExisting",
    "BlockReason",
    "Blocked",
    "CreateFulfillment",
    "ExistingFulfillment",
    "FulfillmentOrderAction",
    "FulfillmentOrderLine",
    "FulfillmentOrderLineQuantity",
    "FulfillmentOrderLines",
    "FulfillmentOrderRequestStatus",
    "FulfillmentOrderState",
    "FulfillmentOrderStatus",
    "OrderState",
    "PackageId",
    "PackageLine",
    "PackageToPush",
    "PlanAction",
    "PushPlan",
    "PushSettings",
    "PushedPackage",
    "UpdateTracking",
    "plan_push",
]

PackageId = NewType("PackageId", str)


class FulfillmentOrderStatus(StrEnum):
    """Shopify ``FulfillmentOrderStatus`` (GraphQL spelling)."""

    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    ON_HOLD = "ON_HOLD"
    SCHEDULED = "SCHEDULED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    INCOMPLETE = "INCOMPLETE"


class FulfillmentOrderRequestStatus(StrEnum):
    """Shopify ``FulfillmentOrderRequestStatus``."""

    UNSUBMITTED = "UNSUBMITTED"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"
    CANCELLATION_ACCEPTED = "CANCELLATION_ACCEPTED"
    CANCELLATION_REJECTED = "CANCELLATION_REJECTED"
    CLOSED = "CLOSED"


class FulfillmentOrderAction(StrEnum):
    """Shopify ``FulfillmentOrderAction`` (values of ``supportedActions.action``)."""

    CANCEL_FULFILLMENT_ORDER = "CANCEL_FULFILLMENT_ORDER"
    CREATE_FULFILLMENT = "CREATE_FULFILLMENT"
    EXTERNAL = "EXTERNAL"
    HOLD = "HOLD"
    MARK_AS_OPEN = "MARK_AS_OPEN"
    MERGE = "MERGE"
    MOVE = "MOVE"
    RELEASE_HOLD = "RELEASE_HOLD"
    REQUEST_CANCELLATION = "REQUEST_CANCELLATION"
    REQUEST_FULFILLMENT = "REQUEST_FULFILLMENT"
    SPLIT = "SPLIT"


class BlockReason(StrEnum):
    """Why a package cannot be pushed now."""

    ORDER_CANCELLED = "order_cancelled"
    ORDER_CLOSED = "order_closed"
    AWAITING_FULFILLMENT_ORDERS = "awaiting_fulfillment_orders"
    FULFILLMENT_ORDER_ON_HOLD = "fulfillment_order_on_hold"
    SCHEDULED = "scheduled"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"
    NOT_FULFILLABLE = "fulfillment_order_not_fulfillable"
    NO_FULFILLABLE_LINE_ITEMS = "no_fulfillable_line_items"
    QUANTITY_EXCEEDS_REMAINING = "quantity_exceeds_remaining"
    LINE_ITEMS_NOT_MATCHED = "line_items_not_matched"
    PACKAGE_LINES_UNKNOWN = "package_lines_unknown"


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentOrderLine:
    """One ``FulfillmentOrderLineItem`` as read at push time."""

    fulfillment_order_line_item_id: FulfillmentOrderLineItemId
    line_item_id: LineItemId
    sku: str | None
    variant_id: VariantId | None
    remaining_quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentOrderState:
    """One fulfillment order as read at push time.

    `location_id` is the assigned location (``None`` if Shopify returns none);
    `hold_reasons` lists ``fulfillmentHolds[].reason`` for messages.
    """

    fulfillment_order_id: FulfillmentOrderId
    status: FulfillmentOrderStatus
    request_status: FulfillmentOrderRequestStatus
    location_id: LocationId | None
    supported_actions: frozenset[FulfillmentOrderAction]
    hold_reasons: tuple[str, ...]
    line_items: tuple[FulfillmentOrderLine, ...]

    @property
    def can_create_fulfillment(self) -> bool:
        return FulfillmentOrderAction.CREATE_FULFILLMENT in self.supported_actions


@dataclass(frozen=True, slots=True, kw_only=True)
class ExistingFulfillment:
    """A fulfilment the order already has.

    `status` is Shopify's ``FulfillmentStatus`` in any case (``SUCCESS``,
    ``CANCELLED``...); cancelled, error and failure ones are ignored.
    """

    fulfillment_id: FulfillmentId
    status: str
    tracking_company: str | None
    tracking_numbers: tuple[str, ...]

    @property
    def is_live(self) -> bool:
        return self.status.upper() not in {"CANCELLED", "ERROR", "FAILURE"}


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderState:
    """The order-level facts that block any push."""

    order_id: OrderId
    cancelled: bool
    closed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageLine:
    """An item in a package; at least one identifier should be set."""

    line_item_id: LineItemId | None
    sku: str | None
    variant_id: VariantId | None
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageToPush:
    """A supplier package waiting to reach Shopify.

    `supplier_order_package_count` is how many packages the supplier order has in
    total (the database knows); it decides how an unitemised package is treated.
    """

    package_id: PackageId
    supplier_order_id: str
    tracking_number: str
    tracking_number_normalized: str
    carrier: str | None
    tracking_url: str | None
    lines: tuple[PackageLine, ...]
    supplier_order_package_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PushedPackage:
    """A package pushed earlier, and the fulfilment it went into."""

    package_id: PackageId
    supplier_order_id: str
    fulfillment_id: FulfillmentId
    tracking_number_normalized: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PushSettings:
    """Per-shop push settings."""

    notify_customer: bool = True
    notify_customer_on_tracking_update: bool = True
    carrier_overrides: Mapping[str, str] = field(default_factory=dict)
    always_send_tracking_url: bool = False
    fallback_tracking_url: str | None = None


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentOrderLineQuantity:
    fulfillment_order_line_item_id: FulfillmentOrderLineItemId
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentOrderLines:
    """One entry of ``lineItemsByFulfillmentOrder``."""

    fulfillment_order_id: FulfillmentOrderId
    lines: tuple[FulfillmentOrderLineQuantity, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateFulfillment:
    """One ``fulfillmentCreate`` call; every fulfillment order is at `location_id`.

    Send ``trackingInfo.number``/``url`` when there is one number, ``numbers``/
    ``urls`` when there are several. `tracking_urls` is empty or one per number.
    """

    order_id: OrderId
    location_id: LocationId | None
    line_items_by_fulfillment_order: tuple[FulfillmentOrderLines, ...]
    tracking_numbers: tuple[str, ...]
    tracking_company: str | None
    tracking_urls: tuple[str, ...]
    notify_customer: bool
    package_ids: tuple[PackageId, ...]
    idempotency_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateTracking:
    """One ``fulfillmentTrackingInfoUpdate`` call on an existing fulfilment."""

    order_id: OrderId
    fulfillment_id: FulfillmentId
    tracking_number: str
    tracking_company: str | None
    tracking_url: str | None
    notify_customer: bool
    replaces_tracking_number: str
    package_ids: tuple[PackageId, ...]
    idempotency_key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AdoptExisting:
    """The tracking number is already on a live fulfilment: record the link only."""

    order_id: OrderId
    fulfillment_id: FulfillmentId
    tracking_number: str
    package_ids: tuple[PackageId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Blocked:
    """The packages cannot be pushed now."""

    order_id: OrderId
    package_ids: tuple[PackageId, ...]
    reason: BlockReason
    message: str


PlanAction = CreateFulfillment | UpdateTracking | AdoptExisting | Blocked


@dataclass(frozen=True, slots=True, kw_only=True)
class PushPlan:
    """The actions for one order, in execution order."""

    order_id: OrderId
    actions: tuple[PlanAction, ...]

    @property
    def creates(self) -> tuple[CreateFulfillment, ...]:
        return tuple(a for a in self.actions if isinstance(a, CreateFulfillment))

    @property
    def updates(self) -> tuple[UpdateTracking, ...]:
        return tuple(a for a in self.actions if isinstance(a, UpdateTracking))

    @property
    def adoptions(self) -> tuple[AdoptExisting, ...]:
        return tuple(a for a in self.actions if isinstance(a, AdoptExisting))

    @property
    def blocked(self) -> tuple[Blocked, ...]:
        return tuple(a for a in self.actions if isinstance(a, Blocked))


# -------------------------------------------------------------------------- planning


def plan_push(
    *,
    order: OrderState,
    fulfillment_orders: Sequence[FulfillmentOrderState],
    fulfillments: Sequence[ExistingFulfillment],
    packages: Sequence[PackageToPush],
    pushed: Sequence[PushedPackage],
    settings: PushSettings,
) -> PushPlan:
    """Decide what to send to Shopify for `packages` of one order.

    Parameters
    ----------
    order
        Whether the order is cancelled or closed.
    fulfillment_orders
        The order's fulfillment orders, read from Shopify at push time.
    fulfillments
        The order's existing fulfilments (any status).
    packages
        The packages to push now (any order; they are sorted).
    pushed
        Packages of this order pushed earlier, for tracking-number changes.
    settings
        The shop's push settings.

    Raises
    ------
    PlanInputError
        On duplicate package ids or non-positive line quantities.
    """
    _check_inputs(packages)
    planner = _Planner(
        order=order,
        fulfillment_orders=fulfillment_orders,
        fulfillments=fulfillments,
        pushed=pushed,
        settings=settings,
    )
    ordered = sorted(packages, key=lambda p: (p.supplier_order_id, p.package_id))
    return PushPlan(order_id=order.order_id, actions=tuple(planner.plan(ordered)))


def _check_inputs(packages: Sequence[PackageToPush]) -> None:
    seen: set[str] = set()
    for package in packages:
        if package.package_id in seen:
            raise PlanInputError(f"package {package.package_id!r} is listed twice")
        seen.add(package.package_id)
        for line in package.lines:
            if line.quantity <= 0:
                raise PlanInputError(
                    f"package {package.package_id!r} has a line with quantity "
                    f"{line.quantity}; quantities must be positive"
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Shipment:
    """Packages that go into one fulfilment (one package, or a same-carrier group)."""

    packages: tuple[PackageToPush, ...]
    carrier: CarrierResolution

    @property
    def package_ids(self) -> tuple[PackageId, ...]:
        return tuple(p.package_id for p in self.packages)


_Allocation = dict[FulfillmentOrderId, dict[FulfillmentOrderLineItemId, int]]


class _Planner:
    def __init__(
        self,
        *,
        order: OrderState,
        fulfillment_orders: Sequence[FulfillmentOrderState],
        fulfillments: Sequence[ExistingFulfillment],
        pushed: Sequence[PushedPackage],
        settings: PushSettings,
    ) -> None:
        self.order = order
        self.fulfillment_orders = sorted(
            fulfillment_orders, key=lambda fo: fo.fulfillment_order_id
        )
        self.live_fulfillments = [f for f in fulfillments if f.is_live]
        self.pushed = pushed
        self.settings = settings
        self.remaining = {
            line.fulfillment_order_line_item_id: line.remaining_quantity
            for fo in self.fulfillment_orders
            if fo.can_create_fulfillment
            for line in fo.line_items
        }

    def plan(self, packages: Sequence[PackageToPush]) -> list[PlanAction]:
        actions: list[PlanAction] = []
        waiting: list[PackageToPush] = []
        for package in packages:
            adopted = self._adopt(package)
            if adopted is not None:
                actions.append(adopted)
            else:
                waiting.append(package)
        order_block = self._order_block()
        if order_block is not None:
            reason, message = order_block
            actions.extend(
                self._blocked(self._shipment((package,)), reason, message)
                for package in waiting
            )
            return actions
        for shipment in self._shipments(waiting, actions):
            update = self._update(shipment)
            if update is not None:
                actions.append(update)
            else:
                actions.extend(self._create(shipment))
        return actions

    # -- adoption and order-level blocks

    def _adopt(self, package: PackageToPush) -> AdoptExisting | None:
        key = package.tracking_number_normalized
        for fulfillment in sorted(
            self.live_fulfillments, key=lambda f: f.fulfillment_id
        ):
            numbers = {
                normalize_tracking_number(n) for n in fulfillment.tracking_numbers
            }
            if key in numbers:
                return AdoptExisting(
                    order_id=self.order.order_id,
                    fulfillment_id=fulfillment.fulfillment_id,
                    tracking_number=package.tracking_number,
                    package_ids=(package.package_id,),
                )
        return None

    def _order_block(self) -> tuple[BlockReason, str] | None:
        if self.order.cancelled:
            return BlockReason.ORDER_CANCELLED, "the Shopify order is cancelled"
        if self.order.closed:
            return BlockReason.ORDER_CLOSED, "the Shopify order is closed (archived)"
        if not self.fulfillment_orders:
            return (
                BlockReason.AWAITING_FULFILLMENT_ORDERS,
                "the order has no fulfillment orders yet (Shopify is still routing it)",
            )
        return None

    # -- grouping packages into shipments

    def _shipments(
        self, packages: Sequence[PackageToPush], actions: list[PlanAction]
    ) -> list[_Shipment]:
        shipments: list[_Shipment] = []
        unitemised: dict[str, list[PackageToPush]] = {}
        for package in packages:
            if package.lines or package.supplier_order_package_count <= 1:
                shipments.append(self._shipment((package,)))
            else:
                unitemised.setdefault(package.supplier_order_id, []).append(package)
        for supplier_order_id, group in unitemised.items():
            grouped = self._group_shipment(supplier_order_id, group)
            if isinstance(grouped, Blocked):
                actions.append(grouped)
            else:
                shipments.append(grouped)
        # Itemised packages first: an unitemised one takes whatever is left.
        return sorted(shipments, key=lambda s: (not s.packages[0].lines, s.package_ids))

    def _group_shipment(
        self, supplier_order_id: str, group: list[PackageToPush]
    ) -> _Shipment | Blocked:
        expected = max(p.supplier_order_package_count for p in group)
        companies = {self._carrier(p).company for p in group}
        problem = None
        if len(group) < expected:
            problem = (
                f"supplier order {supplier_order_id} has {expected} packages that do "
                f"not list their items, and only {len(group)} can be pushed now; "
                "the items cannot be split between them"
            )
        elif len(companies) > 1:
            problem = (
                f"supplier order {supplier_order_id} ships unitemised packages with "
                f"different carriers ({', '.join(sorted(map(str, companies)))}); one "
                "fulfilment can carry several numbers only for one carrier"
            )
        if problem is not None:
            return Blocked(
                order_id=self.order.order_id,
                package_ids=tuple(p.package_id for p in group),
                reason=BlockReason.PACKAGE_LINES_UNKNOWN,
                message=problem,
            )
        return self._shipment(tuple(group))

    def _shipment(self, packages: tuple[PackageToPush, ...]) -> _Shipment:
        return _Shipment(packages=packages, carrier=self._carrier(packages[0]))

    def _carrier(self, package: PackageToPush) -> CarrierResolution:
        return resolve_carrier(
            package.carrier, overrides=self.settings.carrier_overrides
        )

    # -- tracking updates

    def _update(self, shipment: _Shipment) -> UpdateTracking | None:
        if len(shipment.packages) != 1:
            return None
        package = shipment.packages[0]
        if package.supplier_order_package_count != 1:
            return None
        earlier = [
            p for p in self.pushed if p.supplier_order_id == package.supplier_order_id
        ]
        if len(earlier) != 1:
            return None
        previous = earlier[0]
        live = {f.fulfillment_id: f for f in self.live_fulfillments}
        target = live.get(previous.fulfillment_id)
        if target is None or previous.tracking_number_normalized == (
            package.tracking_number_normalized
        ):
            return None
        urls = self._urls(shipment)
        return UpdateTracking(
            order_id=self.order.order_id,
            fulfillment_id=previous.fulfillment_id,
            tracking_number=package.tracking_number,
            tracking_company=shipment.carrier.company,
            tracking_url=urls[0] if urls else None,
            notify_customer=self.settings.notify_customer_on_tracking_update,
            replaces_tracking_number=", ".join(target.tracking_numbers),
            package_ids=(package.package_id,),
            idempotency_key=_key(
                "trk",
                self.order.order_id,
                shipment.package_ids,
                previous.fulfillment_id,
            ),
        )

    # -- fulfilment creation

    def _create(self, shipment: _Shipment) -> list[PlanAction]:
        outcome = self._allocate(shipment)
        if isinstance(outcome, Blocked):
            return [outcome]
        for allocated in outcome.values():
            for line_id, quantity in allocated.items():
                self.remaining[line_id] -= quantity
        by_location: dict[LocationId | None, list[FulfillmentOrderLines]] = {}
        for fo in self.fulfillment_orders:
            fo_lines = outcome.get(fo.fulfillment_order_id)
            if fo_lines:
                by_location.setdefault(fo.location_id, []).append(
                    FulfillmentOrderLines(
                        fulfillment_order_id=fo.fulfillment_order_id,
                        lines=tuple(
                            FulfillmentOrderLineQuantity(
                                fulfillment_order_line_item_id=line_id,
                                quantity=quantity,
                            )
                            for line_id, quantity in sorted(fo_lines.items())
                        ),
                    )
                )
        urls = self._urls(shipment)
        return [
            CreateFulfillment(
                order_id=self.order.order_id,
                location_id=location,
                line_items_by_fulfillment_order=tuple(by_location[location]),
                tracking_numbers=tuple(p.tracking_number for p in shipment.packages),
                tracking_company=shipment.carrier.company,
                tracking_urls=urls,
                notify_customer=self.settings.notify_customer,
                package_ids=shipment.package_ids,
                idempotency_key=_key(
                    "ful", self.order.order_id, shipment.package_ids, location
                ),
            )
            for location in sorted(by_location, key=_location_sort_key)
        ]

    def _urls(self, shipment: _Shipment) -> tuple[str, ...]:
        if (
            shipment.carrier.known_to_shopify
            and not self.settings.always_send_tracking_url
        ):
            return ()
        urls: list[str] = []
        for package in shipment.packages:
            url = package.tracking_url or self._fallback_url(package)
            if url is None:
                return ()
            urls.append(url)
        return tuple(urls)

    def _fallback_url(self, package: PackageToPush) -> str | None:
        template = self.settings.fallback_tracking_url
        if template is None:
            return None
        return template.replace("{number}", package.tracking_number)

    def _allocate(self, shipment: _Shipment) -> _Allocation | Blocked:
        package = shipment.packages[0]
        if not package.lines:
            return self._allocate_everything(shipment)
        allocation: _Allocation = {}
        taken: dict[FulfillmentOrderLineItemId, int] = {}
        for index, line in enumerate(package.lines):
            candidates = [
                (fo, fo_line)
                for fo in self.fulfillment_orders
                for fo_line in fo.line_items
                if _matches(line, fo_line)
            ]
            wanted = line.quantity
            for fo, fo_line in candidates:
                if not fo.can_create_fulfillment or wanted == 0:
                    continue
                line_id = fo_line.fulfillment_order_line_item_id
                free = self.remaining[line_id] - taken.get(line_id, 0)
                quantity = min(free, wanted)
                if quantity > 0:
                    taken[line_id] = taken.get(line_id, 0) + quantity
                    per_fo = allocation.setdefault(fo.fulfillment_order_id, {})
                    per_fo[line_id] = per_fo.get(line_id, 0) + quantity
                    wanted -= quantity
            if wanted > 0:
                return self._line_block(shipment, index, line, candidates, wanted)
        return allocation

    def _allocate_everything(self, shipment: _Shipment) -> _Allocation | Blocked:
        allocation: _Allocation = {}
        for fo in self.fulfillment_orders:
            if not fo.can_create_fulfillment:
                continue
            for fo_line in fo.line_items:
                free = self.remaining[fo_line.fulfillment_order_line_item_id]
                if free > 0:
                    allocation.setdefault(fo.fulfillment_order_id, {})[
                        fo_line.fulfillment_order_line_item_id
                    ] = free
        if allocation:
            return allocation
        blocking = [
            fo
            for fo in self.fulfillment_orders
            if not fo.can_create_fulfillment
            and any(line.remaining_quantity > 0 for line in fo.line_items)
        ]
        if blocking:
            reason, why = _status_reason(blocking[0])
            return self._blocked(shipment, reason, f"nothing is fulfillable: {why}")
        return self._blocked(
            shipment,
            BlockReason.NO_FULFILLABLE_LINE_ITEMS,
            "the order has no remaining fulfillable items (already fulfilled?)",
        )

    def _line_block(
        self,
        shipment: _Shipment,
        index: int,
        line: PackageLine,
        candidates: list[tuple[FulfillmentOrderState, FulfillmentOrderLine]],
        missing: int,
    ) -> Blocked:
        what = f"line {index + 1} ({_describe_line(line)})"
        blockers = [fo for fo, fo_line in candidates if not fo.can_create_fulfillment]
        open_blockers = [
            fo
            for fo, fo_line in candidates
            if not fo.can_create_fulfillment and fo_line.remaining_quantity > 0
        ]
        fulfillable = [fo for fo, _ in candidates if fo.can_create_fulfillment]
        if open_blockers or (blockers and not fulfillable):
            reason, why = _status_reason((open_blockers or blockers)[0])
            return self._blocked(shipment, reason, f"{what}: {why}")
        if fulfillable:
            return self._blocked(
                shipment,
                BlockReason.QUANTITY_EXCEEDS_REMAINING,
                f"{what}: {missing} of {line.quantity} exceed the remaining quantity",
            )
        return self._blocked(
            shipment,
            BlockReason.LINE_ITEMS_NOT_MATCHED,
            f"{what} matches no item of the order's fulfillment orders",
        )

    def _blocked(
        self, shipment: _Shipment, reason: BlockReason, message: str
    ) -> Blocked:
        return Blocked(
            order_id=self.order.order_id,
            package_ids=shipment.package_ids,
            reason=reason,
            message=message,
        )


def _matches(line: PackageLine, fo_line: FulfillmentOrderLine) -> bool:
    if line.line_item_id is not None:
        return fo_line.line_item_id == line.line_item_id
    if line.sku is not None and line.sku.strip():
        return _sku_key(fo_line.sku) == _sku_key(line.sku)
    if line.variant_id is not None:
        return fo_line.variant_id == line.variant_id
    return False


def _sku_key(sku: str | None) -> str | None:
    return sku.strip().casefold() if sku is not None else None


def _describe_line(line: PackageLine) -> str:
    if line.line_item_id is not None:
        return f"line item {line.line_item_id}"
    if line.sku is not None and line.sku.strip():
        return f"SKU {line.sku.strip()!r}"
    if line.variant_id is not None:
        return f"variant {line.variant_id}"
    return "no line item id, SKU or variant id"


_STATUS_REASONS: Mapping[FulfillmentOrderStatus, tuple[BlockReason, str]] = {
    FulfillmentOrderStatus.ON_HOLD: (
        BlockReason.FULFILLMENT_ORDER_ON_HOLD,
        "is on hold",
    ),
    FulfillmentOrderStatus.SCHEDULED: (BlockReason.SCHEDULED, "is scheduled for later"),
    FulfillmentOrderStatus.CLOSED: (
        BlockReason.CLOSED,
        "is closed (already fulfilled)",
    ),
    FulfillmentOrderStatus.CANCELLED: (BlockReason.CANCELLED, "is cancelled"),
    FulfillmentOrderStatus.INCOMPLETE: (BlockReason.INCOMPLETE, "is incomplete"),
}


def _status_reason(fo: FulfillmentOrderState) -> tuple[BlockReason, str]:
    reason, text = _STATUS_REASONS.get(
        fo.status,
        (
            BlockReason.NOT_FULFILLABLE,
            f"does not allow CREATE_FULFILLMENT (request status {fo.request_status})",
        ),
    )
    holds = f" ({', '.join(fo.hold_reasons)})" if fo.hold_reasons else ""
    return reason, f"fulfillment order {fo.fulfillment_order_id} {text}{holds}"


def _location_sort_key(location: LocationId | None) -> tuple[bool, int]:
    return (location is None, location or 0)


def _key(
    kind: str, order_id: int, package_ids: Iterable[str], scope: int | None
) -> str:
    material = "|".join(
        [kind, str(order_id), ",".join(sorted(package_ids)), str(scope)]
    )
    return f"{kind}:{hashlib.sha256(material.encode()).hexdigest()[:40]}"
