"""The `/_sim/` control endpoints, background delivery and the standalone CLI."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from shopsim_helpers import SHOP, WebhookReceiver

from simulator.__main__ import main
from simulator.shopify import ShopifySimulator, WebhookKnobs


async def test_control_endpoints_drive_a_shop_end_to_end() -> None:
    sim = ShopifySimulator(seed=5, routing_delay=0)
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        created = await http.post("/_sim/shops", json={"domain": SHOP, "access_token": "shpat_x"})
        assert created.status_code == 201
        assert created.json()["access_token"] == "shpat_x"
        order = (
            await http.post(
                f"/_sim/shops/{SHOP}/orders",
                json={"line_items": [{"sku": "A", "quantity": 1}]},
            )
        ).json()
        detail = (await http.get(f"/_sim/shops/{SHOP}/orders/{order['id']}")).json()
        fo_id = detail["fulfillment_orders"][0]["id"]
        acted = await http.post(
            f"/_sim/shops/{SHOP}/actions",
            json={
                "action": "fulfil",
                "fulfillment_order_id": fo_id,
                "tracking_number": "T1",
            },
        )
        assert acted.status_code == 200
        refused = await http.post(
            f"/_sim/shops/{SHOP}/actions",
            json={"action": "fulfil", "fulfillment_order_id": fo_id},
        )
        assert refused.status_code == 422
        listed = (await http.get(f"/_sim/shops/{SHOP}/fulfillments")).json()
        assert listed["count_by_tracking"] == {"T1": 1}
        await http.post("/_sim/faults", json={"queue": {"kind": "server_error"}})
        api = await http.post(
            f"/shops/{SHOP}/admin/api/2026-10/graphql.json",
            json={"query": "{ shop { id } }"},
            headers={"X-Shopify-Access-Token": "shpat_x"},
        )
        assert api.status_code >= 500
        stats = (await http.get("/_sim/stats")).json()
        assert stats["calls"] == {"fault:server_error": 1}
        assert stats["shops"][SHOP]["fulfillments"] == 1
    await sim.aclose()


async def _delivered_order_names(*, reorder: bool) -> list[str]:
    receiver = WebhookReceiver()
    hooks = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()))
    sim = ShopifySimulator(seed=9, http_client=hooks, routing_delay=0)
    sim.add_shop(SHOP)
    sim.set_default_webhook_url("https://app.example.com/hooks")
    sim.set_webhook_knobs(WebhookKnobs(reorder=reorder), domain=SHOP)
    for _ in range(8):
        sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}], financial_status="pending")
    await sim.deliver_webhooks()
    await sim.aclose()
    await hooks.aclose()
    names = []
    for headers, body in receiver.received:
        if headers["x-shopify-topic"] == "orders/create":
            names.append(json.loads(body)["name"])
    return names


async def test_reorder_knob_shuffles_a_flush_reproducibly() -> None:
    in_order = await _delivered_order_names(reorder=False)
    shuffled = await _delivered_order_names(reorder=True)
    assert in_order == [f"#{n}" for n in range(1001, 1009)]
    assert sorted(shuffled) == in_order
    assert shuffled != in_order
    assert shuffled == await _delivered_order_names(reorder=True)


async def test_background_delivery_sends_without_explicit_flush(
    sim: ShopifySimulator, receiver: WebhookReceiver
) -> None:
    sim.add_shop(SHOP)
    sim.set_default_webhook_url("https://app.example.com/hooks")
    sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    sim.start_background_delivery(interval=0.001)
    for _ in range(200):
        if len(receiver.received) >= 2:
            break
        await asyncio.sleep(0.001)
    await sim.stop_background_delivery()
    assert [h["x-shopify-topic"] for h, _ in receiver.received] == [
        "orders/create",
        "orders/paid",
    ]


def test_cli_has_a_shopify_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["shopify", "--help"])
    assert exit_info.value.code == 0
    assert "--port" in capsys.readouterr().out
