"""The sync crons fan out one job per shop (and per supplier account), never twice."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from schema.queries.shops import insert_shop, upsert_app
from schema.queries.sync_state import start_backfill
from service.runtime import Resources, Runtime
from simulator.shopify import ShopifySimulator
from workers import names
from workers.jobs.sync_schedule import cron_jobs, poll_shop, poll_shops, poll_suppliers, watchdog
from workers.settings import worker_options


@pytest.fixture
async def ctx(runtime: Runtime, pool: asyncpg.Pool, redis: Redis) -> AsyncIterator[dict[str, Any]]:
    del pool  # requested for its side effect: empty tables
    # Other tests may have left jobs in this run's queue: start from an empty one.
    queue = runtime.settings.queue_name
    stale = [key async for key in redis.scan_iter(match=f"arq:*{queue}*")]
    await redis.delete(queue, *stale)
    resources = await Resources.create(runtime, application_name="test-sync-schedule")
    yield {"resources": resources}
    await resources.aclose()


async def _shop(pool: asyncpg.Pool, runtime: Runtime, domain: str, *, status: str) -> int:
    async with pool.acquire() as connection:
        app_id = await upsert_app(
            connection, name="app", kind="legacy", client_id=None, client_secret_enc=None
        )
        shop = await insert_shop(
            connection,
            domain=domain,
            app_id=app_id,
            access_token_enc=runtime.secrets.encrypt("shpat_x"),
        )
        await connection.execute(
            "UPDATE shop SET status = $2 WHERE shop_id = $1", shop.shop_id, status
        )
    return shop.shop_id


async def _queued(redis: Redis, queue: str) -> list[str]:
    return sorted(key.decode() for key in await redis.zrange(queue, 0, -1))


async def test_poll_cron_queues_one_job_per_working_shop_and_pending_backfills(
    ctx: dict[str, Any], pool: asyncpg.Pool, runtime: Runtime, redis: Redis
) -> None:
    active = await _shop(pool, runtime, "a.myshopify.com", status="active")
    flagged = await _shop(pool, runtime, "b.myshopify.com", status="needs_attention")
    await _shop(pool, runtime, "c.myshopify.com", status="uninstalled")
    async with pool.acquire() as connection:
        await start_backfill(
            connection, shop_id=active, since=datetime.now(UTC) - timedelta(days=60)
        )
    queue = runtime.settings.queue_name
    assert await poll_shops(ctx) == 2
    assert await poll_shops(ctx) == 2  # the same jobs are still queued: nothing doubles
    assert await _queued(redis, queue) == sorted(
        [
            f"{queue}:{names.POLL_SHOP}:{active}",
            f"{queue}:{names.POLL_SHOP}:{flagged}",
            f"{queue}:{names.CONNECT_SHOP}:{active}",
        ]
    )


async def test_watchdog_and_supplier_crons_fan_out(
    ctx: dict[str, Any], pool: asyncpg.Pool, runtime: Runtime, redis: Redis
) -> None:
    shop_id = await _shop(pool, runtime, "d.myshopify.com", status="active")
    account_id = await pool.fetchval(
        "INSERT INTO supplier_account (kind, name) VALUES ('aliexpress', 'ae') RETURNING account_id"
    )
    queue = runtime.settings.queue_name
    assert await watchdog(ctx) == 1
    assert await poll_suppliers(ctx) == 1
    assert await _queued(redis, queue) == sorted(
        [
            f"{queue}:{names.WATCHDOG_SHOP}:{shop_id}",
            f"{queue}:{names.POLL_SUPPLIER}:{account_id}",
        ]
    )


def test_cron_jobs_poll_every_interval(runtime: Runtime) -> None:
    jobs = {job.name: job for job in cron_jobs(runtime.settings)}
    assert jobs[names.POLL_SHOPS].minute == set(range(0, 60, 5))
    assert jobs[names.FULL_PASS_SHOPS].hour == {2}
    assert names.WATCHDOG in jobs
    assert names.POLL_SUPPLIERS in jobs


def test_worker_registers_the_sync_jobs_and_crons(runtime: Runtime) -> None:
    options = worker_options(runtime)
    functions = {function.name for function in options["functions"]}
    assert {
        names.CONNECT_SHOP,
        names.POLL_SHOP,
        names.WATCHDOG_SHOP,
        names.POLL_SUPPLIER,
    } <= functions
    crons = {job.name for job in options["cron_jobs"]}
    assert {
        names.POLL_SHOPS,
        names.FULL_PASS_SHOPS,
        names.WATCHDOG,
        names.POLL_SUPPLIERS,
        names.FULL_PASS_SUPPLIERS,
    } <= crons


async def test_poll_job_wires_the_process_client_and_nudges_the_refresh(
    runtime: Runtime, pool: asyncpg.Pool, redis: Redis
) -> None:
    sim = ShopifySimulator(seed=4, routing_delay=0)
    credentials = sim.add_shop("wired.myshopify.com")
    async with pool.acquire() as connection:
        app_id = await upsert_app(
            connection, name="app", kind="legacy", client_id=None, client_secret_enc=None
        )
        shop = await insert_shop(
            connection,
            domain="wired.myshopify.com",
            app_id=app_id,
            access_token_enc=runtime.secrets.encrypt(credentials.access_token),
        )
    sim.create_order("wired.myshopify.com", line_items=[{"sku": "A", "quantity": 1}])
    await asyncio.sleep(1.1)  # the poll's window ends at its start, in whole seconds
    queue = runtime.settings.queue_name
    await redis.delete(queue)
    resources = await Resources.create(
        runtime, application_name="test-poll-job", http_transport=httpx.ASGITransport(app=sim.app)
    )
    try:
        result = await poll_shop({"resources": resources}, shop.shop_id)
    finally:
        await resources.aclose()
        await sim.aclose()
    assert result["orders"] == 1
    assert result["error"] is None
    assert await _queued(redis, queue) == [f"{queue}:{names.REFRESH_ORDERS}:{shop.shop_id}"]
