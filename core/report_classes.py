"""The mismatch report's closed taxonomy, and the pure rules around it.

Every row of the report has a class from `MismatchClass`. Each class has a fixed base priority
(1 is the most urgent), the threshold that decides when it turns from `pending` into `break`,
where its age is counted from, and the action to take. Priority rises with age: one level per
`priority_step` of age, never above 1. Ages fall in non-overlapping, half-open buckets whose
boundaries are configurable (they change the view, never the totals).

Thresholds have defaults (service settings) and may be overridden per shop in
`shop.settings["report"]`, as seconds or as a duration such as ``"48h"``, ``"7d"`` or ``"30m"``.
"""

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "CLASS_SPECS",
    "CUTOVER_ACTION",
    "ActionBy",
    "AgeBuckets",
    "ClassSpec",
    "Lifecycle",
    "MismatchClass",
    "Outcome",
    "SubjectKind",
    "Thresholds",
    "action_for",
    "effective_priority",
    "invalid_overrides",
    "outcome_at",
    "parse_duration",
    "resolve_thresholds",
]


class MismatchClass(StrEnum):
    SHIPPED_NOT_SYNCED = "shipped_not_synced"
    TRACKING_MISMATCH = "tracking_mismatch"
    PARTIALLY_SYNCED = "partially_synced"
    FULFILLED_WITHOUT_SUPPLIER_SHIPMENT = "fulfilled_without_supplier_shipment"
    PAID_NOT_PLACED = "paid_not_placed"
    CANCELLED_AT_SUPPLIER_OPEN_IN_SHOPIFY = "cancelled_at_supplier_open_in_shopify"
    CANCELLED_IN_SHOPIFY_ACTIVE_AT_SUPPLIER = "cancelled_in_shopify_active_at_supplier"
    DUPLICATE_FULFILMENT = "duplicate_fulfilment"
    CARRIER_NOT_RECOGNISED = "carrier_not_recognised"
    PUSH_FAILED = "push_failed"
    HELD_IN_SHOPIFY = "held_in_shopify"
    PAYMENT_PENDING = "payment_pending"
    ARCHIVED_UNFULFILLED = "archived_unfulfilled"
    SUPPLIER_ORDER_WITHOUT_SHOPIFY_ORDER = "supplier_order_without_shopify_order"
    TRACKING_STALLED = "tracking_stalled"
    SHOP_NEEDS_ATTENTION = "shop_needs_attention"


class Outcome(StrEnum):
    OK = "ok"  # both sides agree
    PENDING = "pending"  # they disagree, but inside the grace window (see `breaks_at`)
    BREAK = "break"  # they disagree and someone (dropsync or a person) must act


class Lifecycle(StrEnum):
    NEW = "new"  # first seen since the last full pass
    PERSISTING = "persisting"  # still there at a full pass after the one that found it
    RESOLVED = "resolved"  # gone: fixed by dropsync, by a later webhook, or by a person


class SubjectKind(StrEnum):
    ORDER = "order"  # a Shopify order (and the supplier orders linked to it)
    SUPPLIER_ORDER = "supplier_order"  # a supplier order no Shopify order claims
    SHOP = "shop"  # the shop's connection itself


class ActionBy(StrEnum):
    DROPSYNC = "dropsync"  # dropsync acts on its own (a push is queued or retried)
    PERSON = "person"  # someone must look


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """Grace windows and ages; every field can be overridden per shop by its name."""

    sync_grace: timedelta = timedelta(hours=1)
    paid_not_placed_after: timedelta = timedelta(hours=24)
    payment_pending_after: timedelta = timedelta(hours=72)
    cancel_grace: timedelta = timedelta(hours=2)
    orphan_grace: timedelta = timedelta(hours=2)
    hold_grace: timedelta = timedelta(hours=48)
    tracking_stalled_after: timedelta = timedelta(days=7)
    priority_step: timedelta = timedelta(days=3)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassSpec:
    """What a class means, how urgent it is, and what to do about it."""

    base_priority: int
    subject: SubjectKind
    threshold: str | None  # the `Thresholds` field that is its grace window, if any
    age_from: str
    meaning: str
    action_pending: str
    action_break: str
    action_by: ActionBy


_C = MismatchClass
CLASS_SPECS: Mapping[MismatchClass, ClassSpec] = {
    _C.SHIPPED_NOT_SYNCED: ClassSpec(
        base_priority=1,
        subject=SubjectKind.ORDER,
        threshold="sync_grace",
        age_from="the first unsynced package's shipment",
        meaning="The supplier shipped a package whose tracking number is on no Shopify "
        "fulfilment of the order.",
        action_pending="dropsync is pushing the tracking number to Shopify",
        action_break="Check the worker and the push ledger; the push has not happened in time.",
        action_by=ActionBy.DROPSYNC,
    ),
    _C.TRACKING_MISMATCH: ClassSpec(
        base_priority=1,
        subject=SubjectKind.ORDER,
        threshold="sync_grace",
        age_from="the supplier's package",
        meaning="Shopify shows a tracking number the supplier does not have, or the same "
        "number with a different carrier.",
        action_pending="dropsync is updating the tracking on the Shopify fulfilment",
        action_break="Compare both sides and correct the fulfilment's tracking in Shopify.",
        action_by=ActionBy.DROPSYNC,
    ),
    _C.PARTIALLY_SYNCED: ClassSpec(
        base_priority=2,
        subject=SubjectKind.ORDER,
        threshold="sync_grace",
        age_from="the first unsynced package, or the last supplier shipment",
        meaning="Some packages reached Shopify but not all, or the supplier shipped "
        "everything while Shopify still has items left to fulfil.",
        action_pending="dropsync is pushing the remaining packages",
        action_break="Fulfil the remaining items in Shopify or check the supplier's line mapping.",
        action_by=ActionBy.DROPSYNC,
    ),
    _C.FULFILLED_WITHOUT_SUPPLIER_SHIPMENT: ClassSpec(
        base_priority=2,
        subject=SubjectKind.ORDER,
        threshold=None,
        age_from="the Shopify fulfilment",
        meaning="Shopify has a fulfilment but the supplier has shipped no package for the order.",
        action_pending="",
        action_break="Check who fulfilled the order in Shopify and whether the supplier shipped.",
        action_by=ActionBy.PERSON,
    ),
    _C.PAID_NOT_PLACED: ClassSpec(
        base_priority=2,
        subject=SubjectKind.ORDER,
        threshold="paid_not_placed_after",
        age_from="the order's creation",
        meaning="The order is paid but no supplier order exists for it.",
        action_pending="waiting for the order to be placed with the supplier",
        action_break="Place the order with the supplier (or link the supplier order).",
        action_by=ActionBy.PERSON,
    ),
    _C.CANCELLED_AT_SUPPLIER_OPEN_IN_SHOPIFY: ClassSpec(
        base_priority=1,
        subject=SubjectKind.ORDER,
        threshold="cancel_grace",
        age_from="the supplier's cancellation",
        meaning="Every supplier order for it is cancelled while the Shopify order is open.",
        action_pending="waiting for a replacement supplier order",
        action_break="Re-place the order with a supplier, or cancel and refund it in Shopify.",
        action_by=ActionBy.PERSON,
    ),
    _C.CANCELLED_IN_SHOPIFY_ACTIVE_AT_SUPPLIER: ClassSpec(
        base_priority=1,
        subject=SubjectKind.ORDER,
        threshold="cancel_grace",
        age_from="the Shopify cancellation",
        meaning="The order is cancelled in Shopify but a supplier order is still active "
        "(or already shipped).",
        action_pending="waiting for the supplier to confirm the cancellation",
        action_break="Cancel the supplier order (or arrange a return if it shipped).",
        action_by=ActionBy.PERSON,
    ),
    _C.DUPLICATE_FULFILMENT: ClassSpec(
        base_priority=2,
        subject=SubjectKind.ORDER,
        threshold=None,
        age_from="the later fulfilment",
        meaning="The same tracking number is on two fulfilments, or more was fulfilled than "
        "ordered.",
        action_pending="",
        action_break="Cancel the extra fulfilment in Shopify.",
        action_by=ActionBy.PERSON,
    ),
    _C.CARRIER_NOT_RECOGNISED: ClassSpec(
        base_priority=4,
        subject=SubjectKind.ORDER,
        threshold=None,
        age_from="the Shopify fulfilment",
        meaning="A fulfilment's tracking company is not on Shopify's list: no automatic "
        "tracking link or shipment status.",
        action_pending="",
        action_break="Map the supplier's carrier to a Shopify company in the shop's settings.",
        action_by=ActionBy.PERSON,
    ),
    _C.PUSH_FAILED: ClassSpec(
        base_priority=1,
        subject=SubjectKind.ORDER,
        threshold=None,
        age_from="the failed push",
        meaning="Shopify refused a push; the ledger row is parked with Shopify's message.",
        action_pending="",
        action_break="Fix what Shopify's message names, then retry the push.",
        action_by=ActionBy.PERSON,
    ),
    _C.HELD_IN_SHOPIFY: ClassSpec(
        base_priority=2,
        subject=SubjectKind.ORDER,
        threshold="hold_grace",
        age_from="the hold",
        meaning="A fulfillment order is on hold in Shopify while the supplier is working on "
        "(or has shipped) the order; dropsync cannot push to it.",
        action_pending="waiting for the hold to be released",
        action_break="Release the hold in Shopify (or cancel the supplier order).",
        action_by=ActionBy.PERSON,
    ),
    _C.PAYMENT_PENDING: ClassSpec(
        base_priority=3,
        subject=SubjectKind.ORDER,
        threshold="payment_pending_after",
        age_from="the order's creation",
        meaning="The customer has not paid; a break at once when a supplier order was "
        "already placed.",
        action_pending="waiting for the payment",
        action_break="Capture the payment or cancel the order (and its supplier order).",
        action_by=ActionBy.PERSON,
    ),
    _C.ARCHIVED_UNFULFILLED: ClassSpec(
        base_priority=2,
        subject=SubjectKind.ORDER,
        threshold=None,
        age_from="the archiving",
        meaning="The order is archived (closed) in Shopify, hidden from the default view, "
        "but still unfulfilled.",
        action_pending="",
        action_break="Unarchive the order and fulfil it, or cancel it.",
        action_by=ActionBy.PERSON,
    ),
    _C.SUPPLIER_ORDER_WITHOUT_SHOPIFY_ORDER: ClassSpec(
        base_priority=2,
        subject=SubjectKind.SUPPLIER_ORDER,
        threshold="orphan_grace",
        age_from="the supplier order's arrival",
        meaning="A supplier order that no Shopify order claims.",
        action_pending="waiting for the Shopify order to arrive (webhook or poll)",
        action_break="Link it to its Shopify order (fix the reference) or cancel it.",
        action_by=ActionBy.PERSON,
    ),
    _C.TRACKING_STALLED: ClassSpec(
        base_priority=3,
        subject=SubjectKind.ORDER,
        threshold=None,
        age_from="the package's last carrier event",
        meaning="A shipped package has had no carrier movement for longer than the threshold.",
        action_pending="",
        action_break="Ask the supplier or carrier about the parcel.",
        action_by=ActionBy.PERSON,
    ),
    _C.SHOP_NEEDS_ATTENTION: ClassSpec(
        base_priority=1,
        subject=SubjectKind.SHOP,
        threshold=None,
        age_from="the shop's status change",
        meaning="The shop's connection is broken (credentials rejected, subscriptions "
        "missing): its data is incomplete.",
        action_pending="",
        action_break="Reconnect the shop (reinstall or renew its credentials).",
        action_by=ActionBy.PERSON,
    ),
}


# Packages shipped before the shop's cut-over date (connect's `push_shipped_since`) are
# reported but never pushed, so the row asks a person to choose (docs/connect.md, Cut-over).
CUTOVER_ACTION = (
    "Shipped before the shop's cut-over date, so dropsync will not push it: opt in to push "
    "(move the cut-over earlier: `dropsync shops cutover <shop> --since <date>` or "
    "PUT /shops/{id}/cutover) or sync it manually in Shopify."
)
_CUTOVER_CLASSES = frozenset({MismatchClass.SHIPPED_NOT_SYNCED, MismatchClass.PARTIALLY_SYNCED})


def action_for(
    mismatch_class: MismatchClass, outcome: Outcome, *, before_cutover: bool = False
) -> str:
    """The row's action; `before_cutover` when every unsynced package predates the cut-over."""
    if before_cutover and mismatch_class in _CUTOVER_CLASSES:
        return CUTOVER_ACTION
    spec = CLASS_SPECS[mismatch_class]
    if outcome is Outcome.PENDING and spec.action_pending:
        return spec.action_pending
    return spec.action_break


def effective_priority(base: int, *, age: timedelta, step: timedelta) -> int:
    """The base priority raised one level per `step` of age, never above 1."""
    if step <= timedelta(0) or age <= timedelta(0):
        return base
    return max(1, base - int(age / step))


def outcome_at(breaks_at: datetime, *, now: datetime) -> Outcome:
    """Pending while inside the grace window, a break from `breaks_at` on."""
    return Outcome.PENDING if breaks_at > now else Outcome.BREAK


@dataclass(frozen=True, slots=True)
class AgeBuckets:
    """Non-overlapping half-open age buckets: [0, b1), [b1, b2), ..., [bn, inf)."""

    boundaries: tuple[timedelta, ...]

    def __post_init__(self) -> None:
        if not self.boundaries:
            raise ValueError("age buckets need at least one boundary")
        if any(b <= timedelta(0) for b in self.boundaries):
            raise ValueError("age bucket boundaries must be positive")
        if list(self.boundaries) != sorted(set(self.boundaries)):
            raise ValueError("age bucket boundaries must be strictly increasing")

    @property
    def labels(self) -> tuple[str, ...]:
        edges = [timedelta(0), *self.boundaries]
        spans = [f"{_short(lower)}-{_short(upper)}" for lower, upper in itertools.pairwise(edges)]
        return (*spans, f"{_short(self.boundaries[-1])}+")

    def ranges(self) -> tuple[tuple[str, timedelta, timedelta | None], ...]:
        """(label, lower bound inclusive, upper bound exclusive or None) for each bucket."""
        edges: list[timedelta | None] = [timedelta(0), *self.boundaries, None]
        return tuple(
            (label, lower, upper)
            for label, lower, upper in zip(self.labels, edges[:-1], edges[1:], strict=True)
            if lower is not None
        )

    def bucket_for(self, age: timedelta) -> str:
        for label, lower, upper in self.ranges():
            if age >= lower and (upper is None or age < upper):
                return label
        return self.labels[0]  # a negative age (clock skew) counts as the youngest


def _short(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """Seconds (a number) or a string such as ``"90m"``, ``"48h"`` or ``"7d"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value.lower())):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError(f"not a duration: {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return timedelta(seconds=seconds)


def resolve_thresholds(defaults: Thresholds, overrides: Mapping[str, object]) -> Thresholds:
    """Apply a shop's overrides; unknown names and unparsable values are ignored (logged upstream).

    Returns the thresholds and never raises: one shop's typo must not stop the whole pass.
    """
    known = {field.name for field in fields(Thresholds)}
    changes: dict[str, timedelta] = {}
    for name, raw in overrides.items():
        if name not in known:
            continue
        try:
            changes[name] = parse_duration(raw)
        except ValueError:
            continue
    return replace(defaults, **changes)


def invalid_overrides(overrides: Mapping[str, object]) -> Sequence[str]:
    """The override names that `resolve_thresholds` ignores, so callers can report them."""
    known = {field.name for field in fields(Thresholds)}
    bad: list[str] = []
    for name, raw in overrides.items():
        if name not in known:
            bad.append(name)
            continue
        try:
            parse_duration(raw)
        except ValueError:
            bad.append(name)
    return bad
