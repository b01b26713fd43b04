"""Storing Shopify deliveries: small batches (multi-row VALUES) and large ones (unnest) agree."""

from datetime import UTC, datetime

import asyncpg
import pytest

from schema.queries.inbox import DeliveryStatus, NewShopifyDelivery, insert_shopify_deliveries
from service.runtime import Runtime
from tests.ingest_helpers import register_test_shop


def _delivery(shop_id: int, index: int, *, event_id: str | None = None) -> NewShopifyDelivery:
    failed = index % 3 == 0
    return NewShopifyDelivery(
        shop_id=shop_id,
        webhook_id=f"wh-{index}",
        event_id=event_id if event_id is not None else (f"ev-{index}" if index % 2 else None),
        topic="orders/create",
        api_version="2026-10" if index % 2 else None,
        triggered_at=datetime(2026, 1, 1, 0, 0, index % 60, tzinfo=UTC) if index % 2 else None,
        headers={"content-type": "application/json", "x-shopify-topic": f"t-{index}"},
        body=bytes([index % 256]) * (index + 1) + b"\x00\xff",
        status=DeliveryStatus.FAILED if failed else DeliveryStatus.PENDING,
        error="parked" if failed else None,
    )


# 1 and 16 rows take the VALUES statement, 17 and 40 the unnest one.
@pytest.mark.parametrize("count", [1, 2, 16, 17, 40])
async def test_every_column_is_stored_as_given(
    pool: asyncpg.Pool, runtime: Runtime, count: int
) -> None:
    shop_id = await register_test_shop(pool, runtime.secrets)
    deliveries = [_delivery(shop_id, index) for index in range(count)]
    async with pool.acquire() as connection:
        assert await insert_shopify_deliveries(connection, deliveries) == count
        rows = await connection.fetch(
            """
            SELECT webhook_id, event_id, topic, api_version, triggered_at, headers, body, status,
                   error
            FROM webhook_delivery ORDER BY delivery_id
            """
        )
    assert [dict(row) for row in rows] == [
        {
            "webhook_id": d.webhook_id,
            "event_id": d.event_id,
            "topic": d.topic,
            "api_version": d.api_version,
            "triggered_at": d.triggered_at,
            "headers": d.headers,
            "body": d.body,
            "status": d.status.value,
            "error": d.error,
        }
        for d in deliveries
    ]


@pytest.mark.parametrize("count", [3, 20])
async def test_repeats_in_and_across_batches_are_skipped(
    pool: asyncpg.Pool, runtime: Runtime, count: int
) -> None:
    shop_id = await register_test_shop(pool, runtime.secrets)
    first = [_delivery(shop_id, index, event_id=f"ev-{index}") for index in range(count)]
    async with pool.acquire() as connection:
        assert await insert_shopify_deliveries(connection, first) == count
        # The same webhook ids again, plus one new delivery repeating an event id and topic.
        again = [*first, _delivery(shop_id, 1000, event_id="ev-0")]
        assert await insert_shopify_deliveries(connection, again) == 0
        assert await connection.fetchval("SELECT count(*) FROM webhook_delivery") == count
