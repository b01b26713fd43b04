"""Convergence: lossy webhooks plus one poll cycle end with both sides equal.

The Shopify simulator drops 30 % of its webhooks and duplicates and reorders others, over a
few hundred orders; some are cancelled, some were already fulfilled by another app, and the
suppliers ship split parcels (AliExpress), single parcels (CJ), cancel, or have not shipped
yet. The supplier simulator drops 30 % of its webhooks too (and duplicates and reorders
others); the supplier orders themselves are seeded as placed, linked to their Shopify orders,
as ingest stores them once an order-placed message is matched.

After the webhooks that did arrive are applied, one poll cycle runs (shop poll, order
re-reads, supplier polls, pushes). Then the stored Shopify state matches the simulator's
truth for every order, and every shipped package has exactly one fulfilment in Shopify.
"""

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager

from clients.rate_limit import CostLimiter
from clients.shopify import RetryPolicy, ShopifyClient
from service.app import create_app
from service.connect import register_and_connect
from service.runtime import Runtime
from service.settings import Settings
from service.shops import AppKind, ShopRegistration
from service.suppliers import hash_webhook_token
from simulator.shopify import ShopifySimulator, WebhookKnobs
from simulator.suppliers import LineItem, ShipmentSpec, Supplier, SupplierSimulator
from simulator.suppliers import create_app as create_supplier_app
from workers.jobs.apply_shopify import run_apply_shopify
from workers.jobs.apply_supplier import run_apply_supplier
from workers.jobs.push import PushDeps, run_push_shop
from workers.jobs.refresh import RefreshDeps, run_refresh_orders
from workers.jobs.shop_sync import SyncDeps, run_connect_shop, run_poll_shop
from workers.jobs.supplier_sync import SupplierSyncDeps, run_poll_supplier

DOMAIN = "converge.myshopify.com"
ORDERS = 240
AE_SECRETS = {"app_key": "500001", "app_secret": "ae-test-secret", "session": "ae-test-session"}


@dataclass
class World:
    shopify: ShopifySimulator
    suppliers: SupplierSimulator
    client: ShopifyClient
    http: httpx.AsyncClient
    shop_id: int
    accounts: dict[str, int] = field(default_factory=dict)


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=2)


@pytest.fixture
async def world(pool: asyncpg.Pool, runtime: Runtime) -> AsyncIterator[World]:
    app = create_app(runtime)
    async with LifespanManager(app):
        hooks = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=10.0)
        shopify = ShopifySimulator(seed=11, routing_delay=0, http_client=hooks)
        suppliers = SupplierSimulator(seed=12, http_client=hooks)
        supplier_app = create_supplier_app(suppliers)

        async def route(request: httpx.Request) -> httpx.Response:
            # One outbound client, as in production: suppliers by host, Shopify otherwise.
            target = supplier_app if request.url.host == "suppliers.test" else shopify.app
            transport = httpx.ASGITransport(app=target)
            return await transport.handle_async_request(request)

        class Router(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                return await route(request)

        http = httpx.AsyncClient(transport=Router(), timeout=10.0)
        client = ShopifyClient(
            http=http,
            retry=RetryPolicy(max_attempts=6, base_seconds=0.005, cap_seconds=0.05),
            limiter=CostLimiter(),
        )
        credentials = shopify.add_shop(DOMAIN, plan="enterprise")
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
        made = World(
            shopify=shopify, suppliers=suppliers, client=client, http=http, shop_id=shop.shop_id
        )
        async with pool.acquire() as connection:
            for kind, secrets in (
                ("cj", {"access_token": "cj-test-token"}),
                ("aliexpress", AE_SECRETS),
            ):
                account_id = await connection.fetchval(
                    """
                    INSERT INTO supplier_account (kind, name, secrets_enc, default_shop_id,
                                                  webhook_token_hash)
                    VALUES ($1, $1, $2, $3, $4) RETURNING account_id
                    """,
                    kind,
                    runtime.secrets.encrypt(orjson.dumps(secrets).decode()),
                    shop.shop_id,
                    hash_webhook_token(f"token-{kind}"),
                )
                await connection.execute(
                    "INSERT INTO supplier_account_shop (shop_id, account_id) VALUES ($1, $2)",
                    shop.shop_id,
                    account_id,
                )
                made.accounts[kind] = account_id
                supplier = Supplier.CJ if kind == "cj" else Supplier.ALIEXPRESS
                suppliers.set_webhook_url(
                    supplier,
                    f"https://dropsync.test/webhooks/suppliers/{account_id}?token=token-{kind}",
                )
                suppliers.set_knobs(supplier, drop_rate=0.3, duplicate_rate=0.2, reorder=True)
        yield made
        await http.aclose()
        await shopify.aclose()
        await hooks.aclose()


def _settings(runtime: Runtime) -> Settings:
    return runtime.settings.model_copy(
        update={
            "cj_api_url": "https://suppliers.test/api2.0/v1",
            "aliexpress_api_url": "https://suppliers.test/sync",
        }
    )


async def _deliver_and_apply(world: World, pool: asyncpg.Pool) -> None:
    await world.shopify.deliver_webhooks(include_future=True)
    await world.suppliers.deliver(include_delayed=True)
    await run_apply_shopify(pool, shop_id=world.shop_id)
    for account_id in world.accounts.values():
        await run_apply_supplier(pool, account_id=account_id)


async def _seed_supplier_order(
    pool: asyncpg.Pool,
    world: World,
    *,
    kind: str,
    external_id: str,
    order_id: int,
    lines: list[dict[str, object]],
) -> None:
    await pool.execute(
        """
        INSERT INTO supplier_order (shop_id, account_id, external_id, external_id_norm,
                                    shopify_order_id, status, lines, updated_at)
        VALUES ($1, $2, $3::text, upper($3::text), $4, 'placed', $5, now())
        """,
        world.shop_id,
        world.accounts[kind],
        external_id,
        order_id,
        lines,
    )


@dataclass
class History:
    shipped: set[str] = field(default_factory=set)  # each must end on exactly one fulfilment
    not_pushed: set[str] = field(default_factory=set)  # shipped for orders cancelled in Shopify
    cancelled: set[int] = field(default_factory=set)  # Shopify orders cancelled


async def _ship(world: World, supplier: Supplier, external_id: str, skus: list[str]) -> set[str]:
    if supplier is Supplier.ALIEXPRESS and len(skus) == 2:
        specs = [ShipmentSpec(line_items=(LineItem(quantity=1, sku=sku),)) for sku in skus]
        packages = world.suppliers.ship(external_id, packages=specs)
    else:
        packages = world.suppliers.ship(external_id)
    return {package.tracking_number for package in packages}


async def _build_history(world: World, pool: asyncpg.Pool, rng: random.Random) -> History:
    """Orders in Shopify, their supplier orders, and what happened to each."""
    history = History()
    for index in range(ORDERS):
        skus = [f"SKU-{index}-A"] + ([f"SKU-{index}-B"] if index % 2 else [])
        created = world.shopify.create_order(
            DOMAIN, line_items=[{"sku": sku, "quantity": 1} for sku in skus], routing_delay=0
        )
        order_id = int(created["id"].rsplit("/", 1)[-1])
        if rng.random() < 0.1:
            world.shopify.cancel_order(DOMAIN, order_id)
            history.cancelled.add(order_id)
        kind = "aliexpress" if index % 2 else "cj"
        supplier = Supplier.ALIEXPRESS if kind == "aliexpress" else Supplier.CJ
        placed = world.suppliers.place_order(
            supplier,
            merchant_reference=created["name"],
            line_items=[LineItem(quantity=1, sku=sku) for sku in skus],
        )
        await _seed_supplier_order(
            pool,
            world,
            kind=kind,
            external_id=placed.supplier_order_id,
            order_id=order_id,
            lines=[{"sku": sku, "quantity": 1} for sku in skus],
        )
        fate = rng.random()
        if fate < 0.1:
            continue
        if fate < 0.15:
            world.suppliers.cancel(placed.supplier_order_id)
            continue
        numbers = await _ship(world, supplier, placed.supplier_order_id, skus)
        if order_id in history.cancelled:
            history.not_pushed |= numbers
            continue
        history.shipped |= numbers
        if fate > 0.95 and len(numbers) == 1:
            # Another app already pushed this parcel: dropsync must adopt, not duplicate.
            world.shopify.create_fulfillment(
                DOMAIN,
                fulfillment_order_id=created["fulfillment_order_ids"][0],
                tracking_number=next(iter(numbers)),
                tracking_company="Other",
                created_by="another-app",
            )
    return history


async def test_lossy_webhooks_and_one_poll_cycle_converge(
    world: World, pool: asyncpg.Pool, runtime: Runtime
) -> None:
    settings = _settings(runtime)
    sync = SyncDeps(
        pool=pool,
        shopify=world.client,
        http=world.http,
        secrets=runtime.secrets,
        settings=runtime.settings,
        clock=_later,
    )
    # Connect: subscribe through the Admin API, then the (empty) backfill.
    connected = await run_connect_shop(sync, shop_id=world.shop_id)
    assert connected.error is None
    world.shopify.set_webhook_knobs(
        WebhookKnobs(drop_rate=0.3, duplicate_rate=0.2, reorder=True), domain=DOMAIN
    )

    history = await _build_history(world, pool, random.Random(5))
    shipped, not_pushed, cancelled_orders = history.shipped, history.not_pushed, history.cancelled

    # What the lossy webhooks carried: not enough on their own.
    await _deliver_and_apply(world, pool)
    outcomes = [record.outcome for record in world.shopify.webhook_log]
    assert outcomes.count("dropped") > ORDERS // 5
    supplier_stats = world.suppliers.stats()["delivery"]
    for kind in ("cj", "aliexpress"):
        assert supplier_stats[kind]["dropped"] > 0
        assert supplier_stats[kind]["accepted"] > 0
    before = await pool.fetchval(
        "SELECT count(*) FROM shopify_order WHERE shop_id = $1 AND stored_at IS NOT NULL"
        " AND name <> ''",
        world.shop_id,
    )
    assert before < ORDERS
    assert len(shipped) > ORDERS // 2

    # One poll cycle.
    polled = await run_poll_shop(sync, shop_id=world.shop_id)
    assert polled.error is None
    refresh = RefreshDeps(pool=pool, shopify=world.client, secrets=runtime.secrets)
    while (await run_refresh_orders(refresh, shop_id=world.shop_id)).more:
        pass
    supplier_deps = SupplierSyncDeps(
        pool=pool,
        http=world.http,
        secrets=runtime.secrets,
        settings=settings,
    )
    for account_id in world.accounts.values():
        assert (await run_poll_supplier(supplier_deps, account_id=account_id)).error is None
    push = PushDeps(pool=pool, shopify=world.client, secrets=runtime.secrets, rng=random.Random(1))
    for _ in range(10):
        if not (await run_push_shop(push, shop_id=world.shop_id)).orders:
            break
    await _deliver_and_apply(world, pool)

    # Every order as Shopify has it.
    stored = {
        row["order_id"]: row
        for row in await pool.fetch(
            "SELECT order_id, cancelled_at FROM shopify_order WHERE shop_id = $1", world.shop_id
        )
    }
    truth = world.shopify.shop(DOMAIN).orders
    assert set(stored) == set(truth)
    assert {oid for oid, row in stored.items() if row["cancelled_at"]} == cancelled_orders
    # Every shipped package has exactly one fulfilment; cancelled orders have none.
    counts = world.shopify.fulfillment_count_by_tracking(DOMAIN)
    assert {number: counts.get(number, 0) for number in shipped} == dict.fromkeys(shipped, 1)
    assert not any(counts.get(number) for number in not_pushed)
    # The supplier side as the suppliers have it: one row per supplier order, every parcel.
    assert await pool.fetchval("SELECT count(*) FROM supplier_order") == ORDERS
    stored_packages = {
        row["tracking_number"] for row in await pool.fetch("SELECT tracking_number FROM package")
    }
    assert stored_packages == shipped | not_pushed
    # And the stored fulfilments are Shopify's.
    stored_numbers = {
        number
        for row in await pool.fetch(
            "SELECT tracking_numbers FROM shopify_fulfillment"
            " WHERE shop_id = $1 AND lower(status) = 'success'",
            world.shop_id,
        )
        for number in row["tracking_numbers"]
    }
    assert stored_numbers == set(counts)
