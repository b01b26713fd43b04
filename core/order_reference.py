"""Match a supplier order's reference to a Shopify order, set-based.

A supplier order carries the merchant's reference to the Shopify order: CJ
``orderNumber``, AliExpress ``out_order_id``, generic ``shopify_order_id`` or
``order_name``. Depending on how the order was placed it can be the numeric order id,
a GID, the order name with or without ``#`` (``#1001``, ``1001``, ``#SB1001``) or a
value the merchant stored in a note attribute.

Both sides are reduced to :class:`ReferenceKey` values:

* :func:`reference_keys` gives every key a supplier reference *might* mean;
* :func:`order_reference_keys` gives every key a Shopify order *answers to*.

The database layer stores the order's keys (e.g. a table of ``(shop, kind, attribute,
value) -> order_id``) and looks a reference up with one ``WHERE (kind, attribute,
value) IN (...)``. :func:`resolve_reference` then picks the order from what was found:
a match on the order id beats a note attribute, which beats the order name; two
different orders at the best level is ambiguous and matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.errors import InvalidIdError
from core.ids import MAX_ID, OrderId, parse_gid_id

__all__ = [
    "ReferenceKey",
    "ReferenceKind",
    "ReferenceResolution",
    "order_name_key",
    "order_reference_keys",
    "reference_keys",
    "resolve_reference",
]


class ReferenceKind(StrEnum):
    """What a reference key identifies, strongest first."""

    ORDER_ID = "order_id"
    NOTE_ATTRIBUTE = "note_attribute"
    ORDER_NAME = "order_name"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceKey:
    """One normalised way of naming an order.

    `attribute` is the note attribute name for ``NOTE_ATTRIBUTE`` keys, else ``""``.
    """

    kind: ReferenceKind
    value: str
    attribute: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceResolution:
    """The outcome of matching one reference.

    `order_id` is ``None`` when nothing matched or when `ambiguous` lists two or more
    orders matching at the same strength.
    """

    order_id: OrderId | None
    matched_by: ReferenceKind | None
    ambiguous: tuple[OrderId, ...]


_CANONICAL_NUMBER = re.compile(r"[1-9][0-9]*")
_STRENGTH = {kind: rank for rank, kind in enumerate(ReferenceKind)}


def order_name_key(name: str) -> str:
    """Normalise an order name: trim, drop a leading ``#``, upper-case."""
    return name.strip().removeprefix("#").strip().upper()


def reference_keys(
    reference: str | int, *, note_attribute_names: Sequence[str] = ()
) -> frozenset[ReferenceKey]:
    """Return every key a supplier-side reference might stand for.

    Parameters
    ----------
    reference
        The reference as the supplier returns it (number or text).
    note_attribute_names
        The shop's configured note attribute names holding supplier references.
    """
    text = str(reference).strip()
    if not text:
        return frozenset()
    keys = {ReferenceKey(kind=ReferenceKind.ORDER_NAME, value=order_name_key(text))}
    order_id = _order_id(text)
    if order_id is not None:
        keys.add(ReferenceKey(kind=ReferenceKind.ORDER_ID, value=str(order_id)))
    keys.update(
        ReferenceKey(
            kind=ReferenceKind.NOTE_ATTRIBUTE,
            value=text.upper(),
            attribute=name.strip(),
        )
        for name in note_attribute_names
    )
    return frozenset(key for key in keys if key.value)


def order_reference_keys(
    *,
    order_id: OrderId,
    name: str,
    note_attributes: Iterable[tuple[str, str]],
    note_attribute_names: Sequence[str] = (),
) -> frozenset[ReferenceKey]:
    """Return every key a Shopify order answers to.

    Only note attributes whose name is in `note_attribute_names` count.
    """
    wanted = {n.strip() for n in note_attribute_names}
    keys = {
        ReferenceKey(kind=ReferenceKind.ORDER_ID, value=str(order_id)),
        ReferenceKey(kind=ReferenceKind.ORDER_NAME, value=order_name_key(name)),
    }
    keys.update(
        ReferenceKey(
            kind=ReferenceKind.NOTE_ATTRIBUTE,
            value=value.strip().upper(),
            attribute=attr_name.strip(),
        )
        for attr_name, value in note_attributes
        if attr_name.strip() in wanted and value.strip()
    )
    return frozenset(key for key in keys if key.value)


def resolve_reference(
    candidates: Iterable[ReferenceKey],
    found: Mapping[OrderId, Iterable[ReferenceKey]],
) -> ReferenceResolution:
    """Pick the order a reference means from the orders the lookup found.

    Parameters
    ----------
    candidates
        The keys from :func:`reference_keys`.
    found
        For each order the lookup returned, the keys it matched on.
    """
    wanted = set(candidates)
    best: dict[int, set[OrderId]] = {}
    for order_id, keys in found.items():
        matched = [key for key in keys if key in wanted]
        if matched:
            strength = min(_STRENGTH[key.kind] for key in matched)
            best.setdefault(strength, set()).add(order_id)
    if not best:
        return ReferenceResolution(order_id=None, matched_by=None, ambiguous=())
    strongest = min(best)
    orders = sorted(best[strongest])
    kind = list(ReferenceKind)[strongest]
    if len(orders) > 1:
        return ReferenceResolution(
            order_id=None, matched_by=kind, ambiguous=tuple(orders)
        )
    return ReferenceResolution(order_id=orders[0], matched_by=kind, ambiguous=())


def _order_id(text: str) -> int | None:
    if text.startswith("gid://"):
        try:
            return parse_gid_id(text, expected="Order")
        except InvalidIdError:
            return None
    if _CANONICAL_NUMBER.fullmatch(text) and int(text) <= MAX_ID:
        return int(text)
    return None
