"""The group-commit writer: concurrent rows share statements; a bad row fails only itself."""

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from schema.db import Connection
from service.ingest.group_commit import GroupCommitWriter


@pytest.fixture
async def probe_table(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """A scratch table, dropped afterwards (the migration drift check must not see it)."""
    async with pool.acquire() as connection:
        await connection.execute("CREATE TABLE gc_probe_rows (v text NOT NULL CHECK (v <> 'bad'))")
    try:
        yield
    finally:
        async with pool.acquire() as connection:
            await connection.execute("DROP TABLE gc_probe_rows")


async def _insert(connection: Connection, rows: Sequence[str]) -> None:
    await connection.execute("INSERT INTO gc_probe_rows (v) SELECT unnest($1::text[])", list(rows))


@pytest.mark.usefixtures("probe_table")
async def test_concurrent_writes_share_batches_and_all_commit(pool: asyncpg.Pool) -> None:
    batches: list[int] = []

    async def flush(connection: Connection, rows: Sequence[str]) -> None:
        batches.append(len(rows))
        await _insert(connection, rows)

    writer: GroupCommitWriter[str] = GroupCommitWriter(pool, flush)
    await asyncio.gather(*(writer.write(f"row-{index}") for index in range(50)))
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM gc_probe_rows") == 50
    assert sum(batches) == 50
    assert len(batches) < 50  # rows arriving during a commit rode a shared one


@pytest.mark.usefixtures("probe_table")
async def test_a_bad_row_fails_only_its_own_request(pool: asyncpg.Pool) -> None:
    writer: GroupCommitWriter[str] = GroupCommitWriter(pool, _insert)
    results = await asyncio.gather(
        *(writer.write(value) for value in ["a", "b", "bad", "c", "d"]), return_exceptions=True
    )
    assert [isinstance(result, asyncpg.CheckViolationError) for result in results] == [
        False,
        False,
        True,
        False,
        False,
    ]
    async with pool.acquire() as connection:
        stored = await connection.fetch("SELECT v FROM gc_probe_rows ORDER BY v")
    assert [row["v"] for row in stored] == ["a", "b", "c", "d"]


async def test_unreachable_database_fails_waiting_writes_fast() -> None:
    pool = await asyncpg.create_pool("postgresql://nobody@127.0.0.1:1/none", min_size=0)
    writer: GroupCommitWriter[str] = GroupCommitWriter(pool, _insert)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(writer.write("x"), timeout=5)
    await pool.close()
