"""Large shops backfill through a bulk operation (the simulators have none: a fake answers)."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from graphql import parse, validate

from clients.shopify import RetryPolicy, ShopifyClient
from clients.shopify_bulk import bulk_orders_query
from schema.queries.shops import insert_shop, upsert_app
from schema.queries.sync_state import get_shop_sync_state, start_backfill
from service.runtime import Runtime
from simulator.shopify import load_admin_schema
from workers.jobs.shop_sync import SyncDeps, run_backfill

RESULT_URL = "https://storage.test/bulk/result.jsonl"
BULK_GID = "gid://shopify/BulkOperation/77"


def _order(number: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{1000 + number}",
        "name": f"#{number}",
        "number": number,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "UNFULFILLED",
        "cancelledAt": None,
        "closedAt": None,
        "createdAt": "2026-10-01T00:00:00Z",
        "updatedAt": f"2026-10-0{number}T00:00:00Z",
        "test": False,
        "email": None,
        "phone": None,
        "customAttributes": [],
        "customer": None,
        "shippingAddress": None,
    }


def _line(number: int, line: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/LineItem/{number * 10 + line}",
        "sku": f"SKU-{number}-{line}",
        "title": "Thing",
        "quantity": 1,
        "currentQuantity": 1,
        "unfulfilledQuantity": 1,
        "requiresShipping": True,
        "variant": None,
        "__parentId": f"gid://shopify/Order/{1000 + number}",
    }


RESULT = b"\n".join(
    orjson.dumps(row)
    for number in (1, 2, 3)
    for row in [_order(number), *(_line(number, line) for line in range(number))]
)


class FakeShopify:
    """Answers the documents a bulk backfill sends, and serves the JSONL result."""

    def __init__(self, *, running_checks: int) -> None:
        self.running_checks = running_checks
        self.started = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == RESULT_URL:
            return httpx.Response(200, content=RESULT)
        query = json.loads(request.content)["query"]
        if "ordersCount" in query:
            data: dict[str, Any] = {"ordersCount": {"count": 3}}
        elif "bulkOperationRunQuery" in query:
            self.started += 1
            data = {
                "bulkOperationRunQuery": {
                    "bulkOperation": {"id": BULK_GID, "status": "CREATED"},
                    "userErrors": [],
                }
            }
        else:
            done = self.running_checks <= 0
            self.running_checks -= 1
            data = {
                "bulkOperation": {
                    "id": BULK_GID,
                    "status": "COMPLETED" if done else "RUNNING",
                    "errorCode": None,
                    "objectCount": "9",
                    "rootObjectCount": "3",
                    "url": RESULT_URL if done else None,
                    "partialDataUrl": None,
                }
            }
        return httpx.Response(200, json={"data": data})


@pytest.fixture
async def shop_id(pool: asyncpg.Pool, runtime: Runtime) -> int:
    async with pool.acquire() as connection:
        app_id = await upsert_app(
            connection, name="bulk", kind="legacy", client_id=None, client_secret_enc=None
        )
        shop = await insert_shop(
            connection,
            domain="big.myshopify.com",
            app_id=app_id,
            access_token_enc=runtime.secrets.encrypt("shpat_x"),
        )
        await start_backfill(
            connection, shop_id=shop.shop_id, since=datetime.now(UTC) - timedelta(days=60)
        )
    return shop.shop_id


@pytest.fixture
async def http_for() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(fake: FakeShopify) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def _deps(pool: asyncpg.Pool, runtime: Runtime, http: httpx.AsyncClient, **extra: Any) -> SyncDeps:
    async def no_wait(_: float) -> None:
        return None

    return SyncDeps(
        pool=pool,
        shopify=ShopifyClient(http=http, retry=RetryPolicy(max_attempts=1)),
        http=http,
        secrets=runtime.secrets,
        settings=runtime.settings.model_copy(update={"bulk_backfill_threshold": 2}),
        sleep=no_wait,
        **extra,
    )


def test_bulk_query_is_valid_admin_graphql() -> None:
    text = bulk_orders_query(
        since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert validate(load_admin_schema(), parse(text)) == []
    assert "updated_at:>='2026-01-01T00:00:00Z' AND updated_at:<'2026-03-01T00:00:00Z'" in text


async def test_large_backfill_runs_as_a_bulk_operation(
    pool: asyncpg.Pool, runtime: Runtime, shop_id: int, http_for: Any
) -> None:
    fake = FakeShopify(running_checks=2)
    summary = await run_backfill(_deps(pool, runtime, http_for(fake)), shop_id=shop_id)
    assert summary.error is None
    assert summary.orders == 3
    assert fake.started == 1
    async with pool.acquire() as connection:
        state = await get_shop_sync_state(connection, shop_id)
        lines = await connection.fetchval(
            "SELECT count(*) FROM shopify_line_item WHERE shop_id = $1", shop_id
        )
        marked = await connection.fetchval(
            "SELECT count(*) FROM shopify_order WHERE shop_id = $1 AND needs_refresh", shop_id
        )
    assert state is not None
    assert (state.backfill_status, state.backfill_orders, state.backfill_total) == ("done", 3, 3)
    assert state.orders_watermark is not None
    assert lines == 1 + 2 + 3
    assert marked == 3


async def test_bulk_backfill_still_running_is_resumed_by_the_next_run(
    pool: asyncpg.Pool, runtime: Runtime, shop_id: int, http_for: Any
) -> None:
    fake = FakeShopify(running_checks=5)
    http = http_for(fake)
    first = await run_backfill(_deps(pool, runtime, http, bulk_wait=timedelta(0)), shop_id=shop_id)
    assert first.orders == 0
    async with pool.acquire() as connection:
        state = await get_shop_sync_state(connection, shop_id)
    assert state is not None
    assert state.backfill_status == "running"
    assert state.backfill_cursor == f"bulk:{BULK_GID}"
    second = await run_backfill(_deps(pool, runtime, http), shop_id=shop_id)
    assert second.orders == 3
    assert fake.started == 1  # the same operation, not a new one
    async with pool.acquire() as connection:
        state = await get_shop_sync_state(connection, shop_id)
    assert state is not None
    assert state.backfill_status == "done"
