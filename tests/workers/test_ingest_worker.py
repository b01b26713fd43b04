"""End to end through Redis: a received webhook nudges its apply job; the sweeper re-triggers
deliveries whose nudge was lost."""

from datetime import timedelta

import asyncpg
import httpx
from arq.worker import Worker
from fastapi import FastAPI
from redis.asyncio import Redis

from schema.queries.inbox import DeliveryStatus, NewSupplierDelivery, insert_supplier_deliveries
from service.runtime import Runtime, redis_from_url
from service.suppliers import SupplierKind
from tests.ingest_helpers import order_body, register_test_shop, shopify_headers, store_delivery
from tests.supplier_helpers import create_account
from workers.jobs.sweep import run_purge_supplier_payloads, run_sweep
from workers.settings import worker_options


async def _run_worker_burst(runtime: Runtime) -> None:
    worker = Worker(
        **worker_options(runtime, burst=True, poll_delay=0.05, handle_signals=False, cron_jobs=[])
    )
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def _status(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT status FROM webhook_delivery ORDER BY delivery_id")
    return [row["status"] for row in rows]


async def test_received_webhook_is_applied_by_the_worker(
    app: FastAPI, client: httpx.AsyncClient, pool: asyncpg.Pool, runtime: Runtime, redis: Redis
) -> None:
    del redis  # cleans this run's queue afterwards
    await register_test_shop(pool, runtime.secrets)
    body = order_body()
    response = await client.post(
        "/webhooks/shopify", content=body, headers=shopify_headers(body, topic="orders/create")
    )
    assert response.status_code == 200
    # The nudge goes out right after the commit, in the background; wait for it.
    await app.state.ingest_edge.shopify_nudger.wait_idle()
    await _run_worker_burst(runtime)
    assert await _status(pool) == ["applied"]


async def test_sweeper_retriggers_a_delivery_whose_nudge_was_lost(
    pool: asyncpg.Pool, runtime: Runtime, redis: Redis
) -> None:
    del redis
    shop_id = await register_test_shop(pool, runtime.secrets)
    await store_delivery(pool, shop_id, order_body(), topic="orders/updated")
    arq_redis = redis_from_url(runtime.redis_url)
    try:
        async with pool.acquire() as connection:
            triggered = await run_sweep(
                connection, arq_redis, queue_name=runtime.settings.queue_name
            )
    finally:
        await arq_redis.aclose()
        await arq_redis.connection_pool.disconnect()
    assert triggered == 1
    await _run_worker_burst(runtime)
    assert await _status(pool) == ["applied"]


async def test_sweeper_with_redis_down_triggers_nothing_and_raises_nothing(
    pool: asyncpg.Pool, runtime: Runtime
) -> None:
    shop_id = await register_test_shop(pool, runtime.secrets)
    await store_delivery(pool, shop_id, order_body(), topic="orders/updated")
    dead = redis_from_url("redis://127.0.0.1:1/0")
    try:
        async with pool.acquire() as connection:
            assert await run_sweep(connection, dead, queue_name="q") == 0
    finally:
        await dead.aclose()
        await dead.connection_pool.disconnect()
    assert await _status(pool) == ["pending"]


async def test_old_supplier_bodies_are_purged_after_retention(
    pool: asyncpg.Pool, runtime: Runtime
) -> None:
    shop_id = await register_test_shop(pool, runtime.secrets)
    account = await create_account(pool, runtime.secrets, kind=SupplierKind.CJ, shop_ids=[shop_id])
    async with pool.acquire() as connection:
        await insert_supplier_deliveries(
            connection,
            [
                NewSupplierDelivery(
                    account_id=account.account.account_id,
                    dedup_key=key,
                    kind="cj",
                    headers={},
                    body=b"{}",
                    status=status,
                )
                for key, status in (
                    ("old", DeliveryStatus.APPLIED),
                    ("old-pending", DeliveryStatus.PENDING),
                )
            ],
        )
        await connection.execute(
            "UPDATE supplier_delivery SET received_at = now() - interval '40 days'"
        )
        await insert_supplier_deliveries(
            connection,
            [
                NewSupplierDelivery(
                    account_id=account.account.account_id,
                    dedup_key="new",
                    kind="cj",
                    headers={},
                    body=b"{}",
                    status=DeliveryStatus.APPLIED,
                )
            ],
        )
        erased = await run_purge_supplier_payloads(connection, retention=timedelta(days=30))
        bodies = await connection.fetch(
            "SELECT dedup_key, body IS NULL AS erased FROM supplier_delivery ORDER BY dedup_key"
        )
    assert erased == 1
    assert {row["dedup_key"]: row["erased"] for row in bodies} == {
        "new": False,
        "old": True,
        "old-pending": False,
    }
