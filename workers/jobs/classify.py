"""The report's classification passes as jobs: incremental every minute, full on a schedule.

The incremental pass re-classifies the subjects the dirty-set triggers marked (and pending rows
whose grace ended); the full pass re-classifies everything and is the safety net (and the
report's "run": lifecycle and the bridge are counted per full pass). Both are idempotent and
safe to run concurrently with writers; two passes never overlap (an advisory lock, held by the
connection that runs the pass; the full pass's other batches run on further pool connections,
`classify_full_pass_concurrency` in all).
"""

from datetime import UTC, datetime
from typing import Any

import structlog

from core.report_classes import Thresholds
from schema.classify.passes import PassResult, run_full_pass, run_incremental_pass
from schema.db import Pool
from service.settings import Settings
from workers.context import resources

__all__ = [
    "classify_dirty",
    "classify_full",
    "run_classify",
    "thresholds_from_settings",
]

log = structlog.get_logger()

# One pass at a time across every worker process: a second one would only wait for the first.
_LOCK_KEY = 0x64726F70  # "drop"


def thresholds_from_settings(settings: Settings) -> Thresholds:
    return Thresholds(
        sync_grace=settings.report_sync_grace,
        paid_not_placed_after=settings.report_paid_not_placed_after,
        payment_pending_after=settings.report_payment_pending_after,
        cancel_grace=settings.report_cancel_grace,
        orphan_grace=settings.report_orphan_grace,
        hold_grace=settings.report_hold_grace,
        tracking_stalled_after=settings.report_tracking_stalled_after,
        priority_step=settings.report_priority_step,
    )


async def run_classify(
    pool: Pool, settings: Settings, *, full: bool, now: datetime | None = None
) -> PassResult | None:
    """Run one pass; None when another pass holds the lock (it covers this one's work)."""
    thresholds = thresholds_from_settings(settings)
    async with pool.acquire() as connection:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_KEY):
            log.info("classify.skipped_locked", full=full)
            return None
        try:
            moment = now or datetime.now(UTC)
            if full:
                return await run_full_pass(
                    connection,
                    now=moment,
                    thresholds=thresholds,
                    pool=pool,
                    concurrency=settings.classify_full_pass_concurrency,
                )
            return await run_incremental_pass(connection, now=moment, thresholds=thresholds)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def classify_dirty(ctx: dict[str, Any]) -> dict[str, int] | None:
    res = resources(ctx)
    result = await run_classify(res.pool, res.runtime.settings, full=False)
    return None if result is None else {"opened": result.opened, "resolved": result.resolved}


async def classify_full(ctx: dict[str, Any]) -> dict[str, int] | None:
    res = resources(ctx)
    result = await run_classify(res.pool, res.runtime.settings, full=True)
    return None if result is None else {"opened": result.opened, "resolved": result.resolved}
