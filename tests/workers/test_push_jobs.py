"""The arq entry points: push_shop, refresh_orders and the push_sweep cron, wired through the
worker's resources (shared httpx client routed to the simulator)."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from service.runtime import Resources, Runtime
from tests.workers.pushkit import Kit
from workers.jobs.push import push_shop, push_sweep
from workers.jobs.refresh import refresh_orders
from workers.settings import worker_options


@pytest.fixture
async def ctx(kit: Kit, runtime: Runtime) -> AsyncIterator[dict[str, Any]]:
    resources = await Resources.create(
        runtime, application_name="test-worker", http_transport=httpx.ASGITransport(app=kit.sim.app)
    )
    yield {"resources": resources}
    await resources.aclose()


async def queued(redis: Redis, queue_name: str) -> list[str]:
    return [job.decode() for job in await redis.zrange(queue_name, 0, -1)]


async def test_push_shop_job_pushes_through_the_worker_resources(
    kit: Kit, ctx: dict[str, Any]
) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT2000000000000001")

    result = await push_shop(ctx, shop_id)

    assert result == {"orders": 1}
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT2000000000000001": 1}


async def test_sweep_triggers_shops_with_unsynced_packages_and_marked_orders(
    kit: Kit, ctx: dict[str, Any], redis: Redis, queue_name: str
) -> None:
    shop_id, domain = await kit.add_shop()
    other_id, other_domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT2000000000000002")
    order = await kit.add_order(other_id, other_domain, line_items=[{"sku": "A", "quantity": 1}])
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order.order_id
    )

    result = await push_sweep(ctx)

    assert result == {"push": 1, "refresh": 1}
    jobs = await queued(redis, queue_name)
    assert f"{queue_name}:push-sweep:{shop_id}" in jobs
    assert f"{queue_name}:refresh-sweep:{other_id}" in jobs


async def test_refresh_job_nudges_the_push_when_work_appears(
    kit: Kit, ctx: dict[str, Any], redis: Redis, queue_name: str
) -> None:
    shop_id, domain = await kit.add_shop()
    order, _ = await kit.shipped_order(shop_id, domain, tracking_number="YT2000000000000003")
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order.order_id
    )

    result = await refresh_orders(ctx, shop_id)

    assert result == {"refreshed": 1, "failed": 0}
    assert len(await queued(redis, queue_name)) == 1


def test_worker_registers_push_jobs_and_sweeper(runtime: Runtime) -> None:
    options = worker_options(runtime)
    names = {function.name for function in options["functions"]}
    assert {"push_shop", "refresh_orders"} <= names
    assert "push_sweep" in {job.name for job in options["cron_jobs"]}
