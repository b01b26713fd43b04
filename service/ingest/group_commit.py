"""Group commit: concurrent requests share one transaction, each answered after its commit.

A request hands its row to the writer and awaits a future. Up to `max_in_flight` flush tasks run
at once; each takes every row queued so far, inserts them with one statement (`flush` must be a
single statement: it runs in autocommit, so it is its own transaction),
resolves their futures, and repeats until the queue is empty, then ends. At low load a batch is
one row and nothing waits; under load, rows that arrive during a commit ride the next one, so
the commit rate stops being the ceiling. Several flushes in flight cost little: PostgreSQL folds
commits that wait on the same WAL flush into one fsync, while a row queued behind a busy flush
waits a whole commit. No task outlives the work.

A drain that ends keeps its connection for `keep_idle_seconds` instead of handing it back to
the pool at once: handing back costs a reset round trip (asyncpg runs `RESET ALL` and friends),
which at a few thousand deliveries per second was a measurable share of both the API's and
PostgreSQL's CPU. Kept connections only ever run the flush statement in autocommit, so there is
no session state to reset; they go back to the pool (reset then) once idle, or at shutdown.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeAlias, TypeVar

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

from schema.db import Connection, Pool

__all__ = ["GroupCommitWriter"]

log = structlog.get_logger()

RowT = TypeVar("RowT")
PooledConnection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"

Flush = Callable[[Connection, Sequence[RowT]], Awaitable[object]]
AfterCommit = Callable[[Sequence[RowT]], None]


def _usable(connection: Connection) -> bool:
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:  # the pool took the connection back when it was lost
        return False


class GroupCommitWriter(Generic[RowT]):
    def __init__(
        self,
        pool: Pool,
        flush: Flush[RowT],
        *,
        max_batch: int = 500,
        max_in_flight: int = 2,
        after_commit: AfterCommit[RowT] | None = None,
        keep_idle_seconds: float = 1.0,
    ) -> None:
        self._pool = pool
        self._flush = flush
        self._max_batch = max_batch
        self._after_commit = after_commit
        self._max_in_flight = max_in_flight
        self._queue: list[tuple[RowT, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # Drains started but not yet holding a connection. One is enough: it takes every row
        # queued by the time it has one. Starting more only made drains that found the queue
        # empty, and each still cost a pool acquire and release (a reset round trip).
        self._connecting: set[asyncio.Task[None]] = set()
        # Connections of finished drains, most recently used last, with when they went idle.
        self._idle: list[tuple[PooledConnection, float]] = []
        self._keep_idle_seconds = keep_idle_seconds
        self._reaper: asyncio.TimerHandle | None = None
        self._releasing: set[asyncio.Task[None]] = set()

    async def write(self, row: RowT) -> None:
        """Return once `row` is committed; raise what the commit raised.

        Cancelling the caller (a timeout) does not withdraw the row: it may still commit, which
        is safe because every insert is idempotent on the delivery's natural key.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        self._maybe_start_drain()
        await future

    def _maybe_start_drain(self) -> None:
        if not self._connecting and len(self._tasks) < self._max_in_flight:
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            self._connecting.add(task)
            task.add_done_callback(self._drained)

    def _drained(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._connecting.discard(task)
        if self._queue:
            self._maybe_start_drain()  # rows queued while the last commit was finishing

    async def _drain(self) -> None:
        # One connection per drain, not per batch, and kept between drains (see above).
        connection = self._take_idle()
        if connection is None:
            try:
                connection = await self._pool.acquire()
            except Exception as error:  # noqa: BLE001  (no connection: fail what is waiting, fast)
                log.warning("ingest.no_connection", error=repr(error))
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                self._fail(batch, error)
                return
        self._connecting.discard(asyncio.current_task())
        healthy = False
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                if not await self._commit(connection, batch):
                    return  # the connection may be broken; a fresh drain takes the rest
            healthy = True
        finally:
            if healthy and _usable(connection):
                self._keep(connection)
            else:
                self._release_soon(connection)  # the pool resets it, or drops a broken one

    def _take_idle(self) -> "PooledConnection | None":
        while self._idle:
            connection, _ = self._idle.pop()
            if _usable(connection):
                return connection
            self._release_soon(connection)
        return None

    def _keep(self, connection: PooledConnection) -> None:
        self._idle.append((connection, time.monotonic()))
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().call_later(
                self._keep_idle_seconds, self._reap
            )

    def _reap(self) -> None:
        """Hand connections idle for `keep_idle_seconds` back to the pool."""
        self._reaper = None
        cutoff = time.monotonic() - self._keep_idle_seconds
        while self._idle and self._idle[0][1] <= cutoff:
            connection, _ = self._idle.pop(0)
            self._release_soon(connection)
        if self._idle:
            self._reaper = asyncio.get_running_loop().call_later(
                self._idle[0][1] - cutoff, self._reap
            )

    def _release_soon(self, connection: PooledConnection) -> None:
        task = asyncio.create_task(self._release(connection))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release(self, connection: PooledConnection) -> None:
        try:
            await self._pool.release(connection)
        except Exception as error:  # noqa: BLE001  (the pool already dropped it; nothing to do)
            log.warning("ingest.release_failed", error=repr(error))

    @staticmethod
    def _fail(batch: list[tuple[RowT, asyncio.Future[None]]], error: Exception) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)

    async def _commit(
        self, connection: Connection, batch: list[tuple[RowT, asyncio.Future[None]]]
    ) -> bool:
        rows = [row for row, _ in batch]
        try:
            # The flush is one statement, atomic on its own: no BEGIN/COMMIT round trips.
            await self._flush(connection, rows)
        except Exception as error:  # noqa: BLE001  (handed to the waiting requests)
            log.warning("ingest.batch_failed", rows=len(rows), error=repr(error))
            if len(batch) == 1 or not _usable(connection):
                self._fail(batch, error)
                return False
            # One bad row must not fail the requests it happened to share a batch with.
            for index, single in enumerate(batch):
                if not await self._commit(connection, [single]) and not _usable(connection):
                    self._fail(batch[index + 1 :], error)
                    return False
            return True
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        if self._after_commit is not None:
            self._after_commit(rows)
        return True

    async def wait_idle(self, *, grace_seconds: float = 5.0) -> None:
        """Wait (bounded) for the current drains to finish, then give every kept connection
        back to the pool; used at shutdown, before the pool closes."""
        deadline = asyncio.get_running_loop().time() + grace_seconds
        while self._tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait(
                set(self._tasks), timeout=deadline - asyncio.get_running_loop().time()
            )
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        while self._idle:
            self._release_soon(self._idle.pop()[0])
        if self._releasing:
            await asyncio.wait(
                set(self._releasing),
                timeout=max(0.1, deadline - asyncio.get_running_loop().time()),
            )
