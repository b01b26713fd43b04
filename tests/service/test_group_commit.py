"""The group-commit writer: concurrent rows share statements; a bad row fails only itself."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import suppress
from typing import cast

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


class _CountingPool:
    """The real pool, counting how many connections the writer borrows."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.acquired = 0

    def acquire(self) -> object:
        self.acquired += 1
        return self._pool.acquire()

    async def release(self, connection: object) -> None:
        await self._pool.release(connection)  # type: ignore[arg-type]


@pytest.mark.usefixtures("probe_table")
async def test_every_borrowed_connection_commits_a_batch(pool: asyncpg.Pool) -> None:
    batches: list[int] = []

    async def flush(connection: Connection, rows: Sequence[str]) -> None:
        batches.append(len(rows))
        await _insert(connection, rows)

    counting = _CountingPool(pool)
    writer: GroupCommitWriter[str] = GroupCommitWriter(
        cast(asyncpg.Pool, counting), flush, max_in_flight=8
    )
    for wave in range(5):
        await asyncio.gather(*(writer.write(f"row-{wave}-{index}") for index in range(40)))
    assert sum(batches) == 200
    # A drain is only started when none is already waiting for a connection, so none finds
    # the queue empty (each borrow costs a reset round trip when it is returned).
    assert counting.acquired <= len(batches)


@pytest.mark.usefixtures("probe_table")
async def test_connections_are_kept_between_drains_and_handed_back_when_idle(
    pool: asyncpg.Pool,
) -> None:
    counting = _CountingPool(pool)
    writer: GroupCommitWriter[str] = GroupCommitWriter(
        cast(asyncpg.Pool, counting), _insert, max_in_flight=4, keep_idle_seconds=0.3
    )
    for wave in range(10):
        await asyncio.gather(*(writer.write(f"row-{wave}-{index}") for index in range(20)))
    # Each drain reuses a kept connection rather than borrowing (and resetting) a fresh one.
    assert counting.acquired <= 4
    kept = pool.get_size() - pool.get_idle_size()
    assert kept >= 1
    await asyncio.sleep(0.6)
    assert pool.get_size() - pool.get_idle_size() == 0  # idle ones went back to the pool
    await writer.write("after-idle")  # and a later write borrows again
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM gc_probe_rows") == 201


@pytest.mark.usefixtures("probe_table")
async def test_wait_idle_hands_kept_connections_back(pool: asyncpg.Pool) -> None:
    writer: GroupCommitWriter[str] = GroupCommitWriter(pool, _insert, keep_idle_seconds=60)
    await asyncio.gather(*(writer.write(f"row-{index}") for index in range(10)))
    assert pool.get_size() - pool.get_idle_size() >= 1
    await writer.wait_idle()
    assert pool.get_size() - pool.get_idle_size() == 0


@pytest.mark.usefixtures("probe_table")
async def test_a_kept_connection_that_was_lost_is_not_reused(pool: asyncpg.Pool) -> None:
    writer: GroupCommitWriter[str] = GroupCommitWriter(pool, _insert, keep_idle_seconds=60)
    await writer.write("first")
    kept = writer._idle[-1][0]  # the connection the writer keeps
    server_pid = kept.get_server_pid()
    async with pool.acquire() as connection:
        await connection.execute("SELECT pg_terminate_backend($1)", server_pid)
    for _ in range(100):  # until the client has seen the server go
        await asyncio.sleep(0.02)
        with suppress(asyncpg.InterfaceError):  # raised once the pool has detached it
            if not kept.is_closed():
                continue
        break
    await asyncio.wait_for(writer.write("second"), 5)  # on a fresh connection, not the lost one
    assert writer._idle[-1][0].get_server_pid() != server_pid
    await writer.wait_idle()
    async with pool.acquire() as connection:
        stored = await connection.fetch("SELECT v FROM gc_probe_rows ORDER BY v")
    assert [row["v"] for row in stored] == ["first", "second"]
