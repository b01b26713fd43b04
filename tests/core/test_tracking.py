"""Tests for core.tracking: matching keys for tracking numbers and supplier ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import PayloadError
from core.tracking import (
    TrackingNumber,
    make_tracking_number,
    normalize_supplier_id,
    normalize_tracking_number,
)

separators = st.sampled_from([" ", "-", "_", ".", "/", "\t", "\u2013", "\u00a0", ":"])
alnum = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("lp 0012-3456 cn", "LP00123456CN"),
        ("  1z827wk74630 ", "1Z827WK74630"),
        ("YT2312.3456/789", "YT23123456789"),
        ("\uff2c\uff30\uff11\uff12", "LP12"),  # full-width letters and digits
        ("CJ\u2013PKT\u2014001", "CJPKT001"),
    ],
)
def test_normalize_tracking_number_strips_case_and_separators(raw: str, key: str) -> None:
    assert normalize_tracking_number(raw) == key


@given(raw=st.text())
def test_normalized_key_is_idempotent_and_plain_ascii(raw: str) -> None:
    key = normalize_tracking_number(raw)
    assert normalize_tracking_number(key) == key
    assert all(char.isascii() and (char.isdigit() or char.isupper()) for char in key)


@given(core=alnum, seps=st.lists(st.tuples(st.integers(0, 40), separators), max_size=8))
def test_key_ignores_inserted_separators_and_case(core: str, seps: list[tuple[int, str]]) -> None:
    noisy = core.lower()
    for position, separator in seps:
        noisy = noisy[:position] + separator + noisy[position:]
    assert normalize_tracking_number(noisy) == normalize_tracking_number(core)


@given(core=alnum)
def test_key_of_ascii_alphanumerics_is_their_upper_case(core: str) -> None:
    assert normalize_tracking_number(core) == core.upper()


def test_normalize_supplier_id_accepts_numbers() -> None:
    assert normalize_supplier_id(1105933950463697) == "1105933950463697"
    assert normalize_supplier_id("cj-2408-0001") == "CJ24080001"


def test_make_tracking_number_keeps_original() -> None:
    assert make_tracking_number(" lp-1 ") == TrackingNumber(original="lp-1", normalized="LP1")


def test_make_tracking_number_rejects_blank() -> None:
    with pytest.raises(PayloadError, match="not a tracking number") as caught:
        make_tracking_number(" - ", field="packages[0].tracking_number")
    assert caught.value.field == "packages[0].tracking_number"
