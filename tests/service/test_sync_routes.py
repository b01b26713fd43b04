"""Registering custom-app shops through the API, the sync status and the cut-over date."""

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from schema.queries.shops import get_shop_by_domain
from service.app import create_app
from service.runtime import Runtime
from tests.conftest import make_token
from tests.fake_token_endpoint import FakeTokenEndpoint


@pytest.fixture
def endpoint() -> FakeTokenEndpoint:
    return FakeTokenEndpoint()


@pytest.fixture
async def api(
    runtime: Runtime, pool: asyncpg.Pool, endpoint: FakeTokenEndpoint
) -> AsyncIterator[httpx.AsyncClient]:
    del pool
    application = create_app(runtime, http_transport=endpoint.transport())
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://dropsync.test") as c:
            yield c


CUSTOM = {
    "domain": "custom.myshopify.com",
    "kind": "custom",
    "client_id": "client-id",
    "client_secret": "client-secret",
}


async def test_custom_app_registration_obtains_a_token_and_queues_backfill(
    api: httpx.AsyncClient, admin_headers: dict[str, str], endpoint: FakeTokenEndpoint
) -> None:
    response = await api.post("/shops", json=CUSTOM, headers=admin_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["has_access_token"] is True
    assert body["token_expires_at"] is not None
    assert endpoint.requests[-1]["grant_type"] == "client_credentials"
    sync = await api.get(f"/shops/{body['shop_id']}/sync", headers=admin_headers)
    assert sync.status_code == 200
    assert sync.json()["backfill"]["status"] == "pending"
    assert sync.json()["push_shipped_since"] is not None


async def test_custom_app_with_wrong_secret_is_refused_and_not_stored(
    api: httpx.AsyncClient, admin_headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    response = await api.post(
        "/shops", json={**CUSTOM, "client_secret": "wrong"}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.json()["error"] == "credentials_rejected"
    async with pool.acquire() as connection:
        assert await get_shop_by_domain(connection, CUSTOM["domain"]) is None


async def test_legacy_registration_keeps_the_static_token(
    api: httpx.AsyncClient, admin_headers: dict[str, str], endpoint: FakeTokenEndpoint
) -> None:
    legacy = {
        "domain": "legacy.myshopify.com",
        "kind": "legacy",
        "client_secret": "s",
        "access_token": "shpat_static",
    }
    response = await api.post("/shops", json=legacy, headers=admin_headers)
    assert response.status_code == 201
    assert response.json()["token_expires_at"] is None
    assert endpoint.requests == []


async def test_cutover_opt_in_sets_the_date(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await api.post("/shops", json=CUSTOM, headers=admin_headers)
    shop_id = created.json()["shop_id"]
    response = await api.put(
        f"/shops/{shop_id}/cutover",
        json={"push_shipped_since": "2026-01-01T00:00:00+01:00"},
        headers=admin_headers,
    )
    assert response.status_code == 200
    assert response.json()["push_shipped_since"] == "2025-12-31T23:00:00Z"


async def test_cutover_needs_a_time_zone(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = await api.post("/shops", json=CUSTOM, headers=admin_headers)
    response = await api.put(
        f"/shops/{created.json()['shop_id']}/cutover",
        json={"push_shipped_since": "2026-01-01T00:00:00"},
        headers=admin_headers,
    )
    assert response.status_code == 422


async def test_sync_status_is_hidden_outside_the_token_scope(
    api: httpx.AsyncClient, admin_headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    created = await api.post("/shops", json=CUSTOM, headers=admin_headers)
    shop_id = created.json()["shop_id"]
    other = await make_token(pool, shop_ids=[shop_id + 1])
    response = await api.get(f"/shops/{shop_id}/sync", headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 404


async def test_backfill_request_restarts_progress(
    api: httpx.AsyncClient, admin_headers: dict[str, str], pool: asyncpg.Pool
) -> None:
    created = await api.post("/shops", json=CUSTOM, headers=admin_headers)
    shop_id = created.json()["shop_id"]
    async with pool.acquire() as connection:
        await connection.execute(
            "UPDATE shop_sync_state SET backfill_status = 'done', backfill_orders = 7"
            " WHERE shop_id = $1",
            shop_id,
        )
    response = await api.post(
        f"/shops/{shop_id}/sync/backfill", json={"days": 90}, headers=admin_headers
    )
    assert response.status_code == 202
    assert response.json()["backfill"]["status"] == "pending"
    assert response.json()["backfill"]["orders_read"] == 0
