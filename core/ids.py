"""Shopify ids: GID parsing and formatting, and the rule for reading ids from JSON.

Shopify ids exceed 2**53, so any JSON parser that turns numbers into doubles corrupts
them. Shopify's own ``orders/create`` sample shows it: ``"id": 820982911946154500``
next to ``"admin_graphql_api_id": "gid://shopify/Order/820982911946154508"``.
The rule here is:

1. take the id from ``admin_graphql_api_id`` (a GID string) whenever it is present;
2. otherwise take ``id`` if it is a GID string (fulfillment-order payloads use GIDs
   there) or a JSON integer (an ``int``; bodies must be parsed with orjson so big
   integers stay exact);
3. refuse JSON floats outright: a float id has already lost precision.

Ids are positive and fit a Postgres ``bigint`` (at most 2**63 - 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

from core._jsontype import describe
from core.errors import InvalidIdError

__all__ = [
    "MAX_ID",
    "CustomerId",
    "FulfillmentId",
    "FulfillmentOrderId",
    "FulfillmentOrderLineItemId",
    "Gid",
    "GidType",
    "LineItemId",
    "LocationId",
    "OrderId",
    "ProductId",
    "ShopId",
    "VariantId",
    "format_gid",
    "parse_gid",
    "parse_gid_id",
    "require_id",
    "shopify_id_from_payload",
]

MAX_ID = 2**63 - 1

ShopId = NewType("ShopId", int)
OrderId = NewType("OrderId", int)
LineItemId = NewType("LineItemId", int)
FulfillmentId = NewType("FulfillmentId", int)
FulfillmentOrderId = NewType("FulfillmentOrderId", int)
FulfillmentOrderLineItemId = NewType("FulfillmentOrderLineItemId", int)
LocationId = NewType("LocationId", int)
ProductId = NewType("ProductId", int)
VariantId = NewType("VariantId", int)
CustomerId = NewType("CustomerId", int)


class GidType(StrEnum):
    """The GID resource types dropsync reads or writes."""

    ORDER = "Order"
    LINE_ITEM = "LineItem"
    FULFILLMENT = "Fulfillment"
    FULFILLMENT_ORDER = "FulfillmentOrder"
    FULFILLMENT_ORDER_LINE_ITEM = "FulfillmentOrderLineItem"
    FULFILLMENT_HOLD = "FulfillmentHold"
    LOCATION = "Location"
    PRODUCT = "Product"
    PRODUCT_VARIANT = "ProductVariant"
    CUSTOMER = "Customer"
    SHOP = "Shop"


@dataclass(frozen=True, slots=True, kw_only=True)
class Gid:
    """A parsed Shopify global id such as ``gid://shopify/Order/123``."""

    resource: str
    id: int

    def __str__(self) -> str:
        return format_gid(self.resource, self.id)


_GID_PREFIX = "gid://shopify/"
_RESOURCE = re.compile(r"[A-Z][A-Za-z0-9]*")
_CANONICAL_ID = re.compile(r"[1-9][0-9]*")


def format_gid(resource: str, id_: int) -> str:
    """Return the GID string for `resource` and numeric `id_`.

    Raises
    ------
    InvalidIdError
        If the resource name or the id is not valid.
    """
    if not _RESOURCE.fullmatch(resource):
        raise InvalidIdError(f"{resource!r} is not a Shopify resource type name")
    _check_range(id_, field=None)
    return f"{_GID_PREFIX}{resource}/{id_}"


def parse_gid(
    value: object, *, expected: str | None = None, field: str | None = None
) -> Gid:
    """Parse ``gid://shopify/<Resource>/<id>`` strictly.

    Only numeric ids in canonical form (no sign, no leading zero, no query string)
    are accepted. When `expected` is given the resource type must equal it. `field`
    names the JSON path for error messages.

    Raises
    ------
    InvalidIdError
        With a message saying which part is wrong.
    """
    if not isinstance(value, str):
        raise InvalidIdError(
            f"expected a GID string, got {describe(value)}", field=field
        )
    if not value.startswith(_GID_PREFIX):
        raise InvalidIdError(
            f"{value!r} is not a Shopify GID (must start with {_GID_PREFIX!r})",
            field=field,
        )
    resource, sep, raw_id = value.removeprefix(_GID_PREFIX).partition("/")
    if not sep or not _RESOURCE.fullmatch(resource):
        raise InvalidIdError(
            f"{value!r} is not a Shopify GID (expected gid://shopify/<Type>/<id>)",
            field=field,
        )
    if expected is not None and resource != expected:
        raise InvalidIdError(
            f"{value!r} is a {resource} GID, expected a {expected} GID", field=field
        )
    if not _CANONICAL_ID.fullmatch(raw_id):
        raise InvalidIdError(
            f"{value!r} does not end in a positive decimal id without leading zeros",
            field=field,
        )
    id_ = int(raw_id)
    _check_range(id_, field=field)
    return Gid(resource=resource, id=id_)


def parse_gid_id(value: object, *, expected: str, field: str | None = None) -> int:
    """Return the numeric id of a GID that must be of type `expected`."""
    return parse_gid(value, expected=expected, field=field).id


def require_id(value: object, *, field: str) -> int:
    """Check that a JSON value is a usable integer id and return it.

    For foreign keys that Shopify sends only as numbers (``order_id``, ``variant_id``,
    ``location_id``...). Booleans, floats, strings and out-of-range numbers are refused.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float):
            raise InvalidIdError(
                f"is the JSON float {value!r}; ids must be JSON integers because "
                "floats lose precision above 2**53",
                field=field,
            )
        raise InvalidIdError(
            f"expected an integer id, got {describe(value)}", field=field
        )
    _check_range(value, field=field)
    return value


def shopify_id_from_payload(
    obj: Mapping[str, object], *, resource: str, path: str = ""
) -> int:
    """Apply the id rule of this module to one JSON object of type `resource`.

    `path` is the JSON path of `obj`, used in error messages.

    Raises
    ------
    InvalidIdError
        If neither ``admin_graphql_api_id`` nor ``id`` yields a valid id.
    """
    gid = obj.get("admin_graphql_api_id")
    if gid is not None:
        return parse_gid_id(
            gid,
            expected=resource,
            field=_join(path, "admin_graphql_api_id"),
        )
    id_field = _join(path, "id")
    raw = obj.get("id")
    if raw is None:
        raise InvalidIdError(
            "is missing (and there is no admin_graphql_api_id)", field=id_field
        )
    if isinstance(raw, str):
        return parse_gid_id(raw, expected=resource, field=id_field)
    return require_id(raw, field=id_field)


def _check_range(id_: int, *, field: str | None) -> None:
    if not 1 <= id_ <= MAX_ID:
        raise InvalidIdError(f"id {id_} is outside 1..2**63-1", field=field)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
