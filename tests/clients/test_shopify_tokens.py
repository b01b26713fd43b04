"""Tokens are renewed before they lapse; a refused renewal flags the shop for a person."""

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from clients.shopify_tokens import ShopTokenError, access_token_for
from schema.queries.shops import get_shop, insert_shop, upsert_app
from schema.secrets import SecretBox
from service.runtime import Runtime
from tests.fake_token_endpoint import FakeTokenEndpoint

TEMPLATE = "https://{shop}/admin/oauth/{endpoint}"
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


async def _shop(
    pool: asyncpg.Pool,
    secrets: SecretBox,
    *,
    kind: str,
    token: str | None = "shpat_old",  # noqa: S107  (a fake token)
    refresh: str | None = None,
    expires_at: datetime | None = None,
) -> int:
    async with pool.acquire() as connection:
        app_id = await upsert_app(
            connection,
            name=f"app-{kind}",
            kind=kind,
            client_id="client-id",
            client_secret_enc=secrets.encrypt("client-secret"),
        )
        shop = await insert_shop(
            connection,
            domain=f"{kind}.myshopify.com",
            app_id=app_id,
            access_token_enc=secrets.encrypt(token) if token else None,
        )
        await connection.execute(
            "UPDATE shop SET refresh_token_enc = $2, token_expires_at = $3 WHERE shop_id = $1",
            shop.shop_id,
            secrets.encrypt(refresh) if refresh else None,
            expires_at,
        )
    return shop.shop_id


async def _token(
    pool: asyncpg.Pool, secrets: SecretBox, endpoint: FakeTokenEndpoint, shop_id: int
) -> str:
    async with (
        httpx.AsyncClient(transport=endpoint.transport()) as http,
        pool.acquire() as connection,
    ):
        return await access_token_for(
            connection,
            secrets,
            http,
            shop_id=shop_id,
            url_template=TEMPLATE,
            now=NOW,
            renew_margin=timedelta(hours=1),
        )


async def test_legacy_token_is_returned_as_stored(pool: asyncpg.Pool, runtime: Runtime) -> None:
    endpoint = FakeTokenEndpoint()
    shop_id = await _shop(pool, runtime.secrets, kind="legacy")
    assert await _token(pool, runtime.secrets, endpoint, shop_id) == "shpat_old"
    assert endpoint.requests == []


async def test_custom_app_token_is_renewed_before_it_lapses(
    pool: asyncpg.Pool, runtime: Runtime
) -> None:
    endpoint = FakeTokenEndpoint()
    shop_id = await _shop(
        pool, runtime.secrets, kind="custom", expires_at=NOW + timedelta(minutes=30)
    )
    token = await _token(pool, runtime.secrets, endpoint, shop_id)
    assert token == endpoint.issued[-1]
    assert endpoint.requests[-1]["grant_type"] == "client_credentials"
    async with pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
    assert shop is not None
    assert shop.token_expires_at == NOW + timedelta(days=1)
    # Still valid for a day: no second request.
    assert await _token(pool, runtime.secrets, endpoint, shop_id) == token
    assert len(endpoint.requests) == 1


async def test_custom_app_without_token_gets_one(pool: asyncpg.Pool, runtime: Runtime) -> None:
    endpoint = FakeTokenEndpoint()
    shop_id = await _shop(pool, runtime.secrets, kind="custom", token=None)
    assert await _token(pool, runtime.secrets, endpoint, shop_id) == endpoint.issued[-1]


async def test_expiring_offline_token_is_refreshed_with_its_refresh_token(
    pool: asyncpg.Pool, runtime: Runtime
) -> None:
    endpoint = FakeTokenEndpoint()
    endpoint.refresh_tokens.add("shprt_1")
    shop_id = await _shop(
        pool,
        runtime.secrets,
        kind="public",
        refresh="shprt_1",
        expires_at=NOW + timedelta(minutes=5),
    )
    token = await _token(pool, runtime.secrets, endpoint, shop_id)
    assert endpoint.requests[-1] == {
        "client_id": "client-id",
        "client_secret": "client-secret",
        "grant_type": "refresh_token",
        "refresh_token": "shprt_1",
    }
    async with pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
    assert shop is not None
    assert shop.refresh_token_enc is not None
    # The new refresh token replaced the spent one.
    assert runtime.secrets.decrypt(shop.refresh_token_enc) in endpoint.refresh_tokens
    assert token == endpoint.issued[-1]


async def test_refused_renewal_marks_shop_needs_attention(
    pool: asyncpg.Pool, runtime: Runtime
) -> None:
    endpoint = FakeTokenEndpoint(refuse=True)
    shop_id = await _shop(pool, runtime.secrets, kind="custom", expires_at=NOW)
    with pytest.raises(ShopTokenError):
        await _token(pool, runtime.secrets, endpoint, shop_id)
    async with pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
    assert shop is not None
    assert shop.status == "needs_attention"
    assert shop.attention_reason is not None
    assert "401" in shop.attention_reason


async def test_successful_renewal_clears_needs_attention(
    pool: asyncpg.Pool, runtime: Runtime
) -> None:
    endpoint = FakeTokenEndpoint()
    shop_id = await _shop(pool, runtime.secrets, kind="custom", expires_at=NOW)
    async with pool.acquire() as connection:
        await connection.execute(
            "UPDATE shop SET status = 'needs_attention', attention_reason = 'x' WHERE shop_id = $1",
            shop_id,
        )
    await _token(pool, runtime.secrets, endpoint, shop_id)
    async with pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
    assert shop is not None
    assert shop.status == "active"
    assert shop.attention_reason is None


async def test_uninstalled_shop_has_no_token(pool: asyncpg.Pool, runtime: Runtime) -> None:
    shop_id = await _shop(pool, runtime.secrets, kind="legacy")
    async with pool.acquire() as connection:
        await connection.execute(
            "UPDATE shop SET status = 'uninstalled' WHERE shop_id = $1", shop_id
        )
    with pytest.raises(ShopTokenError):
        await _token(pool, runtime.secrets, FakeTokenEndpoint(), shop_id)
