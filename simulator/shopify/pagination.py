"""Relay connections over in-memory lists: `first/last/after/before/reverse`.

Cursors are opaque base64 JSON holding the sort value and id of a node, like Shopify's
(`{"last_id": ..., "last_value": ...}`), so they stay valid when other nodes change.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graphql import GraphQLError

__all__ = ["MAX_PAGE_SIZE", "connection", "decode_cursor", "encode_cursor"]

T = TypeVar("T")
MAX_PAGE_SIZE = 250
SortKey = tuple[Any, int]


def encode_cursor(key: SortKey) -> str:
    raw = json.dumps({"last_id": key[1], "last_value": key[0]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> SortKey:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return (data["last_value"], int(data["last_id"]))
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise GraphQLError("Invalid cursor for current pagination sort.") from error


def connection(
    items: Sequence[T],
    args: dict[str, Any],
    *,
    key: Callable[[T], SortKey],
) -> dict[str, Any]:
    """Build `{edges, nodes, pageInfo}` for a page of `items` per Relay arguments."""
    ordered = sorted(items, key=key, reverse=bool(args.get("reverse")))
    keys = [key(item) for item in ordered]
    start, end = 0, len(ordered)
    descending = bool(args.get("reverse"))
    if args.get("after"):
        after = decode_cursor(str(args["after"]))
        while start < end and not _beyond(keys[start], after, descending=descending):
            start += 1
    if args.get("before"):
        before = decode_cursor(str(args["before"]))
        while end > start and not _beyond(before, keys[end - 1], descending=descending):
            end -= 1
    first, last = args.get("first"), args.get("last")
    if isinstance(first, int):
        end = min(end, start + min(max(first, 0), MAX_PAGE_SIZE))
    if isinstance(last, int):
        start = max(start, end - min(max(last, 0), MAX_PAGE_SIZE))
    window = ordered[start:end]
    cursors = [encode_cursor(k) for k in keys[start:end]]
    return {
        "edges": [
            {"cursor": cursor, "node": node}
            for cursor, node in zip(cursors, window, strict=True)
        ],
        "nodes": list(window),
        "pageInfo": {
            "hasNextPage": end < len(ordered),
            "hasPreviousPage": start > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _beyond(candidate: SortKey, reference: SortKey, *, descending: bool) -> bool:
    """Return True when `candidate` comes strictly after `reference` in page order."""
    if descending:
        return candidate < reference
    return candidate > reference
