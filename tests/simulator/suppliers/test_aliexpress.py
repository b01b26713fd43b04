"""AliExpress: signed /sync gateway, order detail and tracking, message-53 push."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from simulator.suppliers import (
    CjTrackingStatus,
    LineItem,
    ManualClock,
    ShipmentSpec,
    Supplier,
    SupplierSimulator,
    create_app,
)
from simulator.suppliers.receiver import RecordingReceiver

APP_KEY = "500001"
APP_SECRET = "ae-test-secret"
SESSION = "ae-test-session"
PUSH_URL = "http://dropsync.test/webhooks/suppliers/ae-main?token=t0k"
MUG = LineItem(quantity=2, sku="AE-MUG", variant_id="14:350853", product_id="1005001")
CAP = LineItem(quantity=1, sku="AE-CAP", variant_id="14:691", product_id="1005002")


def reference_sign(params: dict[str, str], secret: str) -> str:
    """The platform's documented scheme, written independently of the simulator."""
    joined = "".join(key + params[key] for key in sorted(params))
    mac = hmac.new(secret.encode("utf-8"), joined.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest().upper()


def signed(method: str, **business: str) -> dict[str, str]:
    params = {
        "method": method,
        "app_key": APP_KEY,
        "session": SESSION,
        "timestamp": "1768464000000",
        "sign_method": "sha256",
        **business,
    }
    params["sign"] = reference_sign(params, APP_SECRET)
    return params


@pytest.fixture
async def receiver() -> RecordingReceiver:
    return RecordingReceiver()


@pytest.fixture
async def sim(receiver: RecordingReceiver) -> AsyncIterator[SupplierSimulator]:
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport) as client:
        simulator = SupplierSimulator(seed=11, clock=ManualClock(), http_client=client)
        simulator.set_webhook_url(Supplier.ALIEXPRESS, PUSH_URL)
        yield simulator


@pytest.fixture
async def gateway(sim: SupplierSimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(
        transport=transport, base_url="https://api-sg.aliexpress.test"
    ) as client:
        yield client


def order_get(order_id: str, **extra: str) -> dict[str, str]:
    return signed(
        "aliexpress.trade.ds.order.get",
        single_order_query=json.dumps({"order_id": int(order_id)}),
        **extra,
    )


async def test_gateway_accepts_correct_signature_and_lists_logistics_after_shipping(
    sim: SupplierSimulator, gateway: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#1001", line_items=(MUG, CAP))
    first, second = sim.ship(
        order.supplier_order_id,
        packages=[ShipmentSpec(line_items=(MUG,)), ShipmentSpec(line_items=(CAP,))],
    )

    answer = await gateway.post("/sync", data=order_get(order.supplier_order_id))

    body = answer.json()["aliexpress_trade_ds_order_get_response"]
    result = body["result"]
    assert body["rsp_code"] == "200"
    assert result["order_status"] == "WAIT_BUYER_ACCEPT_GOODS"
    assert result["logistics_status"] == "SELLER_SEND_GOODS"
    assert result["logistics_info_list"]["aeop_order_logistics_info"] == [
        {
            "logistics_no": first.tracking_number,
            "logistics_service": "CAINIAO_STANDARD",
        },
        {
            "logistics_no": second.tracking_number,
            "logistics_service": "CAINIAO_STANDARD",
        },
    ]
    children = result["child_order_list"]["aeop_child_order_info"]
    assert [c["product_count"] for c in children] == [2, 1]


async def test_gateway_accepts_parameters_in_query_string(
    sim: SupplierSimulator, gateway: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#1", line_items=(MUG,))

    answer = await gateway.get("/sync", params=order_get(order.supplier_order_id))

    assert "aliexpress_trade_ds_order_get_response" in answer.json()


async def test_gateway_rejects_wrong_signature_with_error_envelope(
    sim: SupplierSimulator, gateway: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#2", line_items=(MUG,))
    wrong_secret = order_get(order.supplier_order_id)
    wrong_secret["sign"] = reference_sign(
        {k: v for k, v in wrong_secret.items() if k != "sign"}, "not-the-secret"
    )
    tampered = order_get(order.supplier_order_id)
    tampered["single_order_query"] = json.dumps({"order_id": 42})

    for params in (wrong_secret, tampered):
        answer = await gateway.post("/sync", data=params)

        error = answer.json()["error_response"]
        assert error["code"] == "IncompleteSignature"
        assert error["request_id"]
        assert "aliexpress_trade_ds_order_get_response" not in answer.json()


async def test_gateway_rejects_unknown_session(gateway: httpx.AsyncClient) -> None:
    params = signed("aliexpress.ds.order.tracking.get", ae_order_id="1")
    params["session"] = "stolen"
    params["sign"] = reference_sign({k: v for k, v in params.items() if k != "sign"}, APP_SECRET)

    answer = await gateway.post("/sync", data=params)

    assert answer.json()["error_response"]["code"] == "IllegalAccessToken"


async def test_order_get_for_foreign_order_answers_insufficient_permission(
    gateway: httpx.AsyncClient,
) -> None:
    answer = await gateway.post("/sync", data=order_get("3999999999999999"))

    assert answer.json()["error_response"]["sub_code"] == "isv.insufficient-permission"


async def test_single_element_lists_arrive_as_objects_unless_simplified(
    sim: SupplierSimulator, gateway: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#3", line_items=(MUG,))
    [package] = sim.ship(order.supplier_order_id)

    raw = await gateway.post("/sync", data=order_get(order.supplier_order_id))
    simple = await gateway.post("/sync", data=order_get(order.supplier_order_id, simplify="true"))

    raw_result = raw.json()["aliexpress_trade_ds_order_get_response"]["result"]
    simple_result = simple.json()["aliexpress_trade_ds_order_get_response"]["result"]
    assert raw_result["logistics_info_list"] == {
        "aeop_order_logistics_info": {
            "logistics_no": package.tracking_number,
            "logistics_service": "CAINIAO_STANDARD",
        }
    }
    assert simple_result["logistics_info_list"] == [
        {
            "logistics_no": package.tracking_number,
            "logistics_service": "CAINIAO_STANDARD",
        }
    ]


async def test_tracking_get_is_not_found_before_shipping_and_has_nodes_after(
    sim: SupplierSimulator, gateway: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#4", line_items=(MUG,))
    params = signed("aliexpress.ds.order.tracking.get", ae_order_id=order.supplier_order_id)

    before = await gateway.post("/sync", data=params)
    [package] = sim.ship(order.supplier_order_id)
    sim.add_tracking_event(order.supplier_order_id, status=CjTrackingStatus.FIRST_LEG)
    after = await gateway.post("/sync", data=params)

    assert before.json()["aliexpress_ds_order_tracking_get_response"]["result"] == {
        "ret": False,
        "msg": "TRACKING DATA NOT FOUND",
        "code": "1001",
    }
    result = after.json()["aliexpress_ds_order_tracking_get_response"]["result"]
    assert result["ret"] is True
    line = result["data"]["tracking_detail_line_list"]["tracking_detail"]
    assert line["mail_no"] == package.tracking_number
    assert line["carrier_name"] == "AliExpress Selection Standard"
    nodes = line["detail_node_list"]["detail_node"]
    assert [n["tracking_detail_desc"] for n in nodes] == [
        "First-leg transport",
        "Parcel left the warehouse",
    ]
    assert isinstance(nodes[0]["time_stamp"], int)


async def test_push_is_message_53_naming_only_order_and_status(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#5", line_items=(MUG,))
    [package] = sim.ship(order.supplier_order_id)
    sim.mark_delivered(order.supplier_order_id)

    await sim.deliver()

    bodies: list[dict[str, Any]] = receiver.bodies()
    assert [b["data"]["orderStatus"] for b in bodies] == [
        "OrderCreated",
        "OrderShipped",
        "OrderConfirmed",
    ]
    for body in bodies:
        assert set(body) == {"data", "message_type", "seller_id", "site", "timestamp"}
        assert set(body["data"]) == {"buyerId", "orderId", "orderStatus"}
        assert body["message_type"] == 53
        assert body["data"]["orderId"] == int(order.supplier_order_id)
    assert all(package.tracking_number not in r.body.decode() for r in receiver.requests)
    assert receiver.requests[0].query == "token=t0k"


async def test_second_package_and_relabel_send_no_push(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#6", line_items=(MUG, CAP))
    sim.ship(order.supplier_order_id, packages=[ShipmentSpec(line_items=(MUG,))])
    sim.ship(order.supplier_order_id, packages=[ShipmentSpec(line_items=(CAP,))])
    sim.change_tracking_number(order.supplier_order_id)

    statuses = [m.json()["data"]["orderStatus"] for m in sim.messages()]

    assert statuses == ["OrderCreated", "OrderShipped"]
