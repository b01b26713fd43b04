"""The ASGI app: CJ API, fault injection, rate limits and the /_sim control API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from simulator.suppliers import (
    CjTrackingStatus,
    FaultKnobs,
    LineItem,
    ManualClock,
    Supplier,
    SupplierSimulator,
    create_app,
)
from simulator.suppliers.__main__ import build_parser, build_simulator
from simulator.suppliers.receiver import RecordingReceiver

TOKEN = {"CJ-Access-Token": "cj-test-token"}
ITEMS = (
    LineItem(quantity=2, sku="CJ-MUG-RED", variant_id="V-100"),
    LineItem(quantity=1, sku="CJ-CAP-BLU", variant_id="V-200"),
)


@pytest.fixture
def sim() -> SupplierSimulator:
    return SupplierSimulator(seed=21, clock=ManualClock())


@pytest.fixture
async def api(sim: SupplierSimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as c:
        yield c


async def test_cj_order_detail_has_tracking_only_after_shipping(
    sim: SupplierSimulator, api: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1001", line_items=ITEMS)
    path = "/api2.0/v1/shopping/order/getOrderDetail"

    before = await api.get(path, params={"orderId": order.supplier_order_id}, headers=TOKEN)
    [package] = sim.ship(order.supplier_order_id)
    by_id = await api.get(path, params={"orderId": order.supplier_order_id}, headers=TOKEN)
    by_number = await api.get(path, params={"orderNumber": "#1001"}, headers=TOKEN)

    assert before.json()["data"]["trackNumber"] is None
    assert before.json()["data"]["orderStatus"] == "UNSHIPPED"
    body = by_id.json()
    assert set(body) == {"code", "result", "message", "data", "requestId"}
    assert (body["code"], body["result"]) == (200, True)
    assert body["data"]["trackNumber"] == package.tracking_number
    assert body["data"]["logisticName"] == "CJPacket Ordinary"
    assert body["data"]["orderStatus"] == "SHIPPED"
    assert body["data"]["orderNum"] == "#1001"
    assert by_number.json()["data"]["orderId"] == order.supplier_order_id


async def test_cj_api_refuses_missing_access_token(
    sim: SupplierSimulator, api: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1002", line_items=ITEMS)

    answer = await api.get(
        "/api2.0/v1/shopping/order/getOrderDetail",
        params={"orderId": order.supplier_order_id},
    )

    assert answer.json()["result"] is False
    assert answer.json()["code"] == 1600001
    assert answer.json()["data"] is None


async def test_cj_access_token_from_api_key_is_accepted(
    sim: SupplierSimulator, api: httpx.AsyncClient
) -> None:
    issued = await api.post(
        "/api2.0/v1/authentication/getAccessToken", json={"apiKey": "cj-test-api-key"}
    )
    token = issued.json()["data"]["accessToken"]

    answer = await api.get("/api2.0/v1/shopping/order/list", headers={"CJ-Access-Token": token})

    assert answer.json()["data"]["total"] == 0


async def test_cj_track_info_reports_latest_status(
    sim: SupplierSimulator, api: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#1003", line_items=ITEMS)
    [package] = sim.ship(order.supplier_order_id)
    sim.mark_delivered(order.supplier_order_id)

    answer = await api.get(
        "/api2.0/v1/logistic/trackInfo",
        params={"trackNumber": package.tracking_number},
        headers=TOKEN,
    )

    [info] = answer.json()["data"]
    assert info["trackingNumber"] == package.tracking_number
    assert info["trackingStatus"] == "Delivered"


async def test_cj_webhook_set_accepts_one_url_per_topic_only(
    sim: SupplierSimulator, api: httpx.AsyncClient
) -> None:
    url = "https://dropsync.example/webhooks/suppliers/cj?token=1"
    two = {"order": {"type": "ENABLE", "callbackUrls": [url, url + "2"]}}
    one = {
        "order": {"type": "ENABLE", "callbackUrls": [url]},
        "logistics": {"type": "ENABLE", "callbackUrls": [url]},
    }

    refused = await api.post("/api2.0/v1/webhook/set", json=two, headers=TOKEN)
    accepted = await api.post("/api2.0/v1/webhook/set", json=one, headers=TOKEN)

    assert refused.json()["result"] is False
    assert accepted.json()["data"] is True
    assert sim.webhook_url(Supplier.CJ, "logistics") == url


async def test_error_rate_one_answers_every_api_call_with_5xx(
    sim: SupplierSimulator,
) -> None:
    app = create_app(sim, faults=FaultKnobs(error_rate=1.0, error_status=502))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
    ) as api:
        cj_answer = await api.get("/api2.0/v1/shopping/order/list", headers=TOKEN)
        ae_answer = await api.post("/sync", data={"method": "x"})
        control = await api.get("/_sim/stats")

    assert cj_answer.status_code == ae_answer.status_code == 502
    assert control.status_code == 200
    assert control.json()["api"]["errors"] == 2


async def test_rate_limit_answers_each_platform_in_its_own_shape(
    sim: SupplierSimulator,
) -> None:
    app = create_app(sim, faults=FaultKnobs(rate_limit_per_second=1))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
    ) as api:
        first = await api.get("/api2.0/v1/shopping/order/list", headers=TOKEN)
        second = await api.get("/api2.0/v1/shopping/order/list", headers=TOKEN)
        await api.post("/sync", data={})
        limited = await api.post("/sync", data={})
        sim.advance(timedelta(seconds=1))
        next_second = await api.get("/api2.0/v1/shopping/order/list", headers=TOKEN)

    assert first.json()["code"] == 200
    assert second.status_code == 429
    assert second.json()["code"] == 1600200
    assert limited.json()["error_response"]["code"] == "ApiCallLimit"
    assert next_second.json()["code"] == 200


async def test_control_api_drives_an_order_and_flushes_its_webhooks(
    sim: SupplierSimulator,
) -> None:
    receiver = RecordingReceiver()
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app)) as hooks,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(sim)),
            base_url="http://sim.test",
        ) as api,
    ):
        sim.http_client = hooks
        await api.put(
            "/_sim/webhooks",
            json={"supplier": "generic", "url": "http://dropsync.test/hook?t=1"},
        )
        await api.put("/_sim/knobs", json={"delivery": {"generic": {"delay_seconds": 60}}})
        created = await api.post(
            "/_sim/orders",
            json={
                "supplier": "generic",
                "merchant_reference": "#1001",
                "shopify_order_id": "5550000001",
                "line_items": [{"quantity": 1, "sku": "TS-1"}],
            },
        )
        order_id = created.json()["supplier_order_id"]
        await api.post(f"/_sim/orders/{order_id}/ship", json={})
        await api.post(
            f"/_sim/orders/{order_id}/tracking-events",
            json={"status": int(CjTrackingStatus.OUT_FOR_DELIVERY)},
        )
        too_early = await api.post("/_sim/flush", json={})
        await api.post("/_sim/clock/advance", json={"seconds": 60})
        flushed = await api.post("/_sim/flush", json={})
        cancel_shipped = await api.post(f"/_sim/orders/{order_id}/cancel", json={})
        missing = await api.get("/_sim/orders/nope")
        stats = await api.get("/_sim/stats")

    assert created.status_code == 201
    assert too_early.json()["attempts"] == []
    assert len(flushed.json()["attempts"]) == 3
    assert [b["type"] for b in receiver.bodies()] == [
        "order.placed",
        "order.shipped",
        "tracking.updated",
    ]
    assert cancel_shipped.status_code == 409
    assert missing.status_code == 404
    assert stats.json()["orders_by_status"] == {"in_transit": 1}


async def test_timeout_fault_hangs_then_answers_504(sim: SupplierSimulator) -> None:
    app = create_app(sim, faults=FaultKnobs(timeout_rate=1.0, timeout_seconds=0.01))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
    ) as api:
        answer = await api.get("/api2.0/v1/shopping/order/list", headers=TOKEN)

    assert answer.status_code == 504


def test_command_line_wires_urls_credentials_and_manual_clock() -> None:
    args = build_parser().parse_args(
        [
            "--manual-clock",
            "--cj-webhook-url",
            "http://dropsync.test/webhooks/suppliers/cj?token=a",
            "--generic-webhook-url",
            "http://dropsync.test/webhooks/suppliers/g?token=b",
            "--generic-secret",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "--cj-access-token",
            "tok-1",
        ]
    )

    sim = build_simulator(args)

    assert isinstance(sim.clock, ManualClock)
    assert sim.webhook_url(Supplier.CJ, "logistics") == (
        "http://dropsync.test/webhooks/suppliers/cj?token=a"
    )
    assert sim.webhook_url(Supplier.GENERIC, "events") == (
        "http://dropsync.test/webhooks/suppliers/g?token=b"
    )
    assert sim.settings.generic_secrets == ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
    assert sim.settings.cj_access_tokens == {"tok-1"}


async def test_control_api_schedules_a_shipment_and_its_journey(
    sim: SupplierSimulator, api: httpx.AsyncClient
) -> None:
    created = await api.post(
        "/_sim/orders",
        json={
            "supplier": "aliexpress",
            "merchant_reference": "#77",
            "line_items": [{"quantity": 1, "sku": "AE-1", "product_id": "1005001"}],
        },
    )
    order_id = created.json()["supplier_order_id"]

    planned = await api.post(
        f"/_sim/orders/{order_id}/schedule-ship",
        json={"after_seconds": 3600, "journey_step_seconds": 3600},
    )
    await api.post("/_sim/clock/advance", json={"seconds": 3600 * 10})
    order = await api.get(f"/_sim/orders/{order_id}")
    stats = await api.get("/_sim/stats")

    assert planned.json()["ships_at"] == "2026-01-15T09:00:00+00:00"
    assert order.json()["status"] == "delivered"
    assert len(order.json()["packages"][0]["events"]) == 8
    assert stats.json()["scheduled"] == 0
