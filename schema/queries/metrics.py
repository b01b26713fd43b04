"""Gauges read from the database at scrape time.

Postgres is the source of truth, so the operational numbers that matter (backlog, its age, open
breaks, shops by status) are read from it rather than counted in one process: every API
instance reports the same figures whichever process did the work. Each query rides a partial
index (pending deliveries, open mismatches), so a scrape stays cheap at any table size.
"""

from dataclasses import dataclass

from schema.db import Connection

__all__ = ["OperationalFigures", "read_operational_figures"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationalFigures:
    # source -> (pending deliveries, age in seconds of the oldest one, 0 when none)
    pending_deliveries: dict[str, tuple[int, float]]
    # (class, outcome) -> open mismatch rows
    open_mismatches: dict[tuple[str, str], int]
    # status -> shops
    shops: dict[str, int]


async def read_operational_figures(connection: Connection) -> OperationalFigures:
    backlog = await connection.fetch(
        """
        SELECT 'shopify' AS source, count(*) AS pending,
               COALESCE(extract(epoch FROM now() - min(received_at)), 0)::float8 AS oldest
        FROM webhook_delivery WHERE status = 'pending'
        UNION ALL
        SELECT 'supplier', count(*),
               COALESCE(extract(epoch FROM now() - min(received_at)), 0)::float8
        FROM supplier_delivery WHERE status = 'pending'
        """
    )
    mismatches = await connection.fetch(
        'SELECT "class", outcome, count(*) AS open FROM mismatch'
        " WHERE resolved_at IS NULL GROUP BY 1, 2"
    )
    shops = await connection.fetch("SELECT status, count(*) AS shops FROM shop GROUP BY 1")
    return OperationalFigures(
        pending_deliveries={row["source"]: (row["pending"], row["oldest"]) for row in backlog},
        open_mismatches={(row["class"], row["outcome"]): row["open"] for row in mismatches},
        shops={row["status"]: row["shops"] for row in shops},
    )
