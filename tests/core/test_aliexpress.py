"""Tests for core.aliexpress: message push hints and trade.ds.order.get responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from core.aliexpress import parse_aliexpress_order_detail, parse_aliexpress_push
from core.errors import PayloadError, RemoteRejected
from core.supplier_model import IgnoredSupplierMessage, Supplier, SupplierHint

PUSH = {
    "data": {
        "buyerId": 1861703697,
        "orderId": 1105933950463697,
        "orderStatus": "OrderShipped",
    },
    "message_type": 53,
    "seller_id": "1234",
    "site": "ae_global",
    "timestamp": 1719389200,
}


def test_push_becomes_hint() -> None:
    assert parse_aliexpress_push(orjson.dumps(PUSH)) == SupplierHint(
        supplier=Supplier.ALIEXPRESS,
        dedup_key="ae:53:1105933950463697:OrderShipped:1719389200",
        supplier_order_id="1105933950463697",
        status="OrderShipped",
        occurred_at=datetime(2024, 6, 26, 8, 6, 40, tzinfo=UTC),
    )


def test_push_with_string_type_and_no_timestamp() -> None:
    body = {"message_type": "53", "data": {"orderId": "1105933950463697"}}
    hint = parse_aliexpress_push(orjson.dumps(body))
    assert isinstance(hint, SupplierHint)
    assert hint.occurred_at is None
    assert hint.status is None


def test_other_push_types_are_ignored() -> None:
    assert parse_aliexpress_push(b'{"message_type": 18, "data": {}}') == IgnoredSupplierMessage(
        supplier=Supplier.ALIEXPRESS, message_type="18", dedup_key=None
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"message_type": 53, "data": {"orderId": 1.1059339504636970e15}},
            "data.orderId",
        ),
        ({"message_type": 53}, "data"),
        ({"message_type": 5.3, "data": {}}, "message_type"),
    ],
)
def test_malformed_push(body: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_aliexpress_push(orjson.dumps(body))
    assert caught.value.field == field


RESULT = {
    "gmt_create": "2024-06-26 01:23:45",
    "order_status": "WAIT_BUYER_ACCEPT_GOODS",
    "logistics_status": "SELLER_SEND_GOODS",
    "order_amount": {"amount": "12.34", "currency_code": "USD"},
    "child_order_list": {
        "ae_child_order_info": [
            {"product_id": 1005001, "product_count": 2, "sku_attr": "14:193#Black"}
        ]
    },
    "logistics_info_list": {
        "ae_order_logistics_info": [
            {
                "logistics_no": "LP00123456789CN",
                "logistics_service": "CAINIAO_STANDARD",
            },
            {
                "logistics_no": "lp-00123456789-cn",
                "logistics_service": "CAINIAO_STANDARD",
            },
            {
                "logistics_no": "LP00987654321CN",
                "logistics_service": "CAINIAO_STANDARD",
            },
            {"logistics_no": None},
        ]
    },
}


def test_order_detail_wrapped_response() -> None:
    body = {"aliexpress_trade_ds_order_get_response": {"result": RESULT, "request_id": "x"}}
    state = parse_aliexpress_order_detail(
        orjson.dumps(body),
        order_id=1105933950463697,
        tz=ZoneInfo("America/Los_Angeles"),
    )
    assert state.supplier is Supplier.ALIEXPRESS
    assert state.supplier_order_id == "1105933950463697"
    assert state.status == "WAIT_BUYER_ACCEPT_GOODS"
    assert state.logistics_status == "SELLER_SEND_GOODS"
    assert state.cancelled is False
    assert state.created_at == datetime(2024, 6, 26, 8, 23, 45, tzinfo=UTC)
    assert [p.tracking.original for p in state.packages] == [
        "LP00123456789CN",
        "LP00987654321CN",
    ]
    assert all(p.items == () and p.carrier == "CAINIAO_STANDARD" for p in state.packages)
    assert state.items[0].supplier_variant_id == "14:193#Black"
    assert state.items[0].quantity == 2


def test_order_detail_bare_result_with_plain_lists() -> None:
    result = {
        "order_id": 42,
        "out_order_id": "#1001",
        "order_status": "IN_CANCEL",
        "child_order_list": [{"product_id": 7, "product_count": 1}],
        "logistics_info_list": [],
    }
    state = parse_aliexpress_order_detail(result)
    assert state.supplier_order_id == "42"
    assert state.shopify_reference == "#1001"
    assert state.cancelled is True
    assert state.items[0].supplier_variant_id == "7"
    assert state.packages == ()
    assert state.created_at is None


def test_order_detail_without_any_order_id_is_rejected() -> None:
    with pytest.raises(PayloadError, match="names no order"):
        parse_aliexpress_order_detail({"result": {"order_status": "FINISH"}}, order_id=" ")


def test_order_detail_error_response_is_remote_rejected() -> None:
    body = {
        "error_response": {
            "code": 15,
            "sub_code": "isv.insufficient-permission",
            "msg": "Remote service error",
        }
    }
    with pytest.raises(RemoteRejected, match=r"isv\.insufficient-permission"):
        parse_aliexpress_order_detail(body, order_id=1)
