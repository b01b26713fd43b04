"""Tests for core.cj: CJdropshipping webhook messages and order detail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.cj import parse_cj_message, parse_cj_order_detail
from core.errors import PayloadError, RemoteRejected
from core.supplier_model import (
    IgnoredSupplierMessage,
    PackageItem,
    Supplier,
    SupplierEvent,
    SupplierEventKind,
    TrackingStatus,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

TRACK_EVENTS = (
    '[{"status":12,"activity":" Delivered, PO Box","location":" NENANA,AK 99760",'
    '"eventTime":"2024-01-18 07:59:22","statusDesc":"Delivered",'
    '"thirdActivity":"Delivered, PO Box","thirdLocation":"NENANA,AK 99760",'
    '"thirdEventTime":"2024-01-18 07:59:22"},'
    '{"status":6,"activity":"","statusDesc":"Arrived",'
    '"eventTime":"2024-01-10 01:00:00"}]'
)


def _message(kind: str, params: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "messageId": "7cceede817dc47f8b7a5e4b1d7e2a5f1",
            "type": kind,
            "messageType": "UPDATE",
            "openId": 123,
            "params": params,
            **extra,
        }
    )


def _event(body: bytes) -> SupplierEvent:
    result = parse_cj_message(body, tz=SHANGHAI)
    assert isinstance(result, SupplierEvent)
    return result


def test_logistic_message_becomes_tracking_update() -> None:
    event = _event(
        _message(
            "LOGISTIC",
            {
                "orderId": "210823100016290555",
                "logisticName": "CJPacket Ordinary",
                "trackingNumber": "CJPKL7160102171YQ",
                "trackingUrl": "https://www.cjpacket.com/?trackingNumber=CJPKL7160102171YQ",
                "trackingStatus": 12,
                "logisticsTrackEvents": TRACK_EVENTS,
            },
        )
    )
    assert event.kind is SupplierEventKind.TRACKING_UPDATED
    assert event.dedup_key == "cj:7cceede817dc47f8b7a5e4b1d7e2a5f1"
    assert event.supplier_order_id == "210823100016290555"
    assert event.shopify_reference is None
    assert event.supplier_status == "12"
    package = event.packages[0]
    assert package.tracking.normalized == "CJPKL7160102171YQ"
    assert package.carrier == "CJPacket Ordinary"
    assert package.status is TrackingStatus.DELIVERED
    assert [e.description for e in package.events] == ["Arrived", "Delivered, PO Box"]
    assert package.events[1].location == "NENANA,AK 99760"
    assert package.events[0].location is None
    # 07:59:22 in Shanghai (UTC+8) is 23:59:22 UTC the day before.
    assert package.events[1].occurred_at == datetime(2024, 1, 17, 23, 59, 22, tzinfo=UTC)
    assert event.occurred_at == package.events[1].occurred_at


def test_logistic_message_with_list_events_and_store_numbers() -> None:
    events = [
        {
            "status": 99,
            "statusDesc": "Odd",
            "thirdEventTime": "2024-01-10T01:00:00+00:00",
            "thirdLocation": "X",
        }
    ]
    event = _event(
        _message(
            "logistic",
            {
                "orderId": 5,
                "trackingNumber": "LP1",
                "logisticsTrackEvents": events,
                "storeOrderNumbers": ["#1001"],
            },
        )
    )
    assert event.supplier_order_id == "5"
    assert event.shopify_reference == "#1001"
    assert event.packages[0].status is None
    assert event.packages[0].events[0].status is None
    assert event.packages[0].events[0].location == "X"
    assert event.supplier_status is None


def test_logistic_message_without_events() -> None:
    event = _event(
        _message(
            "LOGISTIC",
            {"orderId": "1", "trackingNumber": "LP1", "logisticsTrackEvents": ""},
        )
    )
    assert event.packages[0].events == ()
    assert event.occurred_at is None


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"orderId": "1"}, "params.trackingNumber", "is missing"),
        (
            {"orderId": "1", "trackingNumber": " - "},
            "params.trackingNumber",
            "not a tracking number",
        ),
        ({"orderId": 1.5e17, "trackingNumber": "A1"}, "params.orderId", "JSON float"),
        (
            {"orderId": "1", "trackingNumber": "A1", "logisticsTrackEvents": "[{"},
            None,
            "not valid JSON",
        ),
        (
            {"orderId": "1", "trackingNumber": "A1", "logisticsTrackEvents": "{}"},
            "params.logisticsTrackEvents",
            "JSON array",
        ),
        (
            {
                "orderId": "1",
                "trackingNumber": "A1",
                "logisticsTrackEvents": [{"eventTime": "Jan 5"}],
            },
            "params.events[0].eventTime",
            "not a date-time",
        ),
        (
            {"orderId": "1", "trackingNumber": "A1", "trackingStatus": "12"},
            "params.trackingStatus",
            "expected an integer",
        ),
    ],
)
def test_malformed_logistic_messages(
    params: dict[str, Any], field: str | None, fragment: str
) -> None:
    with pytest.raises(PayloadError, match=fragment) as caught:
        parse_cj_message(_message("LOGISTIC", params), tz=SHANGHAI)
    assert caught.value.field == field


def test_order_message_with_tracking_is_shipped() -> None:
    event = _event(
        _message(
            "ORDER",
            {
                "cjOrderId": "CJ2408001",
                "orderNumber": "#1001",
                "orderStatus": "SHIPPED",
                "logisticName": "YunExpress",
                "trackNumber": "YT2312345678901",
                "trackingUrl": "",
                "createDate": "2024-08-01 10:00:00",
                "updateDate": None,
                "payDate": "2024-08-01 11:00:00",
            },
        )
    )
    assert event.kind is SupplierEventKind.ORDER_SHIPPED
    assert event.shopify_reference == "#1001"
    assert event.supplier_status == "SHIPPED"
    assert event.packages[0].carrier == "YunExpress"
    assert event.packages[0].tracking_url is None
    assert event.packages[0].items == ()
    assert event.occurred_at == datetime(2024, 8, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("CANCELLED", SupplierEventKind.ORDER_CANCELLED),
        ("UNSHIPPED", SupplierEventKind.ORDER_PLACED),
        (None, SupplierEventKind.ORDER_PLACED),
    ],
)
def test_order_message_without_tracking(status: str | None, kind: SupplierEventKind) -> None:
    event = _event(
        _message(
            "ORDER",
            {
                "cjOrderId": "CJ1",
                "orderNum": "1001",
                "orderStatus": status,
                "trackNumber": " ",
            },
        )
    )
    assert event.kind is kind
    assert event.shopify_reference == "1001"
    assert event.occurred_at is None
    assert event.packages == ()


def test_split_message() -> None:
    event = _event(
        _message(
            "ORDERSPLIT",
            {
                "originalOrderId": "CJ1",
                "orderSplitTime": "2024-08-02 00:00:00",
                "splitOrderList": [
                    {
                        "orderCode": "CJ1-A",
                        "createAt": "2024-08-02 00:00:00",
                        "orderStatus": "UNSHIPPED",
                        "productList": [
                            {
                                "productCode": "P1",
                                "vid": "V1",
                                "quantity": 2,
                                "sku": "SKU-1",
                            }
                        ],
                    },
                    {
                        "orderCode": "CJ1-B",
                        "productList": [{"vid": 77, "quantity": 1, "sku": ""}],
                    },
                ],
            },
        )
    )
    assert event.kind is SupplierEventKind.ORDER_SPLIT
    assert event.supplier_order_id == "CJ1"
    assert [part.supplier_order_id for part in event.split_into] == ["CJ1-A", "CJ1-B"]
    assert event.split_into[0].items == (
        PackageItem(
            shopify_line_item_id=None,
            sku="SKU-1",
            variant_id=None,
            supplier_variant_id="V1",
            quantity=2,
        ),
    )
    assert event.split_into[1].items[0].sku is None
    assert event.split_into[1].created_at is None


def test_split_message_needs_parts() -> None:
    with pytest.raises(PayloadError, match="a split needs at least one part"):
        parse_cj_message(
            _message("ORDERSPLIT", {"originalOrderId": "CJ1", "splitOrderList": []}),
            tz=SHANGHAI,
        )


def test_other_message_types_are_ignored() -> None:
    assert parse_cj_message(_message("STOCK", {}), tz=SHANGHAI) == IgnoredSupplierMessage(
        supplier=Supplier.CJ,
        message_type="STOCK",
        dedup_key="cj:7cceede817dc47f8b7a5e4b1d7e2a5f1",
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"type": "ORDER", "params": {}}', "messageId"),
        (b'{"messageId": "1", "params": {}}', "type"),
        (b'{"messageId": "1", "type": "ORDER"}', "params"),
        (b'{"messageId": "", "type": "ORDER", "params": {}}', "messageId"),
    ],
)
def test_malformed_envelopes(body: bytes, fragment: str) -> None:
    with pytest.raises(PayloadError, match=fragment):
        parse_cj_message(body, tz=SHANGHAI)


@settings(max_examples=150, deadline=None)
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "cjOrderId",
                "orderId",
                "orderNumber",
                "trackNumber",
                "trackingNumber",
                "trackingStatus",
                "logisticsTrackEvents",
                "updateDate",
                "originalOrderId",
                "splitOrderList",
                "storeOrderNumbers",
            ]
        ),
        st.one_of(
            st.none(),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.floats(allow_nan=False),
            st.text(max_size=8),
            st.just([]),
            st.just([{}]),
            st.just("2024-01-01 00:00:00"),
        ),
    ),
    kind=st.sampled_from(["ORDER", "LOGISTIC", "ORDERSPLIT"]),
)
def test_arbitrary_params_parse_or_raise_payload_error(params: dict[str, Any], kind: str) -> None:
    try:
        outcome: object = parse_cj_message(_message(kind, params), tz=SHANGHAI)
    except PayloadError as error:
        outcome = error
    assert isinstance(outcome, PayloadError | SupplierEvent)


def test_order_detail_response() -> None:
    response = {
        "code": 200,
        "result": True,
        "message": "Success",
        "data": {
            "orderId": "210711100018043276",
            "orderNum": "#1001",
            "orderStatus": "SHIPPED",
            "logisticName": "USPS",
            "trackNumber": "9400100000000000000001, 9400100000000000000002",
            "createDate": "2021-07-11 10:00:00",
            "productList": [{"vid": "V1", "quantity": 1, "sellPrice": 3.5}],
        },
    }
    state = parse_cj_order_detail(orjson.dumps(response), tz=SHANGHAI)
    assert state.supplier_order_id == "210711100018043276"
    assert state.shopify_reference == "#1001"
    assert state.cancelled is False
    assert [p.tracking.normalized for p in state.packages] == [
        "9400100000000000000001",
        "9400100000000000000002",
    ]
    assert state.items[0].supplier_variant_id == "V1"
    assert state.created_at == datetime(2021, 7, 11, 2, 0, tzinfo=UTC)


def test_order_detail_accepts_parsed_mapping_and_cancelled_status() -> None:
    state = parse_cj_order_detail(
        {"data": {"cjOrderId": "CJ1", "orderNumber": "1", "orderStatus": "cancelled"}},
        tz=SHANGHAI,
    )
    assert state.supplier_order_id == "CJ1"
    assert state.cancelled is True
    assert state.packages == ()


@pytest.mark.parametrize(
    "envelope",
    [
        {"code": 1600100, "result": False, "message": "order not found", "data": None},
        {"result": False, "message": "x"},
    ],
)
def test_order_detail_failure_is_remote_rejected(envelope: dict[str, Any]) -> None:
    with pytest.raises(RemoteRejected, match="CJ order detail failed"):
        parse_cj_order_detail(envelope, tz=SHANGHAI)


def test_non_string_cj_date_is_rejected() -> None:
    body = _message("ORDER", {"cjOrderId": "CJ1", "updateDate": 1722477600000})
    with pytest.raises(PayloadError, match="expected a date-time string") as caught:
        parse_cj_message(body, tz=SHANGHAI)
    assert caught.value.field == "params.updateDate"
