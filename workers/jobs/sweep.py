"""Re-trigger the apply jobs for every delivery left pending and due.

Redis is only a nudge: a nudge lost to a Redis outage, a worker killed mid-job, or a delivery
whose retry time has come all leave rows `pending` in Postgres. This cron finds them and
triggers their shop's (or supplier account's) apply job again.
"""

import time
from typing import Any

import structlog
from arq.connections import ArqRedis

from schema.db import Connection
from schema.queries.inbox import (
    shops_with_due_deliveries,
    supplier_accounts_with_due_deliveries,
)
from workers import names
from workers.context import resources
from workers.trigger import job_id, trigger

__all__ = ["SWEEP_SECONDS", "run_sweep", "sweep_deliveries"]

log = structlog.get_logger()

SWEEP_SECONDS = 5


async def run_sweep(connection: Connection, redis: ArqRedis, *, queue_name: str) -> int:
    """Trigger one apply job per shop and account with due deliveries; returns how many."""
    shops = await shops_with_due_deliveries(connection)
    accounts = await supplier_accounts_with_due_deliveries(connection)
    bucket = int(time.time() // SWEEP_SECONDS)
    triggered = 0
    for function, keys in ((names.APPLY_SHOPIFY, shops), (names.APPLY_SUPPLIER, accounts)):
        for key in keys:
            unique = job_id(queue_name, function, key, "sweep", bucket)
            triggered += await trigger(
                redis, function, key, queue_name=queue_name, unique_id=unique
            )
    if shops or accounts:
        log.info("sweep.triggered", shops=len(shops), accounts=len(accounts), jobs=triggered)
    return triggered


async def sweep_deliveries(ctx: dict[str, Any]) -> int:
    res = resources(ctx)
    async with res.pool.acquire() as connection:
        return await run_sweep(connection, res.redis, queue_name=res.runtime.settings.queue_name)
