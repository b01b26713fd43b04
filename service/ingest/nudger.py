"""Nudge the apply jobs after a commit, without ever letting Redis slow a webhook answer.

Shops (or supplier accounts) whose deliveries were just committed are collected in a set; one
short-lived task drains the set through `workers.trigger.trigger`. When Redis fails, nudges
stop for a few seconds and are dropped: the deliveries are already in Postgres and the sweeper
re-triggers them, so a lost nudge costs latency, never data.
"""

import asyncio
import time

import structlog
from arq.connections import ArqRedis

from workers.trigger import job_id, trigger

__all__ = ["ApplyNudger"]

log = structlog.get_logger()

# Jobs for one key are coalesced per bucket of this many seconds; each job drains every due
# delivery of its key, so one job per bucket is enough and bounds the queue's size.
_BUCKET_SECONDS = 0.1
_PAUSE_AFTER_FAILURE_SECONDS = 5.0


class ApplyNudger:
    def __init__(self, redis: ArqRedis, *, function: str, queue_name: str) -> None:
        self._redis = redis
        self._function = function
        self._queue_name = queue_name
        self._keys: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._paused_until = 0.0

    def nudge(self, keys: set[int]) -> None:
        if time.monotonic() < self._paused_until:
            return
        self._keys |= keys
        if self._task is None:
            self._task = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._keys:
                keys, self._keys = self._keys, set()
                bucket = int(time.time() / _BUCKET_SECONDS)
                for key in sorted(keys):
                    unique = job_id(self._queue_name, self._function, key, bucket)
                    ok = await trigger(
                        self._redis,
                        self._function,
                        key,
                        queue_name=self._queue_name,
                        unique_id=unique,
                    )
                    if not ok and not await self._redis_alive():
                        self._paused_until = time.monotonic() + _PAUSE_AFTER_FAILURE_SECONDS
                        self._keys.clear()
                        return
        finally:
            self._task = None

    async def _redis_alive(self) -> bool:
        # trigger() returns False both for "already queued" and for "Redis down"; tell them apart.
        try:
            async with asyncio.timeout(0.5):
                await self._redis.ping()
        except Exception:  # noqa: BLE001  (any failure means down)
            return False
        return True

    async def wait_idle(self, *, grace_seconds: float = 5.0) -> None:
        """Wait (bounded) for the current task to finish; used at shutdown."""
        deadline = asyncio.get_running_loop().time() + grace_seconds
        while self._task is not None and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait({self._task}, timeout=deadline - asyncio.get_running_loop().time())
