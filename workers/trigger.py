"""Enqueue a job without ever letting Redis decide an answer.

Postgres holds the work; a job is only a nudge. When Redis is down or slow the nudge is dropped
and logged, and the periodic sweepers pick the work up from the database.
"""

from typing import Any

import structlog
from arq.connections import ArqRedis

__all__ = ["job_id", "trigger"]

log = structlog.get_logger()


def job_id(queue_name: str, *parts: object) -> str:
    """A job id namespaced by queue, so deployments sharing a Redis never collide."""
    return ":".join([queue_name, *(str(part) for part in parts)])


async def trigger(
    redis: ArqRedis,
    function: str,
    *args: Any,
    queue_name: str,
    unique_id: str | None = None,
    defer_seconds: float | None = None,
) -> bool:
    """Enqueue `function`; returns False when Redis refused or a same-id job is already queued."""
    try:
        job = await redis.enqueue_job(
            function,
            *args,
            _queue_name=queue_name,
            _job_id=unique_id,
            _defer_by=defer_seconds,
        )
    except Exception as error:  # noqa: BLE001  (Redis trouble must never fail the caller)
        log.warning("queue.trigger_failed", function=function, error=repr(error))
        return False
    return job is not None
