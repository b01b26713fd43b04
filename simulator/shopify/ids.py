"""Shopify-style ids: 64-bit integers exposed as `gid://shopify/<Type>/<id>`."""

from __future__ import annotations

import random

__all__ = ["IdAllocator", "gid", "parse_gid"]

_GID_PREFIX = "gid://shopify/"


def gid(type_name: str, numeric_id: int) -> str:
    """Return the global id of a resource, e.g. `gid://shopify/Order/123`."""
    return f"{_GID_PREFIX}{type_name}/{numeric_id}"


def parse_gid(value: str) -> tuple[str, int] | None:
    """Split a global id into (type, numeric id); None when it is not one."""
    if not value.startswith(_GID_PREFIX):
        return None
    rest = value[len(_GID_PREFIX) :].split("?", 1)[0]
    type_name, _, number = rest.partition("/")
    if not type_name or not number.isdigit():
        return None
    return type_name, int(number)


class IdAllocator:
    """Hand out increasing ids above 2**53, like Shopify's (beyond float precision)."""

    def __init__(
        self, rng: random.Random, *, start: int = 9_007_199_254_740_993
    ) -> None:
        self._rng = rng
        self._next = start + rng.randrange(1_000_000)

    def allocate(self) -> int:
        """Return a fresh id, larger than every id returned before."""
        self._next += self._rng.randrange(1, 997)
        return self._next
