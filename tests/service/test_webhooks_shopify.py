"""POST /webhooks/shopify: what is refused, what is stored, and that the 200 follows the commit."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.app import create_app
from service.runtime import Runtime
from tests.ingest_helpers import (
    order_body,
    register_test_shop,
    sample,
    shopify_headers,
    sign,
)

URL = "/webhooks/shopify"


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return await connection.fetch("SELECT * FROM webhook_delivery ORDER BY delivery_id")


@pytest.fixture
async def shop_id(pool: asyncpg.Pool, runtime: Runtime) -> int:
    return await register_test_shop(pool, runtime.secrets)


async def test_signed_sample_order_is_stored_pending_and_answered_200(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    body = sample("orders-create")
    headers = shopify_headers(body, topic="orders/create", event_id="ev-1", webhook_id="wh-1")
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 200
    rows = await _rows(pool)
    assert len(rows) == 1
    row = rows[0]
    assert row["shop_id"] == shop_id
    assert row["topic"] == "orders/create"
    assert row["webhook_id"] == "wh-1"
    assert row["event_id"] == "ev-1"
    assert row["status"] == "pending"
    assert bytes(row["body"]) == body
    assert row["triggered_at"] is not None
    assert row["headers"]["api-version"] == "2026-10"
    assert "hmac-sha256" not in row["headers"]


async def test_every_documented_sample_is_accepted(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    topics = {
        "orders-create": "orders/create",
        "fulfillments-create": "fulfillments/create",
        "fulfillment_orders-order_routing_complete": "fulfillment_orders/order_routing_complete",
        "fulfillment_orders-placed_on_hold": "fulfillment_orders/placed_on_hold",
        "fulfillment_orders-hold_released": "fulfillment_orders/hold_released",
        "fulfillment_orders-cancelled": "fulfillment_orders/cancelled",
        "fulfillment_orders-fulfillment_request_submitted": (
            "fulfillment_orders/fulfillment_request_submitted"
        ),
    }
    for name, topic in topics.items():
        body = sample(name)
        response = await client.post(URL, content=body, headers=shopify_headers(body, topic=topic))
        assert response.status_code == 200, name
    assert len(await _rows(pool)) == len(topics)


async def test_repeated_webhook_id_is_acknowledged_and_stored_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = order_body()
    headers = shopify_headers(body, topic="orders/updated", webhook_id="same")
    answers = await asyncio.gather(
        *(client.post(URL, content=body, headers=headers) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [200] * 5
    assert len(await _rows(pool)) == 1


async def test_same_event_and_topic_under_new_webhook_id_is_stored_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = order_body()
    for webhook_id in ("a", "b"):
        headers = shopify_headers(body, topic="orders/paid", webhook_id=webhook_id, event_id="e1")
        assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    other_topic = shopify_headers(body, topic="orders/updated", webhook_id="c", event_id="e1")
    assert (await client.post(URL, content=body, headers=other_topic)).status_code == 200
    assert [row["webhook_id"] for row in await _rows(pool)] == ["a", "c"]


async def test_missing_signature_is_401_and_nothing_stored(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = order_body()
    headers = shopify_headers(body, topic="orders/create")
    del headers["X-Shopify-Hmac-Sha256"]
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "missing_signature"
    assert await _rows(pool) == []


@pytest.mark.parametrize(
    "signature",
    ["not base64 at all!", sign(b"another body", "shpss_test_secret"), sign(b"x", "wrong")],
)
async def test_wrong_signature_is_401_and_nothing_stored(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int, signature: str
) -> None:
    del shop_id
    body = order_body()
    headers = shopify_headers(body, topic="orders/create")
    headers["X-Shopify-Hmac-Sha256"] = signature
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_signature",
        "detail": "the HMAC does not match the body",
    }
    assert await _rows(pool) == []


async def test_body_signed_with_other_secret_is_401(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = order_body()
    headers = shopify_headers(body, topic="orders/create", secret="someone-else")
    assert (await client.post(URL, content=body, headers=headers)).status_code == 401
    assert await _rows(pool) == []


async def test_unknown_shop_domain_is_401(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = order_body()
    headers = shopify_headers(body, topic="orders/create", domain="other.myshopify.com")
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unknown_shop"
    assert await _rows(pool) == []


async def test_previous_secret_still_verifies_after_rotation(
    client: httpx.AsyncClient, pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    del shop_id
    # Re-registering with a new secret keeps the old one as the previous secret.
    await register_test_shop(pool, runtime.secrets, secret="new-secret")
    for secret in ("shpss_test_secret", "new-secret"):
        body = order_body(updated_at=f"2026-01-01T10:00:0{len(secret) % 10}Z")
        headers = shopify_headers(body, topic="orders/updated", secret=secret)
        assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    assert len(await _rows(pool)) == 2


async def test_oversize_body_is_413_by_content_length(
    client: httpx.AsyncClient, pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    del shop_id
    body = b"{" + b" " * runtime.settings.webhook_max_body_bytes + b"}"
    response = await client.post(URL, content=body, headers=shopify_headers(body, topic="x/y"))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert await _rows(pool) == []


async def test_oversize_chunked_body_is_413_without_reading_the_rest(
    client: httpx.AsyncClient, pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    del shop_id
    chunk = b" " * 65536
    sent = 0
    limit = runtime.settings.webhook_max_body_bytes

    async def stream() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(10 * limit // len(chunk)):
            sent += len(chunk)
            yield chunk

    headers = shopify_headers(b"", topic="orders/create")
    response = await client.post(URL, content=stream(), headers=headers)
    assert response.status_code == 413
    assert sent < 2 * limit
    assert await _rows(pool) == []


async def test_odd_content_type_is_stored_and_parked_failed(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = b"topic=orders&id=1"
    headers = shopify_headers(body, topic="orders/create")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    (row,) = await _rows(pool)
    assert row["status"] == "failed"
    assert "unexpected content type" in row["error"]


async def test_malformed_json_is_accepted_and_stored(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = b'{"id": 1, "line_items": [ oops'
    response = await client.post(
        URL, content=body, headers=shopify_headers(body, topic="orders/create")
    )
    assert response.status_code == 200
    (row,) = await _rows(pool)
    assert bytes(row["body"]) == body


async def test_unprefixed_events_headers_are_accepted(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = order_body()
    headers = shopify_headers(body, topic="orders/updated", prefix="shopify-", event_id="ev")
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    (row,) = await _rows(pool)
    assert row["event_id"] == "ev"
    assert row["topic"] == "orders/updated"


async def test_missing_webhook_id_still_deduplicates_exact_repeats(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    del shop_id
    body = order_body()
    headers = shopify_headers(body, topic="orders/updated")
    del headers["X-Shopify-Webhook-Id"]
    for _ in range(2):
        assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    (row,) = await _rows(pool)
    assert row["webhook_id"].startswith("sha256:")


async def test_slow_database_gets_503_and_the_retry_is_stored_once(
    pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    del shop_id
    hasty = Runtime(
        settings=runtime.settings.model_copy(update={"db_timeout": timedelta(seconds=0.3)}),
        database_url=runtime.database_url,
        redis_url=runtime.redis_url,
        secrets=runtime.secrets,
    )
    application = create_app(hasty)
    body = order_body()
    headers = shopify_headers(body, topic="orders/updated", webhook_id="slow-1")
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t"
        ) as client,
    ):
        # Warm the secret cache, then block the inbox table.
        warm = order_body(order_id=1)
        await client.post(URL, content=warm, headers=shopify_headers(warm, topic="orders/paid"))
        async with pool.acquire() as blocker, blocker.transaction():
            await blocker.execute("LOCK TABLE webhook_delivery IN ACCESS EXCLUSIVE MODE")
            response = await client.post(URL, content=body, headers=headers)
            assert response.status_code == 503
            assert response.json()["error"] == "storage_unavailable"
            assert response.headers["retry-after"] == "5"
        retry = await client.post(URL, content=body, headers=headers)
        assert retry.status_code == 200
    rows = await _rows(pool)
    assert [row["webhook_id"] for row in rows].count("slow-1") == 1


async def test_redis_down_does_not_change_the_answer(
    pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    del shop_id
    no_redis = Runtime(
        settings=runtime.settings,
        database_url=runtime.database_url,
        redis_url="redis://127.0.0.1:1/0",
        secrets=runtime.secrets,
    )
    application = create_app(no_redis)
    body = order_body()
    async with (
        LifespanManager(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t"
        ) as client,
    ):
        for index in range(3):
            headers = shopify_headers(body, topic="orders/updated", webhook_id=f"r{index}")
            assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    assert len(await _rows(pool)) == 3


async def test_get_on_webhook_route_is_json_405(client: httpx.AsyncClient) -> None:
    response = await client.get(URL)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


async def test_uninstalled_shop_still_verifies_and_stores_compliance_deliveries(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shop_id: int
) -> None:
    async with pool.acquire() as connection:
        await connection.execute(
            "UPDATE shop SET status = 'uninstalled', access_token_enc = NULL WHERE shop_id = $1",
            shop_id,
        )
    body = b'{"shop_id": 954889, "shop_domain": "acme.myshopify.com"}'
    headers = shopify_headers(body, topic="shop/redact")
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 200
    (row,) = await _rows(pool)
    assert (row["topic"], row["status"]) == ("shop/redact", "pending")
