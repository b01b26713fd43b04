"""Drop raw webhook bodies older than the retention period.

Raw bodies carry customers' personal data; after `payload_retention` they are erased and the
delivery keeps only its metadata (topic, ids, times, status), so audits still see it arrived.
"""

from datetime import timedelta
from typing import Any

import structlog

from schema.db import Connection
from workers.context import resources

__all__ = ["purge_payloads", "run_purge_payloads"]

log = structlog.get_logger()


async def run_purge_payloads(connection: Connection, *, retention: timedelta) -> int:
    """Erase expired bodies of deliveries that are no longer pending; returns how many."""
    status: str = await connection.execute(
        """
        UPDATE webhook_delivery
        SET body = NULL, headers = '{}'::jsonb, body_redacted_at = now()
        WHERE body IS NOT NULL AND status <> 'pending' AND received_at < now() - $1::interval
        """,
        retention,
    )
    erased = int(status.rsplit(maxsplit=1)[-1])
    if erased:
        log.info("retention.payloads_purged", count=erased)
    return erased


async def purge_payloads(ctx: dict[str, Any]) -> int:
    res = resources(ctx)
    async with res.pool.acquire() as connection:
        return await run_purge_payloads(
            connection, retention=res.runtime.settings.payload_retention
        )
