"""Tests for core.order_reference: supplier references to Shopify orders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.ids import MAX_ID, OrderId
from core.order_reference import (
    ReferenceKey,
    ReferenceKind,
    ReferenceResolution,
    order_name_key,
    order_reference_keys,
    reference_keys,
    resolve_reference,
)

ORDER = OrderId(820982911946154508)


def _order_keys(
    name: str = "#1001", notes: tuple[tuple[str, str], ...] = ()
) -> frozenset[ReferenceKey]:
    return order_reference_keys(
        order_id=ORDER,
        name=name,
        note_attributes=notes,
        note_attribute_names=["supplier_ref"],
    )


@pytest.mark.parametrize(
    "reference",
    [
        "#1001",
        "1001",
        " #1001 ",
        1001,
        "820982911946154508",
        820982911946154508,
        "gid://shopify/Order/820982911946154508",
    ],
)
def test_reference_forms_match_the_order(reference: str | int) -> None:
    assert reference_keys(reference) & _order_keys()


def test_prefixed_names_match_case_insensitively() -> None:
    assert reference_keys("sb1001") & _order_keys(name="#SB1001")


def test_note_attribute_reference_matches_only_configured_names() -> None:
    order = _order_keys(
        notes=(("supplier_ref", " cj-77 "), ("other", "CJ-88"), ("supplier_ref", " "))
    )
    assert reference_keys("CJ-77", note_attribute_names=["supplier_ref"]) & order
    assert not reference_keys("CJ-88", note_attribute_names=["supplier_ref"]) & order
    assert not reference_keys("CJ-77") & order


def test_reference_keys_of_blank_and_bad_gid() -> None:
    assert reference_keys("  ") == frozenset()
    assert reference_keys("#") == frozenset()
    keys = reference_keys("gid://shopify/Customer/5")
    assert all(key.kind is ReferenceKind.ORDER_NAME for key in keys)


@pytest.mark.parametrize("text", ["0123", str(MAX_ID + 1), "12a", "\u00b2"])
def test_non_canonical_numbers_are_not_order_ids(text: str) -> None:
    assert all(key.kind is not ReferenceKind.ORDER_ID for key in reference_keys(text))


def test_order_name_key() -> None:
    assert order_name_key("  # sb1001 ") == "SB1001"


@given(number=st.integers(min_value=1, max_value=10**9))
def test_name_with_or_without_hash_gives_same_keys(number: int) -> None:
    assert reference_keys(f"#{number}") & reference_keys(str(number))


def test_resolve_prefers_order_id_over_weaker_matches() -> None:
    candidates = reference_keys("1001", note_attribute_names=["supplier_ref"])
    found = {
        OrderId(1001): [ReferenceKey(kind=ReferenceKind.ORDER_ID, value="1001")],
        OrderId(5): [ReferenceKey(kind=ReferenceKind.ORDER_NAME, value="1001")],
    }
    assert resolve_reference(candidates, found) == ReferenceResolution(
        order_id=OrderId(1001), matched_by=ReferenceKind.ORDER_ID, ambiguous=()
    )


def test_resolve_reports_ambiguity_at_the_best_level() -> None:
    key = ReferenceKey(kind=ReferenceKind.ORDER_NAME, value="1001")
    found = {
        OrderId(7): [key],
        OrderId(5): [key],
        OrderId(9): [ReferenceKey(kind=ReferenceKind.ORDER_NAME, value="X")],
    }
    assert resolve_reference([key], found) == ReferenceResolution(
        order_id=None,
        matched_by=ReferenceKind.ORDER_NAME,
        ambiguous=(OrderId(5), OrderId(7)),
    )


def test_resolve_with_no_match() -> None:
    assert resolve_reference(reference_keys("1"), {}) == ReferenceResolution(
        order_id=None, matched_by=None, ambiguous=()
    )
