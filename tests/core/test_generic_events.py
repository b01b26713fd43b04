"""Tests for core.generic_events and its JSON Schema."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import orjson
import pytest

from core.errors import InvalidIdError, PayloadError
from core.generic_events import GENERIC_EVENT_SCHEMA_PATH, parse_generic_event
from core.supplier_model import PackageItem, SupplierEventKind, TrackingStatus

VALIDATOR = jsonschema_rs.Draft202012Validator(orjson.loads(GENERIC_EVENT_SCHEMA_PATH.read_bytes()))

SHIPPED: dict[str, Any] = {
    "type": "order.shipped",
    "timestamp": "2026-11-27T10:00:00Z",
    "data": {
        "supplier_order_id": "SO-1",
        "shopify_order_id": 820982911946154508,
        "occurred_at": "2026-11-27T18:00:00+08:00",
        "status": "shipped",
        "packages": [
            {
                "tracking_number": "LP00123456789CN",
                "carrier": "YunExpress",
                "tracking_url": "https://www.yuntrack.com/parcelTracking?id=LP00123456789CN",
                "line_items": [
                    {"shopify_line_item_id": 487817672276298554, "quantity": 2},
                    {"sku": " SKU-1 ", "quantity": 1},
                    {"variant_id": "gid://shopify/ProductVariant/9", "quantity": 1},
                ],
                "status": "in_transit",
                "events": [
                    {"occurred_at": "2026-11-28T00:00:00Z", "description": "Departed"},
                    {
                        "occurred_at": "2026-11-27T12:00:00Z",
                        "status": "in_transit",
                        "description": "Accepted",
                        "location": "Shenzhen",
                    },
                ],
            }
        ],
    },
}

EXAMPLES: list[dict[str, Any]] = [
    SHIPPED,
    {
        "type": "order.placed",
        "data": {
            "supplier_order_id": 77,
            "order_name": "#1001",
            "occurred_at": "2026-11-27T10:00:00Z",
        },
    },
    {
        "type": "order.cancelled",
        "data": {
            "supplier_order_id": "SO-2",
            "shopify_order_id": "gid://shopify/Order/5",
            "occurred_at": "2026-11-27T10:00:00Z",
            "reason": "out of stock",
        },
    },
    {
        "type": "tracking.updated",
        "data": {
            "supplier_order_id": "SO-1",
            "order_name": "1001",
            "occurred_at": "2026-11-27T10:00:00Z",
            "packages": [
                {
                    "tracking_number": "LP2",
                    "previous_tracking_number": "lp-1",
                    "status": "delivered",
                }
            ],
        },
    },
    {
        "type": "order.split",
        "data": {
            "supplier_order_id": "SO-1",
            "order_name": "#1001",
            "occurred_at": "2026-11-27T10:00:00Z",
            "split_into": [
                {
                    "supplier_order_id": "SO-1a",
                    "created_at": "2026-11-27T10:00:00Z",
                    "line_items": [{"sku": "A", "quantity": 1}],
                },
                {"supplier_order_id": "SO-1b"},
            ],
        },
    },
]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["type"])
def test_examples_are_valid_for_schema_and_parser(example: dict[str, Any]) -> None:
    assert VALIDATOR.is_valid(example)
    event = parse_generic_event(orjson.dumps(example), msg_id="msg_1")
    assert event.kind == example["type"]
    assert event.dedup_key == "generic:msg_1"


def test_shipped_event_is_normalised() -> None:
    event = parse_generic_event(orjson.dumps(SHIPPED))
    assert event.kind is SupplierEventKind.ORDER_SHIPPED
    assert event.supplier_order_id == "SO-1"
    assert event.shopify_reference == "820982911946154508"
    assert event.occurred_at == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert event.supplier_status == "shipped"
    package = event.packages[0]
    assert package.tracking.normalized == "LP00123456789CN"
    assert package.status is TrackingStatus.IN_TRANSIT
    assert package.items[1] == PackageItem(
        shopify_line_item_id=None,
        sku="SKU-1",
        variant_id=None,
        supplier_variant_id=None,
        quantity=1,
    )
    assert package.items[2].variant_id == 9
    assert [e.description for e in package.events] == ["Accepted", "Departed"]
    assert event.dedup_key.startswith("generic:")
    assert len(event.dedup_key) == len("generic:") + 64


def test_previous_tracking_number_marks_a_relabel() -> None:
    relabel = parse_generic_event(orjson.dumps(EXAMPLES[3]))
    previous = relabel.packages[0].previous_tracking
    assert previous is not None
    assert previous.normalized == "LP1"
    assert parse_generic_event(orjson.dumps(SHIPPED)).packages[0].previous_tracking is None


def test_references_by_gid_and_name() -> None:
    cancelled = parse_generic_event(orjson.dumps(EXAMPLES[2]))
    assert cancelled.shopify_reference == "gid://shopify/Order/5"
    assert cancelled.reason == "out of stock"
    placed = parse_generic_event(orjson.dumps(EXAMPLES[1]))
    assert placed.shopify_reference == "#1001"
    assert placed.supplier_order_id == "77"


def _mutated(path: list[Any], value: Any, base: dict[str, Any] = SHIPPED) -> dict[str, Any]:
    document = copy.deepcopy(base)
    target = document
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


_DELETE = object()
PKG = ["data", "packages", 0]


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        (["type"], "order.lost", "type", "is not one of"),
        (
            ["data", "occurred_at"],
            "2026-11-27T10:00:00",
            "data.occurred_at",
            "no UTC offset",
        ),
        (
            ["data", "shopify_order_id"],
            _DELETE,
            "data.order_name",
            "one of shopify_order_id or order_name",
        ),
        (["data", "shopify_order_id"], 8.2e17, "data.shopify_order_id", "JSON float"),
        (
            ["data", "shopify_order_id"],
            "gid://shopify/Customer/1",
            "data.shopify_order_id",
            "expected a Order GID",
        ),
        (["data", "packages"], [], "data.packages", "non-empty for order.shipped"),
        (["data", "supplier_order_id"], 1.5, "data.supplier_order_id", "JSON float"),
        (
            [*PKG, "tracking_number"],
            "--",
            "data.packages[0].tracking_number",
            "not a tracking number",
        ),
        ([*PKG, "status"], "lost", "data.packages[0].status", "is not one of"),
        (
            [*PKG, "previous_tracking_number"],
            " - ",
            "data.packages[0].previous_tracking_number",
            "not a tracking number",
        ),
        (
            [*PKG, "line_items", 0, "quantity"],
            0,
            "data.packages[0].line_items[0].quantity",
            "at least 1",
        ),
        (
            [*PKG, "line_items", 1, "sku"],
            " ",
            "data.packages[0].line_items[1]",
            "needs at least one of",
        ),
        (
            [*PKG, "line_items", 0, "shopify_line_item_id"],
            4.8e17,
            "data.packages[0].line_items[0].shopify_line_item_id",
            "JSON float",
        ),
        (
            [*PKG, "events", 0, "status"],
            "gone",
            "data.packages[0].events[0].status",
            "is not one of",
        ),
        (
            [*PKG, "events", 0, "occurred_at"],
            "yesterday",
            "data.packages[0].events[0].occurred_at",
            "ISO-8601",
        ),
    ],
)
def test_malformed_events_fail_in_parser_and_schema(
    path: list[Any], value: Any, field: str, fragment: str
) -> None:
    document = _mutated(path, value)
    with pytest.raises(PayloadError, match=fragment) as caught:
        parse_generic_event(orjson.dumps(document))
    assert caught.value.field == field
    # JSON Schema cannot tell 8.2e17 from an integer; only the parser refuses floats.
    integral_float = isinstance(value, float) and value.is_integer()
    assert VALIDATOR.is_valid(document) is integral_float


def test_split_without_parts_is_rejected() -> None:
    document = _mutated(["data", "split_into"], [], base=EXAMPLES[4])
    with pytest.raises(PayloadError, match=r"non-empty for order\.split"):
        parse_generic_event(orjson.dumps(document))
    assert not VALIDATOR.is_valid(document)


def test_wrong_gid_type_is_an_invalid_id() -> None:
    document = _mutated([*PKG, "line_items", 2, "variant_id"], "gid://shopify/Product/9")
    with pytest.raises(InvalidIdError):
        parse_generic_event(orjson.dumps(document))
