"""Webhook subscriptions, signed deliveries, payload shapes and unreliability knobs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from shopsim_helpers import SHOP, AdminClient, WebhookReceiver

from simulator.shopify import ManualClock, ShopifySimulator, WebhookKnobs

SAMPLES = Path(__file__).with_name("samples")
HOOK_URL = "https://app.example.com/hooks"
SUBSCRIBE = """
mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id topic uri format apiVersion { handle } }
    userErrors { field message }
  }
}
"""


async def _subscribe(admin: AdminClient, topic: str, uri: str = HOOK_URL) -> dict[str, Any]:
    body = await admin.gql(SUBSCRIBE, topic=topic, sub={"uri": uri})
    payload: dict[str, Any] = body["data"]["webhookSubscriptionCreate"]
    return payload


def _sample_keys(name: str) -> list[str]:
    return list(json.loads((SAMPLES / name).read_text()).keys())


async def test_subscription_create_list_and_delete(admin: AdminClient) -> None:
    created = await _subscribe(admin, "ORDERS_CREATE")
    assert created["userErrors"] == []
    subscription = created["webhookSubscription"]
    assert subscription["topic"] == "ORDERS_CREATE"
    assert subscription["apiVersion"] == {"handle": "2026-10"}

    listed = await admin.gql(
        "{ webhookSubscriptions(first: 10, topics: [ORDERS_CREATE]) { nodes { id uri } } }"
    )
    assert listed["data"]["webhookSubscriptions"]["nodes"] == [
        {"id": subscription["id"], "uri": HOOK_URL}
    ]
    deleted = await admin.gql(
        "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { "
        "deletedWebhookSubscriptionId userErrors { message } } }",
        id=subscription["id"],
    )
    assert deleted["data"]["webhookSubscriptionDelete"] == {
        "deletedWebhookSubscriptionId": subscription["id"],
        "userErrors": [],
    }


async def test_subscription_rejects_duplicates_and_plain_http(
    admin: AdminClient,
) -> None:
    await _subscribe(admin, "ORDERS_CREATE")
    duplicate = await _subscribe(admin, "ORDERS_CREATE")
    assert duplicate["userErrors"] == [
        {
            "field": ["webhookSubscription", "uri"],
            "message": "Address for this topic has already been taken",
        }
    ]
    insecure = await _subscribe(admin, "ORDERS_UPDATED", "http://app.example.com/hooks")
    assert insecure["webhookSubscription"] is None


async def test_delivery_is_signed_with_the_client_secret(
    sim: ShopifySimulator, admin: AdminClient, receiver: WebhookReceiver
) -> None:
    await _subscribe(admin, "ORDERS_CREATE")
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    records = await sim.deliver_webhooks()
    assert [r.outcome for r in records] == ["delivered"]
    headers, body = receiver.received[0]
    expected = base64.b64encode(hmac.new(b"shpss_secret", body, hashlib.sha256).digest()).decode()
    assert headers["x-shopify-hmac-sha256"] == expected
    assert headers["x-shopify-topic"] == "orders/create"
    assert headers["x-shopify-shop-domain"] == SHOP
    assert headers["x-shopify-api-version"] == "2026-10"
    assert headers["x-shopify-webhook-id"]
    assert headers["x-shopify-event-id"]
    assert headers["x-shopify-triggered-at"].startswith("2026-01-01T00:00:00")
    payload = json.loads(body)
    assert payload["admin_graphql_api_id"] == order["id"]
    assert payload["id"] == order["legacy_id"]


async def test_order_and_fulfillment_payloads_have_the_documented_keys(
    sim: ShopifySimulator, admin: AdminClient, receiver: WebhookReceiver
) -> None:
    await _subscribe(admin, "ORDERS_CREATE")
    await _subscribe(admin, "FULFILLMENTS_CREATE")
    sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    fo_id = sim.route_orders()[0]
    sim.create_fulfillment(SHOP, fulfillment_order_id=fo_id, tracking_number="1Z1")
    await sim.deliver_webhooks()
    by_topic = {h["x-shopify-topic"]: json.loads(b) for h, b in receiver.received}
    order_keys = _sample_keys("shopify-orders-create.docs-2026-01.json")
    assert list(by_topic["orders/create"].keys()) == order_keys
    fulfillment_keys = _sample_keys("shopify-fulfillments-create.docs-2026-01.json")
    assert list(by_topic["fulfillments/create"].keys()) == fulfillment_keys
    assert by_topic["fulfillments/create"]["tracking_numbers"] == ["1Z1"]


async def test_state_changes_emit_the_shopify_topics(
    sim: ShopifySimulator, receiver: WebhookReceiver
) -> None:
    sim.add_shop(SHOP)
    sim.set_default_webhook_url(HOOK_URL)
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 2}])
    fo_id = sim.route_orders()[0]
    sim.hold_fulfillment_order(SHOP, fo_id)
    sim.release_fulfillment_order(SHOP, fo_id)
    sim.create_fulfillment(SHOP, fulfillment_order_id=fo_id, line_items=None)
    sim.cancel_order(SHOP, order["id"])
    await sim.deliver_webhooks()
    topics = [headers["x-shopify-topic"] for headers, _ in receiver.received]
    assert topics == [
        "orders/create",
        "orders/paid",
        "fulfillment_orders/order_routing_complete",
        "fulfillment_orders/placed_on_hold",
        "fulfillment_orders/hold_released",
        "fulfillments/create",
        "orders/updated",
        "orders/fulfilled",
        "orders/cancelled",
        "orders/updated",
    ]
    routing = json.loads(receiver.received[2][1])
    assert routing == {"fulfillment_order": {"id": fo_id, "status": "open"}}


async def test_drop_knob_loses_deliveries_reproducibly(
    sim: ShopifySimulator, receiver: WebhookReceiver
) -> None:
    sim.add_shop(SHOP)
    sim.set_default_webhook_url(HOOK_URL)
    sim.set_webhook_knobs(WebhookKnobs(drop_rate=0.5))
    for _ in range(40):
        sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}], financial_status="pending")
    await sim.deliver_webhooks()
    dropped = [r for r in sim.webhook_log if r.outcome == "dropped"]
    assert 5 < len(dropped) < 35
    assert len(receiver.received) == 40 - len(dropped)


async def test_duplicate_knob_repeats_the_same_webhook_id(
    sim: ShopifySimulator, receiver: WebhookReceiver
) -> None:
    sim.add_shop(SHOP)
    sim.set_default_webhook_url(HOOK_URL)
    sim.set_webhook_knobs(WebhookKnobs(duplicate_rate=1.0))
    sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}], financial_status="pending")
    await sim.deliver_webhooks()
    assert len(receiver.received) == 2
    first, second = (headers for headers, _ in receiver.received)
    assert first["x-shopify-webhook-id"] == second["x-shopify-webhook-id"]


async def test_delay_knob_holds_deliveries_until_due(
    sim: ShopifySimulator, receiver: WebhookReceiver, clock: ManualClock
) -> None:
    sim.add_shop(SHOP)
    sim.set_default_webhook_url(HOOK_URL)
    sim.set_webhook_knobs(WebhookKnobs(delay_seconds=30))
    sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}], financial_status="pending")
    assert await sim.deliver_webhooks() == []
    clock.advance(30)
    assert [r.topic for r in await sim.deliver_webhooks()] == ["orders/create"]


async def test_failing_endpoint_gets_retries_then_subscription_is_deleted(
    sim: ShopifySimulator,
    admin: AdminClient,
    receiver: WebhookReceiver,
    clock: ManualClock,
) -> None:
    receiver.status = 500
    sim.set_webhook_knobs(WebhookKnobs(failures_before_removal=3, retry_base_seconds=10))
    await _subscribe(admin, "ORDERS_CREATE")
    sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    for _ in range(3):
        await sim.deliver_webhooks(include_future=True)
        clock.advance(60)
    outcomes = [r.outcome for r in sim.webhook_log]
    assert outcomes == ["failed", "failed", "failed", "subscription_removed"]
    assert [r.attempt for r in sim.webhook_log[:3]] == [1, 2, 3]
    assert sim.subscriptions(SHOP) == []
    assert sim.pending_webhooks() == 0


@pytest.mark.parametrize("status", [200, 204])
async def test_success_resets_consecutive_failures(
    sim: ShopifySimulator, admin: AdminClient, receiver: WebhookReceiver, status: int
) -> None:
    await _subscribe(admin, "ORDERS_CREATE")
    receiver.status = 500
    sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    await sim.deliver_webhooks()
    assert sim.subscriptions(SHOP)[0]["consecutive_failures"] == 1
    receiver.status = status
    await sim.deliver_webhooks(include_future=True)
    assert sim.subscriptions(SHOP)[0]["consecutive_failures"] == 0


async def test_uninstall_sends_app_uninstalled_and_revokes_tokens(
    sim: ShopifySimulator, admin: AdminClient, receiver: WebhookReceiver
) -> None:
    await _subscribe(admin, "APP_UNINSTALLED")
    sim.uninstall_app(SHOP)
    await sim.deliver_webhooks()
    headers, body = receiver.received[0]
    assert headers["x-shopify-topic"] == "app/uninstalled"
    assert json.loads(body)["myshopify_domain"] == SHOP
    assert (await admin.post({"query": "{ shop { id } }"})).status_code == 401
