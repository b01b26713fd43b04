"""Fixtures for the Shopify simulator tests: clock, simulator, shop, API client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from shopsim_helpers import SHOP, AdminClient, WebhookReceiver

from simulator.shopify import ManualClock, ShopCredentials, ShopifySimulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def receiver() -> WebhookReceiver:
    return WebhookReceiver()


@pytest.fixture
async def sim(clock: ManualClock, receiver: WebhookReceiver) -> AsyncIterator[ShopifySimulator]:
    hooks = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app()))
    simulator = ShopifySimulator(
        seed=7,
        clock=clock,
        sleep=clock.sleep,
        http_client=hooks,
        epoch=datetime(2026, 1, 1, tzinfo=UTC),
    )
    yield simulator
    await simulator.aclose()
    await hooks.aclose()


@pytest.fixture
def creds(sim: ShopifySimulator) -> ShopCredentials:
    return sim.add_shop(SHOP, access_token="shpat_test", client_secret="shpss_secret")


@pytest.fixture
async def admin(sim: ShopifySimulator, creds: ShopCredentials) -> AsyncIterator[AdminClient]:
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url=f"https://{SHOP}") as http:
        yield AdminClient(http, creds.access_token)
