"""A generic supplier and CJ, as their simulator sends them, end on one Shopify fulfilment.

Everything crosses the real edge: the Shopify simulator delivers its order webhooks into
dropsync's app, the generic account is created through ``POST /supplier-accounts`` and its
secret given to the supplier simulator, whose signed deliveries go to
``POST /webhooks/suppliers/{account_id}``. The apply and push job functions then run as the
worker would, and the fulfilment is read back from the Shopify simulator.
"""

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from clients.rate_limit import CostLimiter
from clients.shopify import RetryPolicy, ShopifyClient
from core.generic_events import parse_generic_event
from service.app import create_app
from service.connect import register_and_connect
from service.runtime import Runtime
from service.shops import AppKind, ShopRegistration
from simulator.shopify import ShopifySimulator
from simulator.suppliers import (
    CjTrackingStatus,
    LineItem,
    ShipmentSpec,
    Supplier,
    SupplierOrder,
    SupplierSimulator,
)
from tests.conftest import make_token
from tests.supplier_helpers import standard_headers
from workers.jobs.apply_shopify import run_apply_shopify
from workers.jobs.apply_supplier import run_apply_supplier
from workers.jobs.classify import run_classify
from workers.jobs.push import PushDeps, run_push_shop
from workers.jobs.shop_sync import SyncDeps, run_connect_shop

DOMAIN = "generic-e2e.myshopify.com"
EDGE = "https://dropsync.test"


@dataclass
class World:
    pool: asyncpg.Pool
    runtime: Runtime
    edge: httpx.AsyncClient
    shopify: ShopifySimulator
    suppliers: SupplierSimulator
    client: ShopifyClient
    shop_id: int

    def push_deps(self) -> PushDeps:
        return PushDeps(
            pool=self.pool, shopify=self.client, secrets=self.runtime.secrets, rng=random.Random(1)
        )

    async def create_account(self, kind: str) -> dict[str, Any]:
        token = await make_token(self.pool, is_admin=True, can_write=True)
        created = await self.edge.post(
            "/supplier-accounts",
            json={"kind": kind, "name": f"{kind} e2e", "shop_ids": [self.shop_id]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        account: dict[str, Any] = created.json()
        return account

    async def deliver_and_apply(self, account_id: int) -> None:
        report = await self.suppliers.deliver(include_delayed=True)
        assert report.failed == 0
        await run_apply_supplier(self.pool, account_id=account_id)

    async def push(self) -> None:
        for _ in range(3):
            await run_push_shop(self.push_deps(), shop_id=self.shop_id)

    async def supplier_deliveries(self, account_id: int) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT status, error FROM supplier_delivery WHERE account_id = $1", account_id
        )


@pytest.fixture
async def world(pool: asyncpg.Pool, runtime: Runtime) -> AsyncIterator[World]:
    app = create_app(runtime)
    async with LifespanManager(app):
        edge = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=EDGE)
        shopify = ShopifySimulator(seed=21, routing_delay=0, http_client=edge)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=shopify.app), timeout=10.0)
        client = ShopifyClient(
            http=http,
            retry=RetryPolicy(max_attempts=6, base_seconds=0.005, cap_seconds=0.05),
            limiter=CostLimiter(),
        )
        credentials = shopify.add_shop(DOMAIN)
        async with pool.acquire() as connection:
            shop = await register_and_connect(
                connection,
                runtime.secrets,
                http,
                runtime.settings,
                ShopRegistration(
                    domain=DOMAIN,
                    kind=AppKind.LEGACY,
                    client_secret=credentials.client_secret,
                    access_token=credentials.access_token,
                ),
            )
        sync = SyncDeps(
            pool=pool, shopify=client, http=http, secrets=runtime.secrets, settings=runtime.settings
        )
        # Connecting subscribes dropsync to the shop's webhooks through the Admin API.
        assert (await run_connect_shop(sync, shop_id=shop.shop_id)).error is None
        suppliers = SupplierSimulator(seed=22, http_client=edge)
        yield World(
            pool=pool,
            runtime=runtime,
            edge=edge,
            shopify=shopify,
            suppliers=suppliers,
            client=client,
            shop_id=shop.shop_id,
        )
        await http.aclose()
        await shopify.aclose()
        await edge.aclose()


async def _stored_shopify_order(world: World) -> dict[str, Any]:
    """An order created in Shopify and stored by dropsync from its orders/create webhook."""
    created = world.shopify.create_order(
        DOMAIN,
        line_items=[{"sku": "MUG-RED", "quantity": 2}, {"sku": "CAP-BLU", "quantity": 1}],
        routing_delay=0,
    )
    await world.shopify.deliver_webhooks(include_future=True)
    await run_apply_shopify(world.pool, shop_id=world.shop_id)
    order_id = _number(created["id"])
    stored = await world.pool.fetchval(
        "SELECT name FROM shopify_order WHERE shop_id = $1 AND order_id = $2",
        world.shop_id,
        order_id,
    )
    assert stored == created["name"]
    return created


def _number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


def _lines(created: dict[str, Any]) -> list[tuple[int, int]]:
    return sorted((_number(item["id"]), item["quantity"]) for item in created["line_items"])


def _fulfilled_lines(fulfillment: dict[str, Any]) -> list[tuple[int, int]]:
    return sorted(
        (_number(item["line_item_id"]), item["quantity"]) for item in fulfillment["line_items"]
    )


def _place_generic(world: World, created: dict[str, Any], *, reference: str) -> SupplierOrder:
    if reference == "order_name":
        return world.suppliers.place_order(
            Supplier.GENERIC,
            merchant_reference=created["name"],
            order_name=created["name"],
            line_items=[
                LineItem(quantity=item["quantity"], sku=item["sku"])
                for item in created["line_items"]
            ],
        )
    return world.suppliers.place_order(
        Supplier.GENERIC,
        merchant_reference=created["name"],
        shopify_order_id=str(_number(created["id"])),
        line_items=[
            LineItem(quantity=item["quantity"], shopify_line_item_id=str(_number(item["id"])))
            for item in created["line_items"]
        ],
    )


@pytest.mark.parametrize("reference", ["order_name", "shopify_order_id"])
async def test_generic_shipment_from_the_simulator_is_fulfilled_once(
    world: World, reference: str
) -> None:
    created = await _stored_shopify_order(world)
    order_id = _number(created["id"])
    account = await world.create_account("generic")
    account_id = account["account_id"]
    # The operator hands the secret shown once to the supplier.
    world.suppliers.settings.generic_secrets = list(account["webhook_secrets"])
    world.suppliers.set_webhook_url(Supplier.GENERIC, f"{EDGE}/webhooks/suppliers/{account_id}")

    placed = _place_generic(world, created, reference=reference)
    [package] = world.suppliers.ship(placed.supplier_order_id)
    await world.deliver_and_apply(account_id)
    await world.push()

    [fulfillment] = world.shopify.fulfillments(DOMAIN, order_id)
    assert [(t["number"], t["company"]) for t in fulfillment["tracking"]] == [
        (package.tracking_number, "UPS")
    ]
    assert _fulfilled_lines(fulfillment) == _lines(created)
    deliveries = await world.supplier_deliveries(account_id)
    assert [(row["status"], row["error"]) for row in deliveries] == [("applied", None)] * 2

    # A scan, then the shipped event again: once as a retry (same webhook-id), once re-sent.
    world.suppliers.add_tracking_event(
        placed.supplier_order_id, status=CjTrackingStatus.OUT_FOR_DELIVERY, location="Denver, CO"
    )
    await world.deliver_and_apply(account_id)
    [shipped] = world.suppliers.messages(supplier=Supplier.GENERIC, topic="order.shipped")
    [secret] = account["webhook_secrets"]
    for msg_id in (shipped.message_id, None):
        resent = await world.edge.post(
            f"/webhooks/suppliers/{account_id}",
            content=shipped.body,
            headers=standard_headers(shipped.body, secret, msg_id=msg_id),
        )
        assert resent.is_success, resent.text
    await run_apply_supplier(world.pool, account_id=account_id)
    await world.push()

    assert world.shopify.fulfillments(DOMAIN, order_id) == [fulfillment]
    assert world.shopify.fulfillment_count_by_tracking(DOMAIN) == {package.tracking_number: 1}
    deliveries = await world.supplier_deliveries(account_id)
    assert len(deliveries) == 4
    assert all(row["error"] is None for row in deliveries)
    assert {row["status"] for row in deliveries} <= {"applied", "ignored"}


async def test_cj_shipment_from_the_simulators_webhooks_is_fulfilled_once(world: World) -> None:
    created = await _stored_shopify_order(world)
    order_id = _number(created["id"])
    account = await world.create_account("cj")
    account_id = account["account_id"]
    token = account["webhook_token"]
    for topic in ("order", "logistics"):
        world.suppliers.set_webhook_url(
            Supplier.CJ, f"{EDGE}/webhooks/suppliers/{account_id}?token={token}", topic=topic
        )

    placed = world.suppliers.place_order(
        Supplier.CJ,
        merchant_reference=created["name"],
        line_items=[
            LineItem(quantity=item["quantity"], sku=item["sku"]) for item in created["line_items"]
        ],
    )
    [package] = world.suppliers.ship(placed.supplier_order_id)
    await world.deliver_and_apply(account_id)
    await world.push()

    [fulfillment] = world.shopify.fulfillments(DOMAIN, order_id)
    # dropsync maps CJ's "CJPacket Ordinary" onto Shopify's carrier name.
    assert [(t["number"], t["company"]) for t in fulfillment["tracking"]] == [
        (package.tracking_number, "CJPacket")
    ]
    assert _fulfilled_lines(fulfillment) == _lines(created)
    world.suppliers.add_tracking_event(
        placed.supplier_order_id, status=CjTrackingStatus.DELIVERED, location="Denver, CO"
    )
    await world.deliver_and_apply(account_id)
    await world.push()
    assert world.shopify.fulfillment_count_by_tracking(DOMAIN) == {package.tracking_number: 1}
    deliveries = await world.supplier_deliveries(account_id)
    assert deliveries
    assert all(row["status"] != "failed" for row in deliveries)


def test_every_generic_event_the_simulator_sends_parses_in_dropsync() -> None:
    sim = SupplierSimulator(seed=23)
    shirt = LineItem(quantity=2, sku="TS-BLK-M", shopify_line_item_id="13300000001")
    socks = LineItem(quantity=1, variant_id="gid://shopify/ProductVariant/44000000002")
    shipped = sim.place_order(
        Supplier.GENERIC,
        merchant_reference="#2001",
        shopify_order_id="gid://shopify/Order/5550000002",
        line_items=(shirt, socks),
    )
    sim.ship(
        shipped.supplier_order_id,
        packages=[ShipmentSpec(line_items=(shirt,)), ShipmentSpec(line_items=(socks,))],
    )
    sim.add_tracking_event(shipped.supplier_order_id, status=CjTrackingStatus.DELIVERED)
    sim.change_tracking_number(shipped.supplier_order_id)
    split = sim.place_order(Supplier.GENERIC, merchant_reference="#2002", line_items=(shirt, socks))
    sim.split(split.supplier_order_id, parts=[[shirt], [socks]])
    cancelled = sim.place_order(Supplier.GENERIC, merchant_reference="#2003", line_items=(socks,))
    sim.cancel(cancelled.supplier_order_id, reason="out of stock")

    parsed = [
        parse_generic_event(message.body, msg_id=message.message_id)
        for message in sim.messages(supplier=Supplier.GENERIC)
    ]

    assert [event.kind.value for event in parsed] == [
        message.topic for message in sim.messages(supplier=Supplier.GENERIC)
    ]
    assert {event.kind.value for event in parsed} == {
        "order.placed",
        "order.shipped",
        "tracking.updated",
        "order.split",
        "order.cancelled",
    }
    assert parsed[0].shopify_reference == "gid://shopify/Order/5550000002"
    assert parsed[-1].shopify_reference == "#2003"
    assert parsed[-1].reason == "out of stock"


async def test_cj_relabel_after_the_push_updates_the_one_fulfilments_tracking(
    world: World,
) -> None:
    created = await _stored_shopify_order(world)
    order_id = _number(created["id"])
    account = await world.create_account("cj")
    account_id = account["account_id"]
    token = account["webhook_token"]
    for topic in ("order", "logistics"):
        world.suppliers.set_webhook_url(
            Supplier.CJ, f"{EDGE}/webhooks/suppliers/{account_id}?token={token}", topic=topic
        )
    placed = world.suppliers.place_order(
        Supplier.CJ,
        merchant_reference=created["name"],
        line_items=[
            LineItem(quantity=item["quantity"], sku=item["sku"]) for item in created["line_items"]
        ],
    )
    [package] = world.suppliers.ship(placed.supplier_order_id)
    old_number = package.tracking_number
    await world.deliver_and_apply(account_id)
    await world.push()
    [before] = world.shopify.fulfillments(DOMAIN, order_id)

    relabelled = world.suppliers.change_tracking_number(placed.supplier_order_id)
    await world.deliver_and_apply(account_id)
    await world.push()

    [after] = world.shopify.fulfillments(DOMAIN, order_id)
    assert after["id"] == before["id"]
    assert [t["number"] for t in after["tracking"]] == [relabelled.tracking_number]
    assert relabelled.tracking_number != old_number
    assert world.shopify.fulfillment_count_by_tracking(DOMAIN) == {relabelled.tracking_number: 1}
    current = await world.pool.fetch(
        "SELECT tracking_number FROM package WHERE shop_id = $1 AND superseded_at IS NULL",
        world.shop_id,
    )
    assert [row["tracking_number"] for row in current] == [relabelled.tracking_number]
    # Well past every grace period, the report sees nothing to fix on this order.
    later = datetime.now(UTC) + timedelta(days=3)
    assert await run_classify(world.pool, world.runtime.settings, full=True, now=later)
    classes = await world.pool.fetch(
        "SELECT class FROM mismatch WHERE shop_id = $1 AND order_id = $2 AND resolved_at IS NULL",
        world.shop_id,
        order_id,
    )
    assert not {row["class"] for row in classes} & {
        "shipped_not_synced",
        "tracking_mismatch",
        "duplicate_fulfilment",
        "partially_synced",
    }


async def test_generic_relabel_after_the_push_updates_the_one_fulfilments_tracking(
    world: World,
) -> None:
    created = await _stored_shopify_order(world)
    order_id = _number(created["id"])
    account = await world.create_account("generic")
    account_id = account["account_id"]
    world.suppliers.settings.generic_secrets = list(account["webhook_secrets"])
    world.suppliers.set_webhook_url(Supplier.GENERIC, f"{EDGE}/webhooks/suppliers/{account_id}")
    placed = _place_generic(world, created, reference="shopify_order_id")
    world.suppliers.ship(placed.supplier_order_id)
    await world.deliver_and_apply(account_id)
    await world.push()
    [before] = world.shopify.fulfillments(DOMAIN, order_id)

    relabelled = world.suppliers.change_tracking_number(placed.supplier_order_id)
    await world.deliver_and_apply(account_id)
    await world.push()

    [after] = world.shopify.fulfillments(DOMAIN, order_id)
    assert after["id"] == before["id"]
    assert [t["number"] for t in after["tracking"]] == [relabelled.tracking_number]
    assert world.shopify.fulfillment_count_by_tracking(DOMAIN) == {relabelled.tracking_number: 1}
