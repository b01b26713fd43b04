"""A public-app install end to end against the Shopify simulator: install, authorize, callback,
subscribe, then an expired token renewed with its refresh token."""

import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from clients.rate_limit import CostLimiter
from clients.shopify import RetryPolicy, ShopifyClient
from clients.shopify_sync import SYNC_TOPICS
from schema.queries.shops import get_shop_by_domain
from service.app import create_app
from service.oauth_query import query_signature
from service.runtime import Runtime
from simulator.shopify import ShopifySimulator
from workers.jobs.shop_sync import SyncDeps, run_connect_shop, run_poll_shop

DOMAIN = "oauth-sim.myshopify.com"


@pytest.fixture
async def sim() -> AsyncIterator[ShopifySimulator]:
    simulator = ShopifySimulator(seed=21, routing_delay=0)
    simulator.add_shop(DOMAIN, client_id="public-id", client_secret="public-secret")
    yield simulator
    await simulator.aclose()


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=2)


async def test_public_app_install_connects_subscribes_and_renews_through_the_simulator(
    runtime: Runtime, pool: asyncpg.Pool, sim: ShopifySimulator
) -> None:
    settings = runtime.settings.model_copy(
        update={
            "shopify_app_client_id": "public-id",
            "shopify_app_client_secret": SecretStr("public-secret"),
        }
    )
    public = dataclasses.replace(runtime, settings=settings)
    to_shopify = httpx.ASGITransport(app=sim.app)
    app = create_app(public, http_transport=to_shopify)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://dropsync.test"
        ) as dropsync,
        httpx.AsyncClient(transport=to_shopify) as shopify_http,
    ):
        # 1. Shopify sends the merchant to the App URL with a signed query.
        pairs = sorted({"shop": DOMAIN, "timestamp": str(int(time.time()))}.items())
        query = urlencode([*pairs, ("hmac", query_signature(pairs, secret="public-secret"))])
        install = await dropsync.get(f"/shopify/install?{query}")
        assert install.status_code == 302
        # 2. The merchant approves on Shopify's authorize page, which redirects back.
        authorize = await shopify_http.get(install.headers["location"])
        assert authorize.status_code in {302, 303}
        callback = urlsplit(authorize.headers["location"])
        assert callback.path == "/shopify/callback"
        # 3. The callback exchanges the code for an expiring offline token.
        done = await dropsync.get(f"/shopify/callback?{callback.query}")
        assert done.status_code == 200, done.text
    async with pool.acquire() as connection:
        shop = await get_shop_by_domain(connection, DOMAIN)
    assert shop is not None
    assert shop.status == "active"
    assert shop.token_expires_at is not None
    assert shop.refresh_token_enc is not None
    assert sim.oauth.requests[-1].scope.split(",") == [
        "read_orders",
        "write_merchant_managed_fulfillment_orders",
        "write_third_party_fulfillment_orders",
    ]

    async with httpx.AsyncClient(transport=to_shopify) as http:
        sync = SyncDeps(
            pool=pool,
            shopify=ShopifyClient(
                http=http,
                retry=RetryPolicy(max_attempts=3, base_seconds=0.005, cap_seconds=0.05),
                limiter=CostLimiter(),
            ),
            http=http,
            secrets=runtime.secrets,
            settings=settings,
            clock=_later,
        )
        # 4. The connect job subscribes with the new token.
        connected = await run_connect_shop(sync, shop_id=shop.shop_id)
        assert connected.error is None
        assert sorted(s["topic"] for s in sim.subscriptions(DOMAIN)) == sorted(SYNC_TOPICS)
        # 5. Shopify expires the token early: the poll renews it with the refresh token.
        sim.expire_token(DOMAIN)
        sim.create_order(DOMAIN, line_items=[{"sku": "A", "quantity": 1}], routing_delay=0)
        polled = await run_poll_shop(sync, shop_id=shop.shop_id)
    assert polled.error is None
    assert polled.orders == 1
    async with pool.acquire() as connection:
        renewed = await get_shop_by_domain(connection, DOMAIN)
    assert renewed is not None
    assert renewed.access_token_enc != shop.access_token_enc
    assert renewed.status == "active"
