"""`/metrics`: process metrics plus operational figures read from Postgres."""

import asyncpg
import httpx

from service.runtime import Runtime
from tests.ingest_helpers import order_body, register_test_shop, store_delivery


async def test_metrics_report_backlog_and_shops(
    pool: asyncpg.Pool,
    runtime: Runtime,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    shop = await register_test_shop(pool, runtime.secrets)
    await store_delivery(pool, shop, order_body(), topic="orders/create")
    response = await client.get("/metrics", headers=admin_headers)
    assert response.status_code == 200
    text = response.text
    assert 'dropsync_deliveries_pending{source="shopify"} 1.0' in text
    assert 'dropsync_deliveries_pending{source="supplier"} 0.0' in text
    assert 'dropsync_shops{status="active"} 1.0' in text
    assert "# TYPE dropsync_mismatches_open gauge" in text
    assert "python_gc_objects_collected_total" in text  # the process's own metrics too


async def test_metrics_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
