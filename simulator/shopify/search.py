"""Shopify search syntax for the `orders(query:)` argument.

Supports `updated_at:`, `created_at:` and `processed_at:` with `>`, `>=`, `<`, `<=` (ISO
datetimes or dates, optionally quoted), `status:any|open|closed|cancelled|not_closed`,
`fulfillment_status:`, `financial_status:`, `name:`, `id:`, `email:`, `sku:`, `tag:` and
`test:`. Unknown filters are ignored, as Shopify ignores them (it only warns).
"""

from __future__ import annotations

import operator
import shlex
from collections.abc import Callable
from datetime import datetime
from typing import Any

from simulator.shopify.model import Order, Shop
from simulator.shopify.payloads import rest_fulfillment_status
from simulator.shopify.timefmt import parse_search_datetime

__all__ = ["OrderPredicate", "parse_order_query"]

OrderPredicate = Callable[[Shop, Order], bool]
_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}


def parse_order_query(query: str | None, *, timezone: str) -> OrderPredicate:
    """Compile a search string into a predicate over (shop, order)."""
    if not query:
        return lambda _shop, _order: True
    try:
        tokens = shlex.split(query)
    except ValueError:
        tokens = query.split()
    predicates = [
        predicate
        for token in tokens
        if (predicate := _token_predicate(token, timezone)) is not None
    ]
    return lambda shop, order: all(p(shop, order) for p in predicates)


def _split_operator(value: str) -> tuple[Callable[[Any, Any], bool], str]:
    for symbol in (">=", "<=", ">", "<", "="):
        if value.startswith(symbol):
            return _COMPARATORS[symbol], value[len(symbol) :]
    return operator.eq, value


def _token_predicate(token: str, timezone: str) -> OrderPredicate | None:
    key, sep, raw = token.partition(":")
    if not sep or token.upper() in {"AND", "OR"}:
        return None
    negate = key.startswith("-")
    key = key.lstrip("-").lower()
    compare, value = _split_operator(raw)
    predicate = _field_predicate(key, compare, value.strip("'\""), timezone)
    if predicate is None or not negate:
        return predicate
    return lambda shop, order: not predicate(shop, order)


def _field_predicate(
    key: str, compare: Callable[[Any, Any], bool], value: str, timezone: str
) -> OrderPredicate | None:
    if key in {"updated_at", "created_at", "processed_at"}:
        moment = parse_search_datetime(value, timezone)
        if moment is None:
            return None
        attribute = "created_at" if key == "processed_at" else key
        return lambda _shop, order: _compare_time(
            getattr(order, attribute), moment, compare
        )
    if key == "status":
        return _status_predicate(value.lower())
    if key == "fulfillment_status":
        return _fulfillment_predicate(value.lower())
    simple: dict[str, OrderPredicate] = {
        "financial_status": lambda _s, o: o.financial_status == value.lower(),
        "name": lambda _s, o: o.name.lstrip("#") == value.lstrip("#"),
        "email": lambda _s, o: (o.email or "").lower() == value.lower(),
        "sku": lambda _s, o: any(item.sku == value for item in o.line_items),
        "tag": lambda _s, o: value in o.tags,
        "test": lambda _s, o: o.test == (value.lower() == "true"),
    }
    if key == "id" and value.isdigit():
        return lambda _s, o: compare(o.id, int(value))
    return simple.get(key)


def _compare_time(
    actual: datetime, moment: datetime, compare: Callable[[Any, Any], bool]
) -> bool:
    # Shopify's timestamps have second precision; compare at that precision.
    return compare(actual.replace(microsecond=0), moment)


def _status_predicate(value: str) -> OrderPredicate | None:
    table: dict[str, OrderPredicate] = {
        "any": lambda _s, _o: True,
        "open": lambda _s, o: o.closed_at is None and o.cancelled_at is None,
        "closed": lambda _s, o: o.closed_at is not None,
        "cancelled": lambda _s, o: o.cancelled_at is not None,
        "not_closed": lambda _s, o: o.closed_at is None,
    }
    return table.get(value)


def _fulfillment_predicate(value: str) -> OrderPredicate | None:
    table: dict[str, set[str | None]] = {
        "shipped": {"fulfilled"},
        "fulfilled": {"fulfilled"},
        "partial": {"partial"},
        "unshipped": {None},
        "unfulfilled": {None, "partial"},
        "any": {None, "partial", "fulfilled"},
    }
    wanted = table.get(value)
    if wanted is None:
        return None
    return lambda shop, order: rest_fulfillment_status(shop, order) in wanted
