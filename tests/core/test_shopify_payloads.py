"""Tests for core.shopify_payloads: Shopify's documented samples and mutations."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InvalidIdError, PayloadError
from core.ids import CustomerId, FulfillmentOrderId, LineItemId, OrderId, ShopId
from core.shopify_payloads import (
    AppUninstalled,
    CustomersDataRequest,
    CustomersRedact,
    FulfilledLine,
    FulfillmentOrderHint,
    FulfillmentOrderRef,
    FulfillmentSnapshot,
    OrderSnapshot,
    ShopifyTopic,
    ShopRedact,
    UnsupportedTopic,
    parse_shopify_payload,
)

SAMPLES = Path(__file__).parent / "samples" / "shopify"


def _sample(name: str) -> bytes:
    return (SAMPLES / f"shopify-{name}.docs-2026-01.json").read_bytes()


def _sample_json(name: str) -> dict[str, Any]:
    value = orjson.loads(_sample(name))
    assert isinstance(value, dict)
    return value


def _topic_of(path: Path) -> str:
    return path.name.removeprefix("shopify-").split(".")[0].replace("-", "/", 1)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_documented_sample_parses(path: Path) -> None:
    result = parse_shopify_payload(_topic_of(path), path.read_bytes())
    assert not isinstance(result, UnsupportedTopic)


def test_order_sample_reads_exact_ids_from_graphql_ids() -> None:
    order = parse_shopify_payload("orders/create", _sample("orders-create"))
    assert isinstance(order, OrderSnapshot)
    # The numeric "id" in Shopify's sample was corrupted by float rounding (...500).
    assert order.order_id == 820982911946154508
    assert order.name == "#9999"
    assert order.order_number == 1234
    assert order.financial_status == "voided"
    assert order.fulfillment_status is None
    assert order.cancelled_at == datetime(2022, 1, 1, tzinfo=UTC)
    assert order.closed_at is None
    assert order.updated_at.tzinfo is UTC
    assert order.test is True
    assert order.note_attributes == ()
    assert order.fulfillments == ()
    assert [item.line_item_id for item in order.line_items] == [
        487817672276298554,
        789012345678901234,
        890123456789012345,
        976318377106520349,
        315789986012684393,
    ]
    first = order.line_items[0]
    assert first.sku == "SKU2006-001"
    assert first.variant_id is None
    assert first.product_id == 788032119674292900
    assert (first.quantity, first.current_quantity, first.fulfillable_quantity) == (
        1,
        1,
        1,
    )
    assert first.requires_shipping is True


def test_order_sample_keeps_personal_data_apart() -> None:
    order = parse_shopify_payload("orders/updated", _sample("orders-create"))
    assert isinstance(order, OrderSnapshot)
    assert order.pii.email == "jon@example.com"
    assert order.pii.customer_id == 115310627314723954
    assert order.pii.customer_email == "john@example.com"
    assert order.pii.shipping_address is not None
    assert order.pii.shipping_address.city == "Shippington"
    assert order.pii.phone is None


def test_fulfillment_sample_reads_tracking_and_lines() -> None:
    fulfillment = parse_shopify_payload("fulfillments/create", _sample("fulfillments-create"))
    assert isinstance(fulfillment, FulfillmentSnapshot)
    assert fulfillment.fulfillment_id == 123456
    # No GraphQL id exists for order_id; the sample's number is Shopify's own (rounded).
    assert fulfillment.order_id == 820982911946154500
    assert fulfillment.status == "pending"
    assert fulfillment.tracking_company == "UPS"
    assert fulfillment.tracking_numbers == ("1z827wk74630",)
    assert fulfillment.tracking_urls[0].startswith("https://www.ups.com/")
    assert fulfillment.line_items[0] == FulfilledLine(
        line_item_id=LineItemId(487817672276298554), quantity=1
    )
    assert fulfillment.location_id is None
    assert fulfillment.name == "#9999.1"


def test_fulfillment_falls_back_to_singular_tracking_fields() -> None:
    body = _sample_json("fulfillments-create")
    body["tracking_numbers"] = []
    body["tracking_urls"] = None
    body["tracking_number"] = "LP123"
    body["tracking_url"] = "https://t.example/LP123"
    body["location_id"] = 905684977
    result = parse_shopify_payload("fulfillments/update", orjson.dumps(body))
    assert isinstance(result, FulfillmentSnapshot)
    assert result.tracking_numbers == ("LP123",)
    assert result.tracking_urls == ("https://t.example/LP123",)
    assert result.location_id == 905684977


def test_order_with_fulfillments_and_note_attributes() -> None:
    order_body = _sample_json("orders-create")
    fulfillment = _sample_json("fulfillments-create")
    order_body["fulfillments"] = [fulfillment]
    order_body["note_attributes"] = [
        {"name": "supplier_ref", "value": "CJ123"},
        {"name": "empty", "value": None},
    ]
    order_body["customer"] = None
    order_body["shipping_address"] = None
    order = parse_shopify_payload("orders/fulfilled", orjson.dumps(order_body))
    assert isinstance(order, OrderSnapshot)
    assert order.note_attributes == (("supplier_ref", "CJ123"), ("empty", ""))
    assert order.fulfillments[0].tracking_company == "UPS"
    assert order.pii.customer_id is None
    assert order.pii.customer_email is None
    assert order.pii.shipping_address is None


@pytest.mark.parametrize(
    ("name", "fo_id", "status", "related"),
    [
        ("fulfillment_orders-order_routing_complete", 1, "open", ()),
        ("fulfillment_orders-hold_released", 1, "open", ()),
        (
            "fulfillment_orders-cancelled",
            1,
            "cancelled",
            (
                FulfillmentOrderRef(
                    fulfillment_order_id=FulfillmentOrderId(2),
                    status="open",
                    role="replacement_fulfillment_order",
                ),
            ),
        ),
        (
            "fulfillment_orders-placed_on_hold",
            1,
            "on_hold",
            (
                FulfillmentOrderRef(
                    fulfillment_order_id=FulfillmentOrderId(2),
                    status="open",
                    role="remaining_fulfillment_order",
                ),
            ),
        ),
        (
            "fulfillment_orders-fulfillment_request_submitted",
            1,
            "open",
            (
                FulfillmentOrderRef(
                    fulfillment_order_id=FulfillmentOrderId(1),
                    status="open",
                    role="submitted_fulfillment_order",
                ),
            ),
        ),
    ],
)
def test_fulfillment_order_samples_become_hints(
    name: str, fo_id: int, status: str, related: tuple[FulfillmentOrderRef, ...]
) -> None:
    topic = name.replace("-", "/", 1)
    hint = parse_shopify_payload(topic, _sample(name))
    assert hint == FulfillmentOrderHint(
        topic=topic,
        fulfillment_order_id=FulfillmentOrderId(fo_id),
        status=status,
        order_id=None,
        related=related,
    )


def test_fulfillment_order_hint_reads_order_id_and_arrays() -> None:
    body = {
        "fulfillment_orders": [
            {
                "id": "gid://shopify/FulfillmentOrder/5",
                "status": "OPEN",
                "order_id": 77,
            },
            {"id": "gid://shopify/FulfillmentOrder/6", "status": None},
        ]
    }
    hint = parse_shopify_payload("fulfillment_orders/merged", orjson.dumps(body))
    assert isinstance(hint, FulfillmentOrderHint)
    assert (hint.fulfillment_order_id, hint.status, hint.order_id) == (5, "open", 77)
    assert hint.related == (
        FulfillmentOrderRef(
            fulfillment_order_id=FulfillmentOrderId(6),
            status=None,
            role="fulfillment_orders",
        ),
    )


def test_fulfillment_order_hint_reads_top_level_order_gid() -> None:
    body = {
        "order_id": "gid://shopify/Order/99",
        "fulfillment_order": {
            "id": "gid://shopify/FulfillmentOrder/5",
            "status": "open",
        },
    }
    hint = parse_shopify_payload("fulfillment_orders/moved", orjson.dumps(body))
    assert isinstance(hint, FulfillmentOrderHint)
    assert hint.order_id == 99


def test_fulfillment_order_hint_without_any_fulfillment_order_is_rejected() -> None:
    with pytest.raises(PayloadError, match="names no fulfillment order"):
        parse_shopify_payload("fulfillment_orders/moved", b'{"fulfillment_order": null}')


def test_fulfillment_order_hint_rejects_wrong_gid_type() -> None:
    body = b'{"fulfillment_order": {"id": "gid://shopify/Order/1", "status": "open"}}'
    with pytest.raises(InvalidIdError, match=r"fulfillment_order\.id"):
        parse_shopify_payload("fulfillment_orders/hold_released", body)


def test_customers_data_request_payload() -> None:
    body = {
        "shop_id": 954889,
        "shop_domain": "example.myshopify.com",
        "orders_requested": [299938, 280263],
        "customer": {
            "id": 191167,
            "email": "john@example.com",
            "phone": "555-625-1199",
        },
        "data_request": {"id": 9999},
    }
    result = parse_shopify_payload("customers/data_request", orjson.dumps(body))
    assert result == CustomersDataRequest(
        shop_id=ShopId(954889),
        shop_domain="example.myshopify.com",
        customer_id=CustomerId(191167),
        customer_email="john@example.com",
        customer_phone="555-625-1199",
        orders_requested=(OrderId(299938), OrderId(280263)),
        data_request_id=9999,
    )


def test_customers_redact_payload() -> None:
    body = {
        "shop_id": 954889,
        "shop_domain": "example.myshopify.com",
        "customer": {"id": 191167, "email": "john@example.com", "phone": None},
        "orders_to_redact": [299938],
    }
    result = parse_shopify_payload("customers/redact", orjson.dumps(body))
    assert result == CustomersRedact(
        shop_id=ShopId(954889),
        shop_domain="example.myshopify.com",
        customer_id=CustomerId(191167),
        customer_email="john@example.com",
        customer_phone=None,
        orders_to_redact=(OrderId(299938),),
    )


def test_compliance_payload_without_customer() -> None:
    body = {
        "shop_id": 1,
        "shop_domain": "a.myshopify.com",
        "customer": {"email": "x@y"},
    }
    result = parse_shopify_payload("customers/data_request", orjson.dumps(body))
    assert isinstance(result, CustomersDataRequest)
    assert result.customer_id is None
    assert result.data_request_id is None
    assert result.orders_requested == ()
    redact = parse_shopify_payload("customers/redact", b'{"shop_id": 1, "shop_domain": "a"}')
    assert isinstance(redact, CustomersRedact)
    assert (redact.customer_id, redact.customer_email, redact.customer_phone) == (
        None,
        None,
        None,
    )


def test_compliance_payload_rejects_float_order_ids() -> None:
    body = b'{"shop_id": 1, "shop_domain": "a", "orders_to_redact": [1.5e17]}'
    with pytest.raises(InvalidIdError, match=r"orders_to_redact\[0\]"):
        parse_shopify_payload("customers/redact", body)


def test_shop_redact_and_app_uninstalled() -> None:
    assert parse_shopify_payload(
        "shop/redact", b'{"shop_id": 954889, "shop_domain": "a.myshopify.com"}'
    ) == ShopRedact(shop_id=ShopId(954889), shop_domain="a.myshopify.com")
    body = b'{"id": 548380009, "myshopify_domain": "a.myshopify.com", "domain": "a.com"}'
    assert parse_shopify_payload("APP/uninstalled ", body) == AppUninstalled(
        shop_id=ShopId(548380009), myshopify_domain="a.myshopify.com", domain="a.com"
    )


def test_unsupported_topic_is_marked_without_parsing() -> None:
    assert parse_shopify_payload("products/update", b"not json") == UnsupportedTopic(
        topic="products/update"
    )


def test_topics_enum_covers_the_dispatch_table() -> None:
    assert ShopifyTopic("orders/create") is ShopifyTopic.ORDERS_CREATE


def _order_with(**changes: object) -> bytes:
    body = _sample_json("orders-create")
    for key, value in changes.items():
        if value is _DELETE:
            del body[key]
        else:
            body[key] = value
    return orjson.dumps(body)


_DELETE = object()


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"admin_graphql_api_id": _DELETE, "id": _DELETE}, "id", "is missing"),
        ({"admin_graphql_api_id": _DELETE, "id": 8.2e17}, "id", "JSON float"),
        (
            {"admin_graphql_api_id": "gid://shopify/Order/x"},
            "admin_graphql_api_id",
            "decimal",
        ),
        ({"updated_at": "2021-12-31 19:00"}, "updated_at", "no UTC offset"),
        ({"created_at": "soon"}, "created_at", "not an ISO-8601"),
        ({"created_at": _DELETE}, "created_at", "is missing"),
        ({"name": 9999}, "name", "expected a string"),
        ({"order_number": "1234"}, "order_number", "expected an integer"),
        ({"test": "yes"}, "test", "expected a boolean"),
        ({"line_items": {}}, "line_items", "expected an array"),
        ({"line_items": None}, "line_items", "is null"),
        (
            {"note_attributes": [{"value": "x"}]},
            "note_attributes[0].name",
            "is missing",
        ),
        ({"customer": {"id": 1.5}}, "customer.id", "JSON float"),
    ],
)
def test_malformed_order_names_the_field(
    changes: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(PayloadError, match=fragment) as caught:
        parse_shopify_payload("orders/create", _order_with(**changes))
    assert caught.value.field == field


def test_malformed_line_item_names_its_index() -> None:
    body = _sample_json("orders-create")
    body["line_items"][3]["quantity"] = -1
    with pytest.raises(PayloadError, match="must not be negative") as caught:
        parse_shopify_payload("orders/create", orjson.dumps(body))
    assert caught.value.field == "line_items[3].quantity"


def test_line_item_variant_float_is_refused() -> None:
    body = _sample_json("orders-create")
    body["line_items"][0]["variant_id"] = 39072856.0
    with pytest.raises(InvalidIdError) as caught:
        parse_shopify_payload("orders/create", orjson.dumps(body))
    assert caught.value.field == "line_items[0].variant_id"


@pytest.mark.parametrize("body", [b"", b"[1]", b"{", b"null"])
def test_non_object_bodies_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_shopify_payload("orders/create", body)


def _parse_or_error(topic: str, body: bytes) -> object:
    try:
        return parse_shopify_payload(topic, body)
    except PayloadError as error:
        return error


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found: list[tuple[object, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


_ORDER = _sample_json("orders-create")
_FULFILLMENT = _sample_json("fulfillments-create")
_ORDER_PATHS = _paths(_ORDER)
_FULFILLMENT_PATHS = _paths(_FULFILLMENT)

json_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.just([]),
    st.just({}),
    st.just([1.5]),
    st.just("2021-12-31T19:00:00"),
)


def _replace(document: Any, path: tuple[object, ...], value: object) -> Any:
    mutated = copy.deepcopy(document)
    target = mutated
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return mutated


@settings(max_examples=300, deadline=None)
@given(
    which=st.sampled_from(["order", "fulfillment"]),
    data=st.data(),
    value=json_junk,
)
def test_any_single_field_mutation_parses_or_raises_payload_error(
    which: str, data: st.DataObject, value: object
) -> None:
    document, paths, topic = (
        (_ORDER, _ORDER_PATHS, "orders/updated")
        if which == "order"
        else (_FULFILLMENT, _FULFILLMENT_PATHS, "fulfillments/update")
    )
    path = data.draw(st.sampled_from(paths))
    body = orjson.dumps(_replace(document, path, value))
    outcome = _parse_or_error(topic, body)
    assert isinstance(outcome, PayloadError | OrderSnapshot | FulfillmentSnapshot)


@settings(max_examples=100, deadline=None)
@given(
    document=st.recursive(
        json_junk,
        lambda inner: (
            st.dictionaries(
                st.sampled_from(
                    [
                        "id",
                        "fulfillment_order",
                        "order_id",
                        "status",
                        "x_fulfillment_orders",
                        "shop_id",
                        "shop_domain",
                        "customer",
                        "orders_to_redact",
                    ]
                ),
                inner,
                max_size=4,
            )
            | st.lists(inner, max_size=3)
        ),
        max_leaves=10,
    ),
    topic=st.sampled_from(
        [
            "fulfillment_orders/moved",
            "customers/redact",
            "customers/data_request",
            "shop/redact",
            "app/uninstalled",
            "orders/paid",
            "fulfillments/create",
        ]
    ),
)
def test_arbitrary_json_never_escapes_as_another_error(document: object, topic: str) -> None:
    outcome = _parse_or_error(topic, orjson.dumps(document))
    assert not isinstance(outcome, UnsupportedTopic)
