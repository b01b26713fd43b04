"""The classification jobs: thresholds come from settings, and passes never overlap."""

from datetime import timedelta

import asyncpg

from schema.db import Pool
from service.settings import Settings
from tests.seed import EXPECTED, NOW, seed_planted_store
from workers.jobs.classify import _LOCK_KEY, run_classify, thresholds_from_settings


def test_thresholds_follow_settings(settings: Settings) -> None:
    changed = settings.model_copy(update={"report_sync_grace": timedelta(minutes=5)})
    assert thresholds_from_settings(changed).sync_grace == timedelta(minutes=5)


async def test_full_then_incremental_pass_through_the_job(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    typed: Pool = pool
    async with pool.acquire() as connection:
        await seed_planted_store(connection)
    full = await run_classify(typed, settings, full=True, now=NOW)
    assert full is not None
    assert full.kind == "full"
    assert full.opened == len(EXPECTED) + 1
    incremental = await run_classify(typed, settings, full=False, now=NOW)
    assert incremental is not None
    assert (incremental.opened, incremental.resolved) == (0, 0)


async def test_a_pass_is_skipped_while_another_holds_the_lock(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    async with pool.acquire() as holder:
        await holder.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            assert await run_classify(pool, settings, full=True, now=NOW) is None
        finally:
            await holder.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    assert await run_classify(pool, settings, full=True, now=NOW) is not None
