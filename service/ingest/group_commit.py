"""Group commit: concurrent requests share one transaction, each answered after its commit.

A request hands its row to the writer and awaits a future. Up to `max_in_flight` flush tasks run
at once; each takes every row queued so far, inserts them with one statement (`flush` must be a
single statement: it runs in autocommit, so it is its own transaction),
resolves their futures, and repeats until the queue is empty, then ends. At low load a batch is
one row and nothing waits; under load, rows that arrive during a commit ride the next one, so
the commit rate stops being the ceiling, and two flushes in flight keep the database busy while
the other one waits on its fsync. No task outlives the work.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import structlog

from schema.db import Connection, Pool

__all__ = ["GroupCommitWriter"]

log = structlog.get_logger()

RowT = TypeVar("RowT")

Flush = Callable[[Connection, Sequence[RowT]], Awaitable[object]]
AfterCommit = Callable[[Sequence[RowT]], None]


class GroupCommitWriter(Generic[RowT]):
    def __init__(
        self,
        pool: Pool,
        flush: Flush[RowT],
        *,
        max_batch: int = 500,
        max_in_flight: int = 2,
        after_commit: AfterCommit[RowT] | None = None,
    ) -> None:
        self._pool = pool
        self._flush = flush
        self._max_batch = max_batch
        self._after_commit = after_commit
        self._max_in_flight = max_in_flight
        self._queue: list[tuple[RowT, asyncio.Future[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, row: RowT) -> None:
        """Return once `row` is committed; raise what the commit raised.

        Cancelling the caller (a timeout) does not withdraw the row: it may still commit, which
        is safe because every insert is idempotent on the delivery's natural key.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        if len(self._tasks) < self._max_in_flight:
            self._start_drain()
        await future

    def _start_drain(self) -> None:
        task = asyncio.create_task(self._drain())
        self._tasks.add(task)
        task.add_done_callback(self._drained)

    def _drained(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._queue and len(self._tasks) < self._max_in_flight:
            self._start_drain()  # rows queued while the last commit was finishing

    async def _drain(self) -> None:
        # One connection per drain, not per batch: releasing a pooled connection costs a
        # round trip (asyncpg resets it), and under load a drain runs many batches.
        try:
            async with self._pool.acquire() as connection:
                while self._queue:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                    if not await self._commit(connection, batch):
                        return  # the connection may be broken; a fresh drain takes the rest
        except Exception as error:  # noqa: BLE001  (no connection: fail what is waiting, fast)
            log.warning("ingest.no_connection", error=repr(error))
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            self._fail(batch, error)

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
            if len(batch) == 1 or connection.is_closed():
                self._fail(batch, error)
                return False
            # One bad row must not fail the requests it happened to share a batch with.
            for index, single in enumerate(batch):
                if not await self._commit(connection, [single]) and connection.is_closed():
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
        """Wait (bounded) for the current task to finish; used at shutdown."""
        deadline = asyncio.get_running_loop().time() + grace_seconds
        while self._tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait(
                set(self._tasks), timeout=deadline - asyncio.get_running_loop().time()
            )
