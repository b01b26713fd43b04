"""The arq side of shop sync: per-shop jobs and the crons that fan out to them.

Each shop gets its own job (unique id per shop), so a slow or failing shop never holds up
another's, and a shop whose last poll is still running is not queued twice. The poll cron also
(re)starts any backfill left pending, so a lost Redis trigger at connect time costs nothing.
"""

from typing import Any

from arq import cron
from arq.cron import CronJob

from schema.queries.supplier_accounts import list_supplier_accounts
from schema.queries.sync_state import active_shop_ids
from service.settings import Settings
from workers import names
from workers.context import resources
from workers.jobs.shop_sync import (
    SyncDeps,
    SyncSummary,
    run_connect_shop,
    run_poll_shop,
    run_watchdog_shop,
)
from workers.jobs.supplier_sync import (
    SupplierSyncDeps,
    run_discover_cj_orders,
    run_poll_supplier,
    run_supplier_watchdog,
)
from workers.shopify import shopify_client
from workers.trigger import job_id, trigger

__all__ = [
    "connect_shop",
    "cron_jobs",
    "full_pass_shops",
    "full_pass_suppliers",
    "poll_shop",
    "poll_shops",
    "poll_supplier",
    "poll_suppliers",
    "watchdog",
    "watchdog_shop",
]


def _deps(ctx: dict[str, Any]) -> SyncDeps:
    res = resources(ctx)
    return SyncDeps(
        pool=res.pool,
        shopify=shopify_client(ctx),
        http=res.http,
        secrets=res.runtime.secrets,
        settings=res.runtime.settings,
    )


async def _after(ctx: dict[str, Any], shop_id: int, summary: SyncSummary) -> dict[str, Any]:
    """Nudge the refresh job when orders were marked for re-reading."""
    res = resources(ctx)
    queue = res.runtime.settings.queue_name
    if summary.marked_for_refresh:
        await trigger(
            res.redis,
            names.REFRESH_ORDERS,
            shop_id,
            queue_name=queue,
            unique_id=job_id(queue, names.REFRESH_ORDERS, shop_id),
        )
    return {
        "orders": summary.orders,
        "written": summary.written,
        "marked": summary.marked_for_refresh,
        "error": summary.error,
    }


async def connect_shop(ctx: dict[str, Any], shop_id: int) -> dict[str, Any]:
    return await _after(ctx, shop_id, await run_connect_shop(_deps(ctx), shop_id=shop_id))


async def poll_shop(ctx: dict[str, Any], shop_id: int, mode: str = "incremental") -> dict[str, Any]:
    """`mode` is "incremental" (since the watermark) or "full" (the last 24 hours)."""
    summary = await run_poll_shop(_deps(ctx), shop_id=shop_id, full_pass=mode == "full")
    return await _after(ctx, shop_id, summary)


async def watchdog_shop(ctx: dict[str, Any], shop_id: int) -> dict[str, Any]:
    return await _after(ctx, shop_id, await run_watchdog_shop(_deps(ctx), shop_id=shop_id))


async def _fan_out(ctx: dict[str, Any], function: str, *args: Any, tag: str) -> int:
    res = resources(ctx)
    queue = res.runtime.settings.queue_name
    async with res.pool.acquire() as connection:
        shop_ids = await active_shop_ids(connection)
        pending_backfills = {
            row["shop_id"]
            for row in await connection.fetch(
                "SELECT shop_id FROM shop_sync_state"
                " WHERE backfill_status IN ('pending', 'running')"
            )
        }
    for shop_id in shop_ids:
        await trigger(
            res.redis,
            function,
            shop_id,
            *args,
            queue_name=queue,
            unique_id=job_id(queue, tag, shop_id),
        )
        if shop_id in pending_backfills:
            await trigger(
                res.redis,
                names.CONNECT_SHOP,
                shop_id,
                queue_name=queue,
                unique_id=job_id(queue, names.CONNECT_SHOP, shop_id),
            )
    return len(shop_ids)


async def poll_shops(ctx: dict[str, Any]) -> int:
    return await _fan_out(ctx, names.POLL_SHOP, "incremental", tag=names.POLL_SHOP)


async def full_pass_shops(ctx: dict[str, Any]) -> int:
    return await _fan_out(ctx, names.POLL_SHOP, "full", tag=names.FULL_PASS_SHOPS)


async def watchdog(ctx: dict[str, Any]) -> int:
    """Fan out the shops' subscription checks; re-register silent CJ webhooks in place."""
    shops = await _fan_out(ctx, names.WATCHDOG_SHOP, tag=names.WATCHDOG_SHOP)
    deps = _supplier_deps(ctx)
    async with deps.pool.acquire() as connection:
        accounts = await list_supplier_accounts(connection)
    for account in accounts:
        if account.kind == "cj" and account.status == "active":
            await run_supplier_watchdog(deps, account_id=account.account_id)
    return shops


def _supplier_deps(ctx: dict[str, Any]) -> SupplierSyncDeps:
    res = resources(ctx)
    return SupplierSyncDeps(
        pool=res.pool, http=res.http, secrets=res.runtime.secrets, settings=res.runtime.settings
    )


async def poll_supplier(
    ctx: dict[str, Any], account_id: int, mode: str = "incremental"
) -> dict[str, Any]:
    """Re-read the account's open orders ("full": ignoring their backoff, and for CJ listing
    every order so one whose webhooks were all lost is found), then push."""
    deps = _supplier_deps(ctx)
    summary = await run_poll_supplier(deps, account_id=account_id, full_pass=mode == "full")
    res = resources(ctx)
    queue = res.runtime.settings.queue_name
    if mode == "full" and await run_discover_cj_orders(deps, account_id=account_id):
        await trigger(
            res.redis,
            names.APPLY_SUPPLIER,
            account_id,
            queue_name=queue,
            unique_id=job_id(queue, names.APPLY_SUPPLIER, account_id),
        )
    for shop_id in sorted(summary.shops_to_push):
        await trigger(res.redis, names.PUSH_SHOP, shop_id, queue_name=queue)
    return {"polled": summary.polled, "new_packages": summary.new_packages, "error": summary.error}


async def poll_suppliers(ctx: dict[str, Any], mode: str = "incremental") -> int:
    res = resources(ctx)
    queue = res.runtime.settings.queue_name
    async with res.pool.acquire() as connection:
        accounts = [
            account
            for account in await list_supplier_accounts(connection)
            if account.status == "active" and account.kind in {"cj", "aliexpress"}
        ]
    for account in accounts:
        await trigger(
            res.redis,
            names.POLL_SUPPLIER,
            account.account_id,
            mode,
            queue_name=queue,
            unique_id=job_id(queue, names.POLL_SUPPLIER, account.account_id),
        )
    return len(accounts)


async def full_pass_suppliers(ctx: dict[str, Any]) -> int:
    return await poll_suppliers(ctx, "full")


def _every(minutes: int) -> set[int]:
    step = max(1, min(60, minutes))
    return set(range(0, 60, step))


def cron_jobs(settings: Settings) -> list[CronJob]:
    """Poll shops and suppliers every `poll_interval`, full passes nightly, watchdog hourly."""
    return [
        cron(
            poll_shops,
            name=names.POLL_SHOPS,
            minute=_every(int(settings.poll_interval.total_seconds() // 60)),
            second={7},
            run_at_startup=True,
            unique=True,
        ),
        cron(
            full_pass_shops,
            name=names.FULL_PASS_SHOPS,
            hour={2},
            minute={41},
            run_at_startup=False,
            unique=True,
        ),
        cron(watchdog, name=names.WATCHDOG, minute={23}, run_at_startup=True, unique=True),
        cron(
            poll_suppliers,
            name=names.POLL_SUPPLIERS,
            minute=_every(int(settings.poll_interval.total_seconds() // 60)),
            second={37},
            run_at_startup=True,
            unique=True,
        ),
        cron(
            full_pass_suppliers,
            name=names.FULL_PASS_SUPPLIERS,
            hour={3},
            minute={11},
            run_at_startup=False,
            unique=True,
        ),
    ]
