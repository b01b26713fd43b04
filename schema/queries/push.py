"""The push ledger, push blocks and the worker's view of what is due.

Ledger rule: a row per planned fulfilment (shop, order, package set, location) is written with
its idempotency key and committed *before* Shopify is called. A crash after that leaves a
pending row; the next run re-reads the order, adopts a fulfilment that already carries the
tracking number, and only otherwise sends again under the same key.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schema.classify.unsynced import unsynced_cte
from schema.db import Connection

__all__ = [
    "BLOCK_RECHECK",
    "PUSH_FAILED",
    "BlockRecord",
    "LedgerRow",
    "PackageForPlan",
    "PushedRecord",
    "adopt_push",
    "claim_push",
    "clear_blocks",
    "complete_push",
    "defer_push",
    "due_shops",
    "fail_push",
    "insert_order_event",
    "mark_shop_needs_attention",
    "order_packages",
    "pushable_orders",
    "pushed_packages",
    "record_blocks",
    "supersede_pending",
]

# The block reason of a parked (failed) push; planner blocks use core.planner.BlockReason.
PUSH_FAILED = "push_failed"
# A plan block is looked at again after this long even if no webhook said the order changed.
BLOCK_RECHECK = timedelta(hours=1)

_LEDGER_COLUMNS = (
    "push_id, shop_id, order_id, package_ids, location_id, idempotency_key, kind, status, "
    "attempts, next_attempt_at, fulfillment_id, last_error"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    push_id: int
    shop_id: int
    order_id: int
    package_ids: list[int]
    location_id: int | None
    idempotency_key: str
    kind: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    fulfillment_id: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PushedRecord:
    """A package an earlier push put on a fulfilment (for tracking changes)."""

    package_id: int
    supplier_order_id: int
    fulfillment_id: int
    tracking_number_norm: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockRecord:
    package_id: int
    reason: str
    message: str
    push_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageForPlan:
    """An unsynced package of one order, with what the planner needs from its supplier order."""

    package_id: int
    supplier_order_id: int
    tracking_number: str
    tracking_number_norm: str
    carrier: str | None
    tracking_url: str | None
    lines: list[dict[str, Any]]
    supplier_order_lines: list[dict[str, Any]]
    supplier_order_package_count: int


async def order_packages(
    connection: Connection, *, shop_id: int, order_id: int, grace: timedelta
) -> list[PackageForPlan]:
    """The order's unsynced packages (the classifier's rule), for the planner."""
    rows = await connection.fetch(
        f"""
        WITH unsynced AS ({unsynced_cte(grace="$1", shop_id="$2")})
        SELECT u.package_id, u.supplier_order_id, u.tracking_number, u.tracking_number_norm,
               u.carrier, u.tracking_url, u.lines, so.lines AS supplier_order_lines,
               (SELECT count(*) FROM package p2
                WHERE p2.shop_id = u.shop_id AND p2.supplier_order_id = u.supplier_order_id
                  AND p2.superseded_at IS NULL)::int AS supplier_order_package_count
        FROM unsynced u
        JOIN supplier_order so
          ON so.shop_id = u.shop_id AND so.supplier_order_id = u.supplier_order_id
        WHERE u.order_id = $3
        ORDER BY u.package_id
        """,
        grace,
        shop_id,
        order_id,
    )
    return [PackageForPlan(**dict(row)) for row in rows]


async def mark_shop_needs_attention(connection: Connection, *, shop_id: int, reason: str) -> None:
    await connection.execute(
        """
        UPDATE shop SET status = 'needs_attention', attention_reason = $2
        WHERE shop_id = $1 AND status = 'active'
        """,
        shop_id,
        reason,
    )


def _pushable_where(*, grace: str, shop_id: str, recheck: str) -> str:
    """Unsynced packages the worker should act on now (not blocked, not waiting to retry)."""
    return f"""
    WITH unsynced AS ({unsynced_cte(grace=grace, shop_id=shop_id)})
    SELECT u.shop_id, u.order_id, u.package_id
    FROM unsynced u
    JOIN shopify_order o ON o.shop_id = u.shop_id AND o.order_id = u.order_id
    JOIN package p ON p.shop_id = u.shop_id AND p.package_id = u.package_id
    WHERE NOT EXISTS (
        SELECT 1 FROM push_block b
        WHERE b.shop_id = u.shop_id AND b.package_id = u.package_id
          AND b.recorded_at >= GREATEST(o.stored_at, COALESCE(o.refreshed_at, o.stored_at),
                                        p.stored_at)
          AND (b.reason = '{PUSH_FAILED}' OR b.recorded_at > now() - {recheck}::interval)
    )
    AND NOT EXISTS (
        SELECT 1 FROM push l
        WHERE l.shop_id = u.shop_id AND l.order_id = u.order_id AND l.status = 'pending'
          AND l.next_attempt_at > now() AND u.package_id = ANY (l.package_ids)
    )
    """


async def pushable_orders(
    connection: Connection, *, shop_id: int, grace: timedelta, limit: int
) -> list[int]:
    """Orders of the shop with packages to push now, oldest package first."""
    rows = await connection.fetch(
        f"""
        WITH pushable AS ({_pushable_where(grace="$1", shop_id="$2", recheck="$3")})
        SELECT order_id FROM pushable
        GROUP BY order_id ORDER BY min(package_id) LIMIT $4
        """,
        grace,
        shop_id,
        BLOCK_RECHECK,
        limit,
    )
    return [row["order_id"] for row in rows]


async def due_shops(connection: Connection, *, grace: timedelta) -> dict[str, list[int]]:
    """Active shops with work: {"push": [...], "refresh": [...]}.

    "push" lists shops with pushable packages, "refresh" shops with orders marked needs_refresh.
    """
    push_rows = await connection.fetch(
        f"""
        WITH pushable AS ({_pushable_where(grace="$1", shop_id="$2", recheck="$3")})
        SELECT DISTINCT pushable.shop_id FROM pushable JOIN shop s USING (shop_id)
        WHERE s.status = 'active' ORDER BY pushable.shop_id
        """,
        grace,
        None,
        BLOCK_RECHECK,
    )
    refresh_rows = await connection.fetch(
        """
        SELECT DISTINCT o.shop_id FROM shopify_order o JOIN shop s USING (shop_id)
        WHERE o.needs_refresh AND s.status = 'active' ORDER BY o.shop_id
        """
    )
    return {
        "push": [row["shop_id"] for row in push_rows],
        "refresh": [row["shop_id"] for row in refresh_rows],
    }


async def pushed_packages(
    connection: Connection, *, shop_id: int, order_id: int
) -> list[PushedRecord]:
    """Packages of the order that succeeded or adopted pushes put on a fulfilment."""
    rows = await connection.fetch(
        """
        SELECT DISTINCT ON (p.package_id)
               p.package_id, p.supplier_order_id, l.fulfillment_id, p.tracking_number_norm
        FROM push l
        JOIN package p ON p.shop_id = l.shop_id AND p.package_id = ANY (l.package_ids)
        WHERE l.shop_id = $1 AND l.order_id = $2 AND l.status IN ('succeeded', 'adopted')
          AND l.fulfillment_id IS NOT NULL
        ORDER BY p.package_id, l.push_id DESC
        """,
        shop_id,
        order_id,
    )
    return [PushedRecord(**dict(row)) for row in rows]


async def claim_push(
    connection: Connection,
    *,
    shop_id: int,
    order_id: int,
    idempotency_key: str,
    kind: str,
    package_ids: Sequence[int],
    location_id: int | None,
    request: dict[str, Any],
) -> LedgerRow:
    """Write (or find) the ledger row for a planned call and count an attempt if pending.

    Commit this before calling Shopify. A row that is no longer pending comes back unchanged:
    the caller must not send.
    """
    row = await connection.fetchrow(
        f"""
        INSERT INTO push AS l (shop_id, order_id, package_ids, location_id, idempotency_key,
                               kind, status, attempts, request)
        VALUES ($1, $2, $3, $4, $5, $6, 'pending', 1, $7)
        ON CONFLICT (shop_id, idempotency_key) DO UPDATE SET
            attempts = l.attempts + CASE WHEN l.status = 'pending' THEN 1 ELSE 0 END,
            request = CASE WHEN l.status = 'pending' THEN EXCLUDED.request ELSE l.request END,
            status = CASE WHEN l.status = 'superseded' THEN 'pending' ELSE l.status END,
            updated_at = now()
        RETURNING {_LEDGER_COLUMNS}
        """,
        shop_id,
        order_id,
        sorted(package_ids),
        location_id,
        idempotency_key,
        kind,
        request,
    )
    assert row is not None  # noqa: S101  (INSERT ... RETURNING always yields a row)
    return LedgerRow(**dict(row))


async def complete_push(
    connection: Connection, *, shop_id: int, push_id: int, status: str, fulfillment_id: int
) -> None:
    """Mark a ledger row succeeded or adopted, with the fulfilment it went into."""
    await connection.execute(
        """
        UPDATE push SET status = $3, fulfillment_id = $4, last_error = NULL,
                        next_attempt_at = NULL, completed_at = now(), updated_at = now()
        WHERE shop_id = $1 AND push_id = $2
        """,
        shop_id,
        push_id,
        status,
        fulfillment_id,
    )


async def adopt_push(
    connection: Connection,
    *,
    shop_id: int,
    order_id: int,
    package_ids: Sequence[int],
    fulfillment_id: int,
) -> int:
    """Record that the packages are already on `fulfillment_id` (made by anyone).

    A pending row covering the same packages becomes adopted; otherwise a new adopted row is
    written. Returns the push id.
    """
    ids = sorted(package_ids)
    push_id: int | None = await connection.fetchval(
        """
        UPDATE push SET status = 'adopted', fulfillment_id = $4, last_error = NULL,
                        next_attempt_at = NULL, completed_at = now(), updated_at = now()
        WHERE push_id = (
            SELECT push_id FROM push
            WHERE shop_id = $1 AND order_id = $2 AND status IN ('pending', 'superseded')
              AND package_ids @> $3::bigint[]
            ORDER BY push_id DESC LIMIT 1
        )
        RETURNING push_id
        """,
        shop_id,
        order_id,
        ids,
        fulfillment_id,
    )
    if push_id is not None:
        return push_id
    created: int = await connection.fetchval(
        """
        INSERT INTO push (shop_id, order_id, package_ids, idempotency_key, kind, status,
                          fulfillment_id, completed_at)
        VALUES ($1, $2, $3, $4, 'adopt', 'adopted', $5, now())
        ON CONFLICT (shop_id, idempotency_key) DO UPDATE SET updated_at = now()
        RETURNING push_id
        """,
        shop_id,
        order_id,
        ids,
        f"adopt:{order_id}:{','.join(map(str, ids))}:{fulfillment_id}",
        fulfillment_id,
    )
    return created


async def defer_push(
    connection: Connection, *, shop_id: int, push_id: int, error: str, next_attempt_at: datetime
) -> None:
    """Leave a row pending after a transient failure; it is retried at `next_attempt_at`."""
    await connection.execute(
        """
        UPDATE push SET last_error = $3, next_attempt_at = $4, updated_at = now()
        WHERE shop_id = $1 AND push_id = $2 AND status = 'pending'
        """,
        shop_id,
        push_id,
        error,
        next_attempt_at,
    )


async def fail_push(
    connection: Connection, *, shop_id: int, push_id: int, order_id: int, error: str
) -> None:
    """Park a row as failed with Shopify's message, and block its packages until the order
    changes."""
    package_ids: list[int] | None = await connection.fetchval(
        """
        UPDATE push SET status = 'failed', last_error = $3, completed_at = now(),
                        updated_at = now()
        WHERE shop_id = $1 AND push_id = $2
        RETURNING package_ids
        """,
        shop_id,
        push_id,
        error,
    )
    await record_blocks(
        connection,
        shop_id=shop_id,
        order_id=order_id,
        blocks=[
            BlockRecord(package_id=package_id, reason=PUSH_FAILED, message=error, push_id=push_id)
            for package_id in package_ids or []
        ],
    )


async def supersede_pending(
    connection: Connection, *, shop_id: int, order_id: int, keep_keys: Sequence[str]
) -> int:
    """Pending rows of the order that the latest plan no longer contains become superseded.

    Safe because the plan was made from a fresh read: a fulfilment a superseded row may have
    created would have been adopted instead.
    """
    status: str = await connection.execute(
        """
        UPDATE push SET status = 'superseded', updated_at = now()
        WHERE shop_id = $1 AND order_id = $2 AND status = 'pending'
          AND NOT (idempotency_key = ANY ($3::text[]))
        """,
        shop_id,
        order_id,
        list(keep_keys),
    )
    return int(status.rsplit(maxsplit=1)[-1])


async def record_blocks(
    connection: Connection, *, shop_id: int, order_id: int, blocks: Sequence[BlockRecord]
) -> list[int]:
    """Upsert block rows; returns the package ids whose reason or message changed."""
    if not blocks:
        return []
    ids = [block.package_id for block in blocks]
    before = {
        row["package_id"]: (row["reason"], row["message"])
        for row in await connection.fetch(
            """
            SELECT package_id, reason, message FROM push_block
            WHERE shop_id = $1 AND package_id = ANY ($2::bigint[])
            """,
            shop_id,
            ids,
        )
    }
    await connection.execute(
        """
        INSERT INTO push_block AS b (shop_id, package_id, order_id, reason, message, push_id)
        SELECT $1, block.package_id, $2, block.reason, block.message, block.push_id
        FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[])
             AS block(package_id, reason, message, push_id)
        ON CONFLICT (shop_id, package_id) DO UPDATE SET
            order_id = EXCLUDED.order_id, reason = EXCLUDED.reason,
            message = EXCLUDED.message, push_id = EXCLUDED.push_id, recorded_at = now()
        """,
        shop_id,
        order_id,
        ids,
        [block.reason for block in blocks],
        [block.message for block in blocks],
        [block.push_id for block in blocks],
    )
    return [
        block.package_id
        for block in blocks
        if before.get(block.package_id) != (block.reason, block.message)
    ]


async def clear_blocks(connection: Connection, *, shop_id: int, package_ids: Sequence[int]) -> None:
    if package_ids:
        await connection.execute(
            "DELETE FROM push_block WHERE shop_id = $1 AND package_id = ANY ($2::bigint[])",
            shop_id,
            list(package_ids),
        )


async def insert_order_event(
    connection: Connection,
    *,
    shop_id: int,
    order_id: int | None,
    kind: str,
    detail: dict[str, Any],
    actor: str = "worker",
    supplier_order_id: int | None = None,
) -> None:
    await connection.execute(
        """
        INSERT INTO order_event (shop_id, order_id, supplier_order_id, kind, actor, detail)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        shop_id,
        order_id,
        supplier_order_id,
        kind,
        actor,
        detail,
    )
