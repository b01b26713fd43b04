"""Line-item bookkeeping: what is left to ship, and whether a split adds up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from simulator.suppliers.errors import InvalidTransitionError
from simulator.suppliers.model import LineItem, SupplierOrder, line_item_key

__all__ = [
    "LineCounts",
    "check_partition",
    "remaining_quantities",
    "take",
    "unshipped_items",
]

LineCounts = Counter[tuple[str | None, str | None, str | None]]


def _counts(items: Iterable[LineItem]) -> LineCounts:
    counts: LineCounts = Counter()
    for item in items:
        counts[line_item_key(item)] += item.quantity
    return counts


def remaining_quantities(order: SupplierOrder) -> LineCounts:
    """Quantities per line not yet in any package."""
    remaining = _counts(order.line_items)
    for package in order.packages:
        remaining.subtract(_counts(package.line_items))
    return remaining


def unshipped_items(order: SupplierOrder, remaining: LineCounts) -> tuple[LineItem, ...]:
    """The order's lines cut down to what is still left to ship."""
    items = []
    for item in order.line_items:
        left = remaining[line_item_key(item)]
        if left > 0:
            items.append(_with_quantity(item, left))
    if not items:
        raise InvalidTransitionError("every line item has already shipped")
    return tuple(items)


def take(remaining: LineCounts, items: Iterable[LineItem]) -> None:
    """Reserve ``items`` from ``remaining``, refusing to ship more than ordered."""
    for item in items:
        key = line_item_key(item)
        if remaining[key] < item.quantity:
            raise InvalidTransitionError(f"line {key} has only {remaining[key]} left to ship")
        remaining[key] -= item.quantity


def check_partition(order: SupplierOrder, parts: Sequence[Sequence[LineItem]]) -> None:
    """Refuse split parts that do not add up exactly to the order's lines."""
    if any(not part for part in parts):
        raise InvalidTransitionError("every split part needs a line item")
    given = _counts(item for part in parts for item in part)
    if given != _counts(order.line_items):
        raise InvalidTransitionError("the split parts must add up to the order's lines")


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
