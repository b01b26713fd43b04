"""Injected failures: 5xx, 429 with Retry-After, slow answers, hangs, lost answers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from shopsim_helpers import (
    API_PATH,
    FULFILLMENT_CREATE,
    SHOP,
    AdminClient,
)

from simulator.shopify import FaultKind, FaultPlan, ManualClock, ShopifySimulator

SHOP_QUERY = {"query": "{ shop { id } }"}


async def test_queued_server_error_answers_5xx_once(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    sim.queue_fault(FaultKind.SERVER_ERROR, domain=SHOP)
    failed = await admin.post(SHOP_QUERY)
    assert failed.status_code in {500, 502, 503}
    assert (await admin.post(SHOP_QUERY)).status_code == 200
    assert sim.calls[0].outcome == "fault:server_error"


async def test_rate_limited_answers_429_with_retry_after(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    sim.set_faults(FaultPlan(retry_after_seconds=3.0))
    sim.queue_fault("rate_limited")
    response = await admin.post(SHOP_QUERY)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3.0"


async def test_slow_answer_sleeps_then_succeeds(
    sim: ShopifySimulator, admin: AdminClient, clock: ManualClock
) -> None:
    sim.set_faults(FaultPlan(slow_seconds=2.5))
    sim.queue_fault(FaultKind.SLOW)
    before = clock()
    response = await admin.post(SHOP_QUERY)
    assert response.status_code == 200
    assert clock() - before == 2.5


async def test_timeout_hangs_past_the_client_timeout_without_applying(
    creds: object,
) -> None:
    sim = ShopifySimulator(seed=3)  # real asyncio.sleep: the client must give up
    sim.add_shop(SHOP, access_token="shpat_test")
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    fo_id = sim.route_orders()[0]
    sim.set_faults(FaultPlan(hang_seconds=30))
    sim.queue_fault(FaultKind.TIMEOUT, domain=SHOP)
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url=f"https://{SHOP}") as http:
        request = http.post(
            API_PATH,
            json={
                "query": FULFILLMENT_CREATE,
                "variables": {
                    "fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id}]}
                },
            },
            headers={"X-Shopify-Access-Token": "shpat_test"},
        )
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(request, timeout=0.05)
    assert sim.fulfillments(SHOP, order["id"]) == []


async def test_apply_then_timeout_applies_the_mutation_but_answers_504(
    sim: ShopifySimulator, admin: AdminClient, clock: ManualClock
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    fo_id = sim.route_orders()[0]
    sim.set_faults(FaultPlan(hang_seconds=10))
    sim.queue_fault(FaultKind.APPLY_THEN_TIMEOUT)
    before = clock()
    response = await admin.post(
        {
            "query": FULFILLMENT_CREATE,
            "variables": {
                "fulfillment": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id}]}
            },
        }
    )
    assert response.status_code == 504
    assert clock() - before == 10
    assert len(sim.fulfillments(SHOP, order["id"])) == 1
    assert sim.calls[-1].outcome == "fault:apply_then_timeout:ok"


def _fault_sequence(seed: int) -> list[str]:
    sim = ShopifySimulator(seed=seed)
    sim.set_faults(FaultPlan(server_error_rate=0.3, rate_limit_rate=0.2))
    return [sim.faults.draw(SHOP).value for _ in range(50)]


def test_fault_rates_are_reproducible_per_seed() -> None:
    first = _fault_sequence(11)
    assert first == _fault_sequence(11)
    assert first != _fault_sequence(12)
    assert {"server_error", "rate_limited", "none"} == set(first)


async def test_faults_for_one_shop_spare_the_others(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    sim.add_shop("other.myshopify.com")
    sim.set_faults(FaultPlan(server_error_rate=1.0), domain="other.myshopify.com")
    assert (await admin.post(SHOP_QUERY)).status_code == 200
    assert sim.faults.draw("other.myshopify.com") is FaultKind.SERVER_ERROR
