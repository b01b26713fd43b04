"""CJ webhooks: documented shapes, CJ's success-body check, retries and pausing."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.responses import JSONResponse

from simulator.suppliers import (
    CjTrackingStatus,
    InvalidTransitionError,
    LineItem,
    ManualClock,
    ShipmentSpec,
    Supplier,
    SupplierSimulator,
    create_app,
)
from simulator.suppliers.receiver import ReceivedRequest, RecordingReceiver

CALLBACK = "http://dropsync.test/webhooks/suppliers/cj-main?token=s3cr3t&v=1"
CJ_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
ENVELOPE_KEYS = {"messageId", "type", "messageType", "openId", "params"}
ORDER_PARAMS = {
    "cjOrderId",
    "orderNumber",
    "orderStatus",
    "logisticName",
    "trackNumber",
    "trackingUrl",
    "createDate",
    "updateDate",
    "payDate",
    "deliveryDate",
    "completeDate",
}
LOGISTIC_PARAMS = {
    "orderId",
    "logisticName",
    "trackingNumber",
    "trackingUrl",
    "trackingStatus",
    "logisticsTrackEvents",
}
TRACK_EVENT_KEYS = {
    "status",
    "activity",
    "location",
    "eventTime",
    "statusDesc",
    "thirdActivity",
    "thirdLocation",
    "thirdEventTime",
}
ITEMS = (
    LineItem(quantity=2, sku="CJ-MUG-RED", variant_id="V-100", product_id="CJMUG01"),
    LineItem(quantity=1, sku="CJ-CAP-BLU", variant_id="V-200", product_id="CJCAP02"),
)


@pytest.fixture
async def receiver() -> RecordingReceiver:
    return RecordingReceiver()


@pytest.fixture
async def sim(receiver: RecordingReceiver) -> AsyncIterator[SupplierSimulator]:
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport) as client:
        simulator = SupplierSimulator(seed=7, clock=ManualClock(), http_client=client)
        simulator.register_cj_webhook(order_url=CALLBACK, logistics_url=CALLBACK)
        yield simulator


def _of_type(requests: list[ReceivedRequest], kind: str) -> list[dict[str, Any]]:
    return [r.json() for r in requests if r.json()["type"] == kind]


async def test_order_webhook_has_documented_fields_when_placed(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1001", line_items=ITEMS)

    await sim.deliver()

    [message] = receiver.bodies()
    assert set(message) == ENVELOPE_KEYS
    assert message["type"] == "ORDER"
    assert message["messageType"] == "INSERT"
    params = message["params"]
    assert set(params) == ORDER_PARAMS
    assert params["cjOrderId"] == order.supplier_order_id
    assert params["orderNumber"] == "#1001"
    assert params["trackNumber"] is None
    # 08:00 UTC rendered as CJ sends it: China time, no zone.
    assert params["createDate"] == "2026-01-15 16:00:00"
    assert CJ_DATE.match(params["payDate"])


async def test_webhook_goes_to_configured_url_verbatim(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    sim.place_order(Supplier.CJ, merchant_reference="#1001", line_items=ITEMS)

    await sim.deliver()

    [request] = receiver.requests
    assert request.path == "/webhooks/suppliers/cj-main"
    assert request.query == "token=s3cr3t&v=1"
    assert request.headers["content-type"] == "application/json"


async def test_shipping_sends_order_update_and_logistic_with_json_string_events(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1002", line_items=ITEMS)
    [package] = sim.ship(order.supplier_order_id)
    sim.advance(timedelta(hours=30))
    sim.add_tracking_event(
        order.supplier_order_id,
        status=CjTrackingStatus.ARRIVED_IN_DESTINATION,
        location="LOS ANGELES,CA 90001",
    )

    await sim.deliver()

    updates = [m for m in _of_type(receiver.requests, "ORDER") if m["messageType"] == "UPDATE"]
    assert updates[0]["params"]["trackNumber"] == package.tracking_number
    assert updates[0]["params"]["orderStatus"] == "SHIPPED"
    logistics = _of_type(receiver.requests, "LOGISTIC")
    assert len(logistics) == 2
    latest = logistics[-1]["params"]
    assert set(latest) == LOGISTIC_PARAMS
    assert latest["trackingNumber"] == package.tracking_number
    assert latest["trackingStatus"] == 6
    assert isinstance(latest["logisticsTrackEvents"], str)
    events = json.loads(latest["logisticsTrackEvents"])
    assert [e["status"] for e in events] == [6, 1]
    assert all(set(e) == TRACK_EVENT_KEYS for e in events)
    assert events[0]["thirdLocation"] == "LOS ANGELES,CA 90001"
    assert CJ_DATE.match(events[0]["eventTime"])


async def test_delivery_scan_marks_order_delivered_with_complete_date(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1003", line_items=ITEMS)
    sim.ship(order.supplier_order_id)
    sim.advance(timedelta(days=9))
    sim.mark_delivered(order.supplier_order_id)

    await sim.deliver()

    last_order_message = _of_type(receiver.requests, "ORDER")[-1]["params"]
    assert last_order_message["orderStatus"] == "DELIVERED"
    assert last_order_message["completeDate"] == "2026-01-24 16:00:00"
    assert _of_type(receiver.requests, "LOGISTIC")[-1]["params"]["trackingStatus"] == 12


async def test_split_sends_documented_ordersplit_message(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1004", line_items=ITEMS)
    children = sim.split(
        order.supplier_order_id,
        parts=[
            [
                LineItem(
                    quantity=2,
                    sku="CJ-MUG-RED",
                    variant_id="V-100",
                    product_id="CJMUG01",
                )
            ],
            [
                LineItem(
                    quantity=1,
                    sku="CJ-CAP-BLU",
                    variant_id="V-200",
                    product_id="CJCAP02",
                )
            ],
        ],
    )

    await sim.deliver()

    [split] = _of_type(receiver.requests, "ORDERSPLIT")
    assert set(split) == ENVELOPE_KEYS
    params = split["params"]
    assert set(params) == {"originalOrderId", "orderSplitTime", "splitOrderList"}
    assert params["originalOrderId"] == order.supplier_order_id
    assert CJ_DATE.match(params["orderSplitTime"])
    listed = params["splitOrderList"]
    assert [e["orderCode"] for e in listed] == [c.supplier_order_id for c in children]
    for entry in listed:
        assert set(entry) == {"orderCode", "createAt", "orderStatus", "productList"}
        for product in entry["productList"]:
            assert set(product) == {"productCode", "vid", "quantity", "sku"}
    assert listed[0]["productList"] == [
        {"productCode": "CJMUG01", "vid": "V-100", "quantity": 2, "sku": "CJ-MUG-RED"}
    ]


async def test_split_children_ship_with_their_own_tracking_numbers(
    sim: SupplierSimulator,
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1005", line_items=ITEMS)
    first, second = sim.split(order.supplier_order_id, parts=[[ITEMS[0]], [ITEMS[1]]])

    [a] = sim.ship(first.supplier_order_id)
    [b] = sim.ship(second.supplier_order_id)

    assert a.tracking_number != b.tracking_number
    logistic_orders = [m.json()["params"]["orderId"] for m in sim.messages(topic="LOGISTIC")]
    assert logistic_orders == [first.supplier_order_id, second.supplier_order_id]


async def test_cj_order_ships_as_one_package_only(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1006", line_items=ITEMS)

    with pytest.raises(InvalidTransitionError):
        sim.ship(
            order.supplier_order_id,
            packages=[
                ShipmentSpec(line_items=(ITEMS[0],)),
                ShipmentSpec(line_items=(ITEMS[1],)),
            ],
        )


async def test_answer_without_cj_success_body_counts_as_failure(
    sim: SupplierSimulator,
) -> None:
    receiver = RecordingReceiver(respond=lambda _r: JSONResponse({"ok": True}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app)) as c:
        sim.place_order(Supplier.CJ, merchant_reference="#1007", line_items=ITEMS)

        report = await sim.deliver(client=c)

    assert [a.accepted for a in report.attempts] == [False]
    assert report.pending == 1


async def test_failed_delivery_retries_three_times_five_minutes_apart(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    sim.set_knobs(Supplier.CJ, pause_failure_ratio=None)
    receiver.fail_next(10)
    sim.place_order(Supplier.CJ, merchant_reference="#1008", line_items=ITEMS)

    first = await sim.deliver()
    too_early = await sim.deliver()
    attempts = [first.attempts[0].attempt]
    for _ in range(3):
        sim.advance(timedelta(minutes=5))
        report = await sim.deliver()
        attempts.extend(a.attempt for a in report.attempts)

    assert too_early.attempts == ()
    assert attempts == [1, 2, 3, 4]
    assert len(report.abandoned) == 1
    assert report.pending == 0


async def test_half_failed_deliveries_pause_cj_until_webhook_is_set_again(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    receiver.fail_next(2)
    for n in range(4):
        sim.place_order(Supplier.CJ, merchant_reference=f"#20{n}", line_items=ITEMS)

    paused = await sim.deliver()
    sim.place_order(Supplier.CJ, merchant_reference="#299", line_items=ITEMS)
    sim.advance(timedelta(minutes=5))
    while_paused = await sim.deliver()

    assert paused.failed == 2
    assert paused.paused == (Supplier.CJ,)
    assert while_paused.attempts == ()
    assert while_paused.pending == 3

    app = create_app(sim)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cj.test"
    ) as api:
        answer = await api.post(
            "/api2.0/v1/webhook/set",
            headers={"CJ-Access-Token": "cj-test-token"},
            json={"order": {"type": "ENABLE", "callbackUrls": [CALLBACK]}},
        )
    resumed = await sim.deliver()

    assert answer.json()["result"] is True
    assert resumed.accepted == 3
    assert resumed.paused == ()


def test_newer_fields_knob_adds_store_order_numbers_and_provider() -> None:
    sim = SupplierSimulator(seed=7, clock=ManualClock())
    sim.settings.cj_newer_fields = True
    order = sim.place_order(Supplier.CJ, merchant_reference="#3001", line_items=ITEMS)
    [package] = sim.ship(order.supplier_order_id)

    [logistic] = sim.messages(topic="LOGISTIC")
    order_update = sim.messages(topic="ORDER")[-1]

    params = logistic.json()["params"]
    assert params["storeOrderNumbers"] == ["#3001"]
    assert params["trackingProvider"] == package.carrier
    assert order_update.json()["params"]["trackingProvider"] == package.carrier
