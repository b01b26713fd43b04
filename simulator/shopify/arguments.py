"""Argument helpers shared by query and mutation resolvers."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from simulator.shopify.ids import parse_gid

__all__ = ["invalid_id_error", "line_item_pairs", "parse_id_argument", "require_id"]


def invalid_id_error(value: Any) -> GraphQLError:
    """Return the top-level error Shopify gives for a malformed global id."""
    return GraphQLError(
        f"Invalid global id '{value}'",
        extensions={
            "code": "argumentLiteralsIncompatible",
            "typeName": "CoercionError",
        },
    )


def parse_id_argument(value: Any) -> tuple[str, int]:
    """Parse a global id argument into (type, number), or raise Shopify's error."""
    parsed = parse_gid(str(value))
    if parsed is None:
        raise invalid_id_error(value)
    return parsed


def require_id(value: Any, expected: str) -> int | None:
    """Parse a global id argument; None if it names another type of resource."""
    type_name, number = parse_id_argument(value)
    return number if type_name == expected else None


def line_item_pairs(items: Any) -> list[tuple[int, int]] | None:
    """Turn `[FulfillmentOrderLineItemInput]` into (FO line item id, quantity) pairs."""
    if items is None:
        return None
    pairs = []
    for item in items:
        number = require_id(item["id"], "FulfillmentOrderLineItem")
        pairs.append((number or 0, int(item["quantity"])))
    return pairs
