"""Public-app installs: the signed install request, the state nonce and the callback."""

import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from schema.queries.shops import get_shop_by_domain
from schema.queries.sync_state import get_shop_sync_state
from service.app import create_app
from service.oauth_query import query_signature, verify_oauth_query
from service.runtime import Runtime
from tests.fake_token_endpoint import FakeTokenEndpoint

SHOP = "acme.myshopify.com"


@pytest.fixture
def endpoint() -> FakeTokenEndpoint:
    return FakeTokenEndpoint()


def _public_runtime(runtime: Runtime, **changes: object) -> Runtime:
    settings = runtime.settings.model_copy(
        update={
            "shopify_app_client_id": "client-id",
            "shopify_app_client_secret": SecretStr("client-secret"),
            **changes,
        }
    )
    return dataclasses.replace(runtime, settings=settings)


@pytest.fixture
async def oauth_client(
    runtime: Runtime, pool: asyncpg.Pool, endpoint: FakeTokenEndpoint
) -> AsyncIterator[httpx.AsyncClient]:
    del pool
    application = create_app(_public_runtime(runtime), http_transport=endpoint.transport())
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://dropsync.test") as c:
            yield c


def signed(params: dict[str, str], *, secret: str = "client-secret") -> str:  # noqa: S107
    params = {"timestamp": str(int(time.time())), **params}
    pairs = sorted(params.items())
    return urlencode([*pairs, ("hmac", query_signature(pairs, secret=secret))])


async def _install(client: httpx.AsyncClient) -> str:
    response = await client.get(f"/shopify/install?{signed({'shop': SHOP})}")
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["location"]).query)["state"][0]


def test_query_signature_matches_shopify_documented_example() -> None:
    # The example from Shopify's authorization code grant page.
    pairs = [
        ("code", "0907a61c0c8d55e99db179b68161bc00"),
        ("shop", "some-shop.myshopify.com"),
        ("state", "0.6784241404160823"),
        ("timestamp", "1337178173"),
    ]
    assert (
        query_signature(pairs, secret="hush")
        == "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
    )


def test_verify_oauth_query_refuses_stale_timestamp() -> None:
    pairs = [("shop", SHOP), ("timestamp", str(int(time.time()) - 600))]
    pairs.append(("hmac", query_signature(pairs, secret="s")))
    problem = verify_oauth_query(
        pairs, secrets=["s"], now=datetime.now(UTC), tolerance=timedelta(seconds=90)
    )
    assert problem is not None
    assert "tolerance" in problem


async def test_install_redirects_to_authorize_with_scopes_and_state(
    oauth_client: httpx.AsyncClient,
) -> None:
    response = await oauth_client.get(f"/shopify/install?{signed({'shop': SHOP})}")
    assert response.status_code == 302
    target = urlsplit(response.headers["location"])
    assert target.netloc == SHOP
    assert target.path == "/admin/oauth/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == ["client-id"]
    assert query["scope"] == [
        "read_orders,write_merchant_managed_fulfillment_orders,write_third_party_fulfillment_orders"
    ]
    assert query["redirect_uri"] == ["https://dropsync.test/shopify/callback"]
    assert len(query["state"][0]) >= 24
    assert "grant_options[]" not in query  # offline token


async def test_install_asks_for_read_all_orders_when_backfill_exceeds_60_days(
    runtime: Runtime, pool: asyncpg.Pool
) -> None:
    application = create_app(_public_runtime(runtime, backfill_days=365))
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(f"/shopify/install?{signed({'shop': SHOP})}")
    scope = parse_qs(urlsplit(response.headers["location"]).query)["scope"][0]
    assert "read_all_orders" in scope.split(",")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        (signed({"shop": "acme.example.com"}), 400, "invalid_shop"),
        (signed({"shop": SHOP}, secret="wrong"), 401, "invalid_hmac"),
        (urlencode({"shop": SHOP, "timestamp": "1"}), 401, "invalid_hmac"),
        (signed({"shop": SHOP, "timestamp": "1000"}), 401, "invalid_hmac"),
    ],
)
async def test_install_refuses_bad_requests(
    oauth_client: httpx.AsyncClient, query: str, status: int, code: str
) -> None:
    response = await oauth_client.get(f"/shopify/install?{query}")
    assert response.status_code == status
    assert response.json()["error"] == code


async def test_install_without_public_app_settings_answers_503(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/shopify/install?{signed({'shop': SHOP})}")
    assert response.status_code == 503
    assert response.json()["error"] == "public_app_not_configured"


async def test_callback_stores_encrypted_expiring_token_and_queues_backfill(
    oauth_client: httpx.AsyncClient,
    endpoint: FakeTokenEndpoint,
    pool: asyncpg.Pool,
    runtime: Runtime,
) -> None:
    state = await _install(oauth_client)
    endpoint.codes.add("the-code")
    response = await oauth_client.get(
        f"/shopify/callback?{signed({'shop': SHOP, 'code': 'the-code', 'state': state})}"
    )
    assert response.status_code == 200, response.text
    assert endpoint.requests[-1]["expiring"] == "1"
    async with pool.acquire() as connection:
        shop = await get_shop_by_domain(connection, SHOP)
        assert shop is not None
        sync = await get_shop_sync_state(connection, shop.shop_id)
    assert shop.status == "active"
    assert shop.access_token_enc is not None
    assert runtime.secrets.decrypt(shop.access_token_enc) == endpoint.issued[-1]
    assert shop.refresh_token_enc is not None
    assert shop.token_expires_at is not None
    assert "push_shipped_since" in shop.settings
    assert sync is not None
    assert sync.backfill_status == "pending"


async def test_callback_refuses_a_state_used_twice(
    oauth_client: httpx.AsyncClient, endpoint: FakeTokenEndpoint
) -> None:
    state = await _install(oauth_client)
    endpoint.codes.update({"one", "two"})
    first = await oauth_client.get(
        f"/shopify/callback?{signed({'shop': SHOP, 'code': 'one', 'state': state})}"
    )
    second = await oauth_client.get(
        f"/shopify/callback?{signed({'shop': SHOP, 'code': 'two', 'state': state})}"
    )
    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_state"


async def test_callback_refuses_a_state_issued_for_another_shop(
    oauth_client: httpx.AsyncClient, endpoint: FakeTokenEndpoint, pool: asyncpg.Pool
) -> None:
    state = await _install(oauth_client)
    endpoint.codes.add("c")
    other = "other.myshopify.com"
    response = await oauth_client.get(
        f"/shopify/callback?{signed({'shop': other, 'code': 'c', 'state': state})}"
    )
    assert response.status_code == 400
    async with pool.acquire() as connection:
        assert await get_shop_by_domain(connection, other) is None


async def test_callback_with_forged_hmac_stores_nothing(
    oauth_client: httpx.AsyncClient, endpoint: FakeTokenEndpoint, pool: asyncpg.Pool
) -> None:
    state = await _install(oauth_client)
    endpoint.codes.add("c")
    query = signed({"shop": SHOP, "code": "c", "state": state}, secret="forged")
    response = await oauth_client.get(f"/shopify/callback?{query}")
    assert response.status_code == 401
    async with pool.acquire() as connection:
        assert await get_shop_by_domain(connection, SHOP) is None


async def test_callback_with_fewer_scopes_marks_shop_needs_attention(
    oauth_client: httpx.AsyncClient, endpoint: FakeTokenEndpoint, pool: asyncpg.Pool
) -> None:
    state = await _install(oauth_client)
    endpoint.codes.add("c")
    endpoint.scope = "read_orders"
    response = await oauth_client.get(
        f"/shopify/callback?{signed({'shop': SHOP, 'code': 'c', 'state': state})}"
    )
    assert response.status_code == 200
    async with pool.acquire() as connection:
        shop = await get_shop_by_domain(connection, SHOP)
    assert shop is not None
    assert shop.status == "needs_attention"
    assert shop.attention_reason is not None
    assert "write_merchant_managed_fulfillment_orders" in shop.attention_reason
