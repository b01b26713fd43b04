"""arq worker settings, built from the resolved runtime; every knob set explicitly."""

from datetime import UTC
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Function, func

from service.runtime import Runtime
from workers import names
from workers.context import make_startup, shutdown
from workers.jobs.apply_shopify import apply_shopify
from workers.jobs.apply_supplier import apply_supplier
from workers.jobs.classify import classify_dirty, classify_full
from workers.jobs.purge import purge_payloads
from workers.jobs.push import push_shop, push_sweep
from workers.jobs.refresh import refresh_orders
from workers.jobs.sweep import SWEEP_SECONDS, purge_supplier_payloads, sweep_deliveries
from workers.jobs.sync_schedule import (
    connect_shop,
    cron_jobs,
    poll_shop,
    poll_supplier,
    watchdog_shop,
)

__all__ = ["worker_options"]


def functions(runtime: Runtime | None = None) -> list[Function]:
    poll_seconds = runtime.settings.poll_timeout.total_seconds() if runtime else 240.0
    return [
        # Shop sync: a backfill resumes from its cursor, so an hour per run is plenty.
        func(connect_shop, name=names.CONNECT_SHOP, timeout=3600, max_tries=3),
        func(poll_shop, name=names.POLL_SHOP, timeout=poll_seconds + 30, max_tries=1),
        func(watchdog_shop, name=names.WATCHDOG_SHOP, timeout=poll_seconds + 30, max_tries=1),
        func(poll_supplier, name=names.POLL_SUPPLIER, timeout=poll_seconds + 30, max_tries=1),
        func(push_shop, name=names.PUSH_SHOP),
        func(refresh_orders, name=names.REFRESH_ORDERS),
        func(apply_shopify, name=names.APPLY_SHOPIFY),
        func(apply_supplier, name=names.APPLY_SUPPLIER),
        func(classify_dirty, name=names.CLASSIFY_DIRTY),
        func(classify_full, name=names.CLASSIFY_FULL, timeout=1800),
    ]


def worker_options(runtime: Runtime, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`; tests override `burst`, `poll_delay` and the like."""
    options: dict[str, Any] = {
        "functions": functions(runtime),
        "cron_jobs": [
            cron(
                purge_payloads,
                name=names.PURGE_PAYLOADS,
                hour={3},
                minute={17},
                run_at_startup=False,
            ),
            # Every 20 s: Redis is only a nudge, this is what guarantees every package is
            # pushed (and every marked order re-read) even when a trigger was lost.
            cron(
                push_sweep,
                name=names.PUSH_SWEEP,
                second={0, 20, 40},
                run_at_startup=True,
            ),
            cron(
                sweep_deliveries,
                name=names.SWEEP_DELIVERIES,
                second=set(range(0, 60, SWEEP_SECONDS)),
                run_at_startup=True,
                unique=True,
            ),
            cron(
                purge_supplier_payloads,
                name=names.PURGE_SUPPLIER_PAYLOADS,
                hour={3},
                minute={27},
                run_at_startup=False,
            ),
            *cron_jobs(runtime.settings),
            # The report: the dirty set every minute, the full pass (its "run") on a schedule.
            cron(
                classify_dirty,
                name=names.CLASSIFY_DIRTY,
                second={30},
                run_at_startup=False,
                unique=True,
            ),
            cron(
                classify_full,
                name=names.CLASSIFY_FULL,
                minute=set(runtime.settings.classify_full_pass_minutes),
                second={0},
                run_at_startup=True,
                unique=True,
                timeout=1800,
            ),
        ],
        "redis_settings": RedisSettings.from_dsn(runtime.redis_url),
        "queue_name": runtime.settings.queue_name,
        "on_startup": make_startup(runtime),
        "on_shutdown": shutdown,
        "max_jobs": 20,
        # How often an idle worker looks for queued jobs: it bounds apply lag (target < 1 s p99).
        "poll_delay": 0.1,
        "job_timeout": 120,
        "max_tries": 8,
        "keep_result": 0,
        "timezone": UTC,
        "health_check_interval": 30,
        "handle_signals": True,
    }
    options.update(overrides)
    return options
