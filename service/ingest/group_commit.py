"""Group commit: concurrent requests share one transaction, each answered after its commit.

A request hands its row to the writer and awaits a future. Whoever finds the writer idle starts
a flush task; the task takes every row queued so far, inserts them in one statement and one
transaction, resolves their futures, and repeats until the queue is empty, then ends. At low
load a batch is one row and nothing waits; under load, rows that arrive during a commit ride the
next one, so the commit rate stops being the ceiling. No task outlives the work.
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
        after_commit: AfterCommit[RowT] | None = None,
    ) -> None:
        self._pool = pool
        self._flush = flush
        self._max_batch = max_batch
        self._after_commit = after_commit
        self._queue: list[tuple[RowT, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, row: RowT) -> None:
        """Return once `row` is committed; raise what the commit raised.

        Cancelling the caller (a timeout) does not withdraw the row: it may still commit, which
        is safe because every insert is idempotent on the delivery's natural key.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._commit(batch)
        finally:
            self._task = None
            if self._queue:  # rows queued while the last commit was finishing
                self._task = asyncio.create_task(self._drain())

    async def _commit(self, batch: list[tuple[RowT, asyncio.Future[None]]]) -> None:
        rows = [row for row, _ in batch]
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                await self._flush(connection, rows)
        except Exception as error:  # noqa: BLE001  (handed to every waiting request)
            log.warning("ingest.batch_failed", rows=len(rows), error=repr(error))
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        if self._after_commit is not None:
            self._after_commit(rows)

    async def wait_idle(self, *, grace_seconds: float = 5.0) -> None:
        """Wait (bounded) for the current task to finish; used at shutdown."""
        deadline = asyncio.get_running_loop().time() + grace_seconds
        while self._task is not None and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait({self._task}, timeout=deadline - asyncio.get_running_loop().time())
