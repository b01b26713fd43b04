"""Tests for core.ids: strict GIDs and the id-from-payload rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidIdError, PayloadError
from core.ids import (
    MAX_ID,
    Gid,
    GidType,
    format_gid,
    parse_gid,
    parse_gid_id,
    require_id,
    shopify_id_from_payload,
)

ids = st.integers(min_value=1, max_value=MAX_ID)
resources = st.sampled_from(list(GidType))


@given(resource=resources, id_=ids)
def test_gid_round_trips_for_every_valid_id(resource: GidType, id_: int) -> None:
    text = format_gid(resource, id_)
    assert parse_gid(text) == Gid(resource=resource, id=id_)
    assert str(parse_gid(text)) == text


def test_parse_gid_reads_order_gid() -> None:
    assert parse_gid_id("gid://shopify/Order/820982911946154508", expected="Order") == (
        820982911946154508
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("820982911946154508", "must start with"),
        ("gid://shopify/Order", "expected gid://shopify/<Type>/<id>"),
        ("gid://shopify/order/1", "expected gid://shopify/<Type>/<id>"),
        ("gid://shopify/Order/", "positive decimal id"),
        ("gid://shopify/Order/0", "positive decimal id"),
        ("gid://shopify/Order/012", "positive decimal id"),
        ("gid://shopify/Order/-5", "positive decimal id"),
        ("gid://shopify/Order/1?x=1", "positive decimal id"),
        ("gid://shopify/Order/1/2", "positive decimal id"),
        (f"gid://shopify/Order/{MAX_ID + 1}", "outside 1..2**63-1"),
    ],
)
def test_parse_gid_rejects_malformed_value(value: str, fragment: str) -> None:
    with pytest.raises(InvalidIdError, match=fragment.replace("*", r"\*").replace("?", r"\?")):
        parse_gid(value)


def test_parse_gid_rejects_wrong_resource_type() -> None:
    with pytest.raises(InvalidIdError, match="is a LineItem GID, expected a Order GID"):
        parse_gid("gid://shopify/LineItem/5", expected="Order", field="order.id")


def test_parse_gid_rejects_non_string_with_field_path() -> None:
    with pytest.raises(InvalidIdError) as caught:
        parse_gid(5, field="x.id")
    assert caught.value.field == "x.id"
    assert "expected a GID string, got a number (5)" in str(caught.value)


def test_format_gid_rejects_bad_resource_and_range() -> None:
    with pytest.raises(InvalidIdError, match="not a Shopify resource type"):
        format_gid("not a type", 1)
    with pytest.raises(InvalidIdError, match="outside"):
        format_gid("Order", 0)


def test_invalid_id_error_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        parse_gid("nope")


def test_payload_id_prefers_graphql_id_over_float_corrupted_number() -> None:
    obj = {
        "id": 820982911946154500,
        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
    }
    assert shopify_id_from_payload(obj, resource="Order") == 820982911946154508


def test_payload_id_falls_back_to_integer_id() -> None:
    assert shopify_id_from_payload({"id": 42}, resource="Order") == 42


def test_payload_id_accepts_gid_in_id_field() -> None:
    obj = {"id": "gid://shopify/FulfillmentOrder/7", "status": "open"}
    assert shopify_id_from_payload(obj, resource="FulfillmentOrder") == 7


def test_payload_id_refuses_float_id() -> None:
    with pytest.raises(InvalidIdError, match="JSON float") as caught:
        shopify_id_from_payload({"id": 8.2e17}, resource="Order", path="order")
    assert caught.value.field == "order.id"


def test_payload_id_refuses_missing_id() -> None:
    with pytest.raises(InvalidIdError, match="is missing"):
        shopify_id_from_payload({}, resource="Order")


def test_payload_id_refuses_wrong_gid_type() -> None:
    with pytest.raises(InvalidIdError, match="admin_graphql_api_id"):
        shopify_id_from_payload(
            {"admin_graphql_api_id": "gid://shopify/Customer/1"}, resource="Order"
        )


@pytest.mark.parametrize("value", [True, "12", None, [1], -1, 0, MAX_ID + 1])
def test_require_id_refuses_non_ids(value: object) -> None:
    with pytest.raises(InvalidIdError):
        require_id(value, field="order_id")


@given(value=st.floats(allow_nan=False))
def test_require_id_refuses_every_float(value: float) -> None:
    with pytest.raises(InvalidIdError, match="JSON float"):
        require_id(value, field="id")
