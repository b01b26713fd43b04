"""Tests for core.json_reader: typed field access with exact error paths."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core._jsontype import describe
from core.errors import PayloadError
from core.json_reader import JsonObject, load_json, load_json_object, parse_timestamp


def _obj(data: dict[str, object]) -> JsonObject:
    return JsonObject(data, path="root")


def test_load_json_keeps_big_integers_exact() -> None:
    assert load_json(b'{"id": 820982911946154508}', what="body") == {"id": 820982911946154508}


def test_load_json_rejects_invalid_json() -> None:
    with pytest.raises(PayloadError, match="body is not valid JSON"):
        load_json(b"{", what="body")


def test_load_json_object_rejects_array() -> None:
    with pytest.raises(PayloadError, match="must be a JSON object, got an array"):
        load_json_object(b"[]", what="body")


def test_parse_timestamp_converts_to_utc() -> None:
    parsed = parse_timestamp("2021-12-31T19:00:00-05:00", field="t")
    assert parsed == datetime(2022, 1, 1, tzinfo=UTC)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2021-12-31T19:00:00", "no UTC offset"),
        ("2021-12-31", "no UTC offset"),
        ("yesterday", "not an ISO-8601 timestamp"),
        (1640995200, "expected an ISO-8601 timestamp, got a number"),
    ],
)
def test_parse_timestamp_rejects_bad_values(value: object, fragment: str) -> None:
    with pytest.raises(PayloadError, match=fragment) as caught:
        parse_timestamp(value, field="created_at")
    assert caught.value.field == "created_at"


def test_required_field_missing_and_null_are_told_apart() -> None:
    obj = _obj({"a": None})
    with pytest.raises(PayloadError, match=r"root\.a: is null"):
        obj.req("a")
    with pytest.raises(PayloadError, match=r"root\.b: is missing"):
        obj.req("b")


def test_typed_getters_reject_wrong_types() -> None:
    obj = _obj({"s": 1, "i": "1", "b": "yes", "o": [], "l": {}, "f": 1.5, "t": True})
    checks = [
        (obj.req_str, "s", "expected a string"),
        (obj.req_int, "i", "expected an integer"),
        (obj.req_int, "t", "expected an integer, got a boolean"),
        (obj.req_int, "f", "expected an integer, got a number"),
        (obj.req_bool, "b", "expected a boolean"),
        (obj.req_obj, "o", "expected an object"),
        (obj.req_list, "l", "expected an array"),
    ]
    for getter, key, fragment in checks:
        with pytest.raises(PayloadError, match=fragment):
            getter(key)


def test_optional_getters_return_none_or_default() -> None:
    obj = _obj({"n": None})
    assert obj.opt_str("n") is None
    assert obj.opt_int("x") is None
    assert obj.opt_bool("x", default=True) is True
    assert obj.opt_timestamp("x") is None
    assert obj.opt_obj("x") is None
    assert obj.opt_list("x") == []
    assert obj.objs("x") == ()
    assert obj.strs("x") == ()
    assert obj.opt_ref_id("x") is None
    assert obj.raw("x") is None


def test_optional_getters_return_present_values() -> None:
    obj = _obj(
        {
            "s": "v",
            "i": 3,
            "b": False,
            "t": "2024-01-01T00:00:00Z",
            "o": {"k": 1},
            "l": [{"a": 1}],
            "ss": ["x", "y"],
            "r": 9,
        }
    )
    assert obj.opt_str("s") == "v"
    assert obj.opt_int("i") == 3
    assert obj.req_count("i") == 3
    assert obj.opt_bool("b", default=True) is False
    assert obj.opt_timestamp("t") == datetime(2024, 1, 1, tzinfo=UTC)
    nested = obj.opt_obj("o")
    assert nested is not None
    assert nested.path == "root.o"
    assert nested.req_int("k") == 1
    assert [item.path for item in obj.objs("l", required=True)] == ["root.l[0]"]
    assert obj.strs("ss") == ("x", "y")
    assert obj.opt_ref_id("r") == 9
    assert obj.has("s")


def test_count_rejects_negative() -> None:
    with pytest.raises(PayloadError, match="must not be negative"):
        _obj({"q": -1}).req_count("q")


def test_array_items_report_their_index() -> None:
    with pytest.raises(PayloadError, match=r"root\.l\[1\]: expected an object"):
        _obj({"l": [{}, 3]}).objs("l")
    with pytest.raises(PayloadError, match=r"root\.s\[0\]: expected a string"):
        _obj({"s": [3]}).strs("s")


def test_top_level_paths_have_no_prefix() -> None:
    obj = JsonObject({"id": 5}, path="")
    assert obj.field("id") == "id"
    assert obj.shopify_id("Order") == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "a boolean (true)"),
        (1.5, "a number (1.5)"),
        ("x" * 50, "a string ('" + "x" * 37 + "...')"),
        ([], "an array"),
        ({}, "an object"),
        (b"x", "bytes"),
    ],
)
def test_describe_names_json_types(value: object, expected: str) -> None:
    assert describe(value) == expected


def test_load_json_object_wraps_top_level_object() -> None:
    obj = load_json_object(b'{"id": 1}', what="body")
    assert obj.path == ""
    assert obj.req_int("id") == 1
