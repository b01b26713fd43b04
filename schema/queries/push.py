"""The push ledger, push blocks and the worker's view of what is due.

Ledger rule: a row per planned fulfilment (shop, order, package set, location) is written with
its idempotency key and committed *before* Shopify is called. A crash after that leaves a
pending row; the next run re-reads the order, adopts a fulfilment that already carries the
tracking number, and only otherwise sends again under the same key.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from core.tracking import normalize_tracking_number
from schema.classify.unsynced import BEFORE_CUTOVER_SQL, LIVE_FULFILLMENT_STATUSES_SQL, unsynced_cte
from schema.db import Connection
from schema.queries.connect import SHOP_CREDENTIALS_COLUMNS, ShopCredentials
from schema.queries.fulfillment_orders import (
    STORE_STATE_PARAMETERS,
    STORE_STATE_SQL,
    FulfillmentRow,
    OrderFulfillmentState,
    store_orders_fulfillment_state,
    store_state_arguments,
)

__all__ = [
    "BLOCK_RECHECK",
    "PUSH_FAILED",
    "BlockRecord",
    "LedgerRow",
    "PackageForPlan",
    "PushClaim",
    "PushSuccess",
    "PushedRecord",
    "adopt_push",
    "claim_push",
    "claim_pushes",
    "clear_blocks",
    "complete_push",
    "defer_push",
    "due_shops",
    "fail_push",
    "insert_order_event",
    "mark_shop_needs_attention",
    "note_push_error",
    "order_packages",
    "orders_packages",
    "pushable_orders",
    "pushed_packages",
    "record_blocks",
    "record_push_success",
    "record_push_successes",
    "retire_settled_pending",
    "shop_and_pushable_orders",
    "store_state_and_claim_pushes",
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
    # Set by claim_push: an earlier attempt may still be on its way to Shopify.
    in_flight: bool = False


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
    # Order-wide facts, the same on every row: they let the worker skip queries it does not
    # need (earlier pushes matter only for tracking changes; pending rows only to supersede).
    order_has_pushed: bool = False
    order_has_pending: bool = False


async def order_packages(
    connection: Connection, *, shop_id: int, order_id: int, grace: timedelta
) -> list[PackageForPlan]:
    """The order's current packages that no succeeded or adopted push covers yet.

    Unlike the classifier this keeps packages whose number is already on a fulfilment: the
    planner adopts those, so the ledger records every package's fulfilment (and a pending row
    left by an ambiguous call is resolved as adopted).
    """
    found = await orders_packages(connection, shop_id=shop_id, order_ids=[order_id], grace=grace)
    return found.get(order_id, [])


async def orders_packages(
    connection: Connection, *, shop_id: int, order_ids: Sequence[int], grace: timedelta
) -> dict[int, list[PackageForPlan]]:
    """`order_packages` for several orders of one shop in one statement: order id -> its
    packages (orders without any are left out)."""
    rows = await connection.fetch(
        f"""
        SELECT so.shopify_order_id AS order_id,
               p.package_id, p.supplier_order_id, p.tracking_number, p.tracking_number_norm,
               p.carrier, p.tracking_url, p.lines, so.lines AS supplier_order_lines,
               (SELECT count(*) FROM package p2
                WHERE p2.shop_id = p.shop_id AND p2.supplier_order_id = p.supplier_order_id
                  AND p2.superseded_at IS NULL)::int AS supplier_order_package_count,
               EXISTS (SELECT 1 FROM push l
                       WHERE l.shop_id = $1 AND l.order_id = so.shopify_order_id
                         AND l.status IN ('succeeded', 'adopted')) AS order_has_pushed,
               EXISTS (SELECT 1 FROM push l
                       WHERE l.shop_id = $1 AND l.order_id = so.shopify_order_id
                         AND l.status = 'pending') AS order_has_pending
        FROM package p
        JOIN shop s ON s.shop_id = p.shop_id
        JOIN supplier_order so
          ON so.shop_id = p.shop_id AND so.supplier_order_id = p.supplier_order_id
        WHERE p.shop_id = $1 AND so.shopify_order_id = ANY ($2::bigint[])
          AND p.superseded_at IS NULL
          AND NOT ({BEFORE_CUTOVER_SQL})
          AND COALESCE(p.shipped_at, p.stored_at) <= now() - $3::interval
          AND NOT EXISTS (
              SELECT 1 FROM push l
              WHERE l.shop_id = p.shop_id AND l.order_id = so.shopify_order_id
                AND l.status IN ('succeeded', 'adopted')
                AND p.package_id = ANY (l.package_ids)
          )
        ORDER BY so.shopify_order_id, p.package_id
        """,
        shop_id,
        list(order_ids),
        grace,
    )
    found: dict[int, list[PackageForPlan]] = {}
    for row in rows:
        values = dict(row)
        found.setdefault(values.pop("order_id"), []).append(PackageForPlan(**values))
    return found


async def mark_shop_needs_attention(connection: Connection, *, shop_id: int, reason: str) -> None:
    await connection.execute(
        """
        UPDATE shop SET status = 'needs_attention', attention_reason = $2
        WHERE shop_id = $1 AND status = 'active'
        """,
        shop_id,
        reason,
    )


def _pushable_where(*, grace: str, shop_id: str | None, recheck: str) -> str:
    """Unsynced packages the worker should act on now (not blocked, not waiting to retry)."""
    return f"""
    WITH unsynced AS ({unsynced_cte(grace=grace, shop_id=shop_id)})
    SELECT u.shop_id, u.order_id, u.package_id
    FROM unsynced u
    JOIN shopify_order o ON o.shop_id = u.shop_id AND o.order_id = u.order_id
    JOIN package p ON p.shop_id = u.shop_id AND p.package_id = u.package_id
    WHERE NOT u.before_cutover
    AND NOT EXISTS (
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


async def shop_and_pushable_orders(
    connection: Connection, *, shop_id: int, grace: timedelta, limit: int
) -> tuple[ShopCredentials | None, list[int]]:
    """The shop's row (`schema.queries.connect.shop_credentials`) and its `pushable_orders`,
    in one statement: how every push run starts."""
    row = await connection.fetchrow(
        f"""
        WITH pushable AS ({_pushable_where(grace="$1", shop_id="$2", recheck="$3")}),
        picked AS (
            SELECT order_id, min(package_id) AS first_package FROM pushable
            GROUP BY order_id ORDER BY first_package LIMIT $4
        )
        SELECT {SHOP_CREDENTIALS_COLUMNS},
               ARRAY(SELECT order_id FROM picked ORDER BY first_package) AS pushable_orders
        FROM shop s JOIN app a USING (app_id)
        WHERE s.shop_id = $2
        """,
        grace,
        shop_id,
        BLOCK_RECHECK,
        limit,
    )
    if row is None:
        return None, []
    values = dict(row)
    orders: list[int] = values.pop("pushable_orders")
    return ShopCredentials(**values), orders


async def due_shops(connection: Connection, *, grace: timedelta) -> dict[str, list[int]]:
    """Active shops with work: {"push": [...], "refresh": [...]}.

    "push" lists shops with pushable packages, "refresh" shops with orders marked needs_refresh.
    """
    push_rows = await connection.fetch(
        f"""
        WITH pushable AS ({_pushable_where(grace="$1", shop_id=None, recheck="$2")})
        SELECT DISTINCT pushable.shop_id FROM pushable JOIN shop s USING (shop_id)
        WHERE s.status = 'active' ORDER BY pushable.shop_id
        """,
        grace,
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


@dataclass(frozen=True, slots=True, kw_only=True)
class PushClaim:
    """A planned call whose ledger row `claim_pushes` writes (or finds)."""

    order_id: int
    idempotency_key: str
    kind: str
    package_ids: Sequence[int]
    location_id: int | None
    request: dict[str, Any]


# Claims the ledger rows of planned calls: $1 the shop, $2..$8 from `_claim_arguments`.
_CLAIM_SQL = f"""
        WITH wanted AS (
            SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[],
                                 $6::bigint[], $7::text[])
                WITH ORDINALITY
                AS w(order_id, idempotency_key, kind, package_ids, location_id, request,
                     position)
        ), prior AS (
            SELECT l.push_id FROM push l JOIN wanted w ON w.idempotency_key = l.idempotency_key
            WHERE l.shop_id = $1 AND l.status = 'pending'
              AND l.attempts >= 1 AND l.last_error IS NULL
              AND l.updated_at > now() - $8::interval
        ), claimed AS (
            INSERT INTO push AS l (shop_id, order_id, package_ids, location_id,
                                   idempotency_key, kind, status, attempts, request)
            SELECT $1, w.order_id, w.package_ids::bigint[], w.location_id, w.idempotency_key,
                   w.kind, 'pending', 1, w.request::jsonb
            FROM wanted w ORDER BY w.position
            ON CONFLICT (shop_id, idempotency_key) DO UPDATE SET
                attempts = l.attempts + CASE WHEN l.status IN ('pending', 'superseded')
                                             THEN 1 ELSE 0 END,
                request = CASE WHEN l.status IN ('pending', 'superseded')
                               THEN EXCLUDED.request ELSE l.request END,
                last_error = CASE WHEN l.status IN ('pending', 'superseded')
                                  THEN NULL ELSE l.last_error END,
                status = CASE WHEN l.status = 'superseded' THEN 'pending' ELSE l.status END,
                updated_at = now()
            WHERE l.push_id NOT IN (SELECT push_id FROM prior)
            RETURNING {_LEDGER_COLUMNS}, request
        ), attempted AS (
            INSERT INTO order_event (shop_id, order_id, kind, actor, detail)
            SELECT shop_id, order_id, 'push.attempted', 'worker',
                   request || jsonb_build_object('push_id', push_id, 'attempt', attempts)
            FROM claimed WHERE status = 'pending'
        )
        SELECT {_LEDGER_COLUMNS}, false AS in_flight FROM claimed
        UNION ALL
        SELECT {_LEDGER_COLUMNS}, true AS in_flight FROM push
        WHERE push_id IN (SELECT push_id FROM prior)
        """


def _shifted(sql: str, by: int) -> str:
    """`sql` with every parameter but $1 (the shop) renumbered `by` higher."""
    return re.sub(r"\$(\d+)", lambda m: m[0] if m[1] == "1" else f"${int(m[1]) + by}", sql)


# STORE_STATE_SQL's data-modifying steps, then _CLAIM_SQL's (its parameters after the
# store's): PostgreSQL runs every data-modifying WITH step, read or not.
_STORE_STATE_TAIL = "SELECT order_id FROM o"
# Fail at import, not with a syntax error at run time, if the store's statement changes shape.
if not STORE_STATE_SQL.rstrip().endswith(_STORE_STATE_TAIL):
    raise RuntimeError("STORE_STATE_SQL no longer ends with its final SELECT; update push.py")
_STORE_AND_CLAIM_SQL = (
    STORE_STATE_SQL.rsplit(_STORE_STATE_TAIL, 1)[0].rstrip()
    + ", "
    + _shifted(_CLAIM_SQL, STORE_STATE_PARAMETERS - 1).strip().removeprefix("WITH ")
)


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
    in_flight_window: timedelta,
) -> LedgerRow:
    """Write (or find) the ledger row for a planned call and count an attempt if pending.

    One statement, committed on its own before Shopify is called; see `claim_pushes`.
    """
    rows = await claim_pushes(
        connection,
        shop_id=shop_id,
        claims=[
            PushClaim(
                order_id=order_id,
                idempotency_key=idempotency_key,
                kind=kind,
                package_ids=package_ids,
                location_id=location_id,
                request=request,
            )
        ],
        in_flight_window=in_flight_window,
    )
    return rows[idempotency_key]


async def claim_pushes(
    connection: Connection,
    *,
    shop_id: int,
    claims: Sequence[PushClaim],
    in_flight_window: timedelta,
) -> dict[str, LedgerRow]:
    """Write (or find) the ledger rows for planned calls of one shop and count an attempt on
    each pending one; returns idempotency key -> row.

    One statement, committed on its own before Shopify is called; for each row that is pending
    it also writes the `push.attempted` timeline event. A row that is no longer pending comes
    back unchanged: the caller must not send it.

    A pending row whose last attempt began less than `in_flight_window` ago and never reported
    back (its worker died mid-call) comes back unchanged with `in_flight` set: that request may
    still reach Shopify, so the caller must wait and re-read rather than send a second one.
    """
    unique = _unique_claims(claims)
    if not unique:
        return {}
    rows = await connection.fetch(
        _CLAIM_SQL, *_claim_arguments(shop_id, unique, in_flight_window=in_flight_window)
    )
    return _claimed_rows(unique, rows)


async def store_state_and_claim_pushes(
    connection: Connection,
    *,
    shop_id: int,
    states: Sequence[OrderFulfillmentState],
    claims: Sequence[PushClaim],
    in_flight_window: timedelta,
) -> dict[str, LedgerRow]:
    """`store_orders_fulfillment_state` and then `claim_pushes`, in one statement: atomic
    without a transaction, and one round trip instead of four (BEGIN, the two, COMMIT).

    Only for reads without fulfilments (those are upserted one statement each). The two parts
    touch different tables, so neither misses what the other writes.
    """
    if any(state.fulfillments for state in states):
        msg = "store_state_and_claim_pushes stores no fulfilments"
        raise ValueError(msg)
    unique = _unique_claims(claims)
    if not unique:
        await store_orders_fulfillment_state(connection, shop_id=shop_id, states=states)
        return {}
    if not states:
        return await claim_pushes(
            connection, shop_id=shop_id, claims=unique, in_flight_window=in_flight_window
        )
    rows = await connection.fetch(
        _STORE_AND_CLAIM_SQL,
        *store_state_arguments(shop_id, states),
        *_claim_arguments(shop_id, unique, in_flight_window=in_flight_window)[1:],
    )
    return _claimed_rows(unique, rows)


def _unique_claims(claims: Sequence[PushClaim]) -> list[PushClaim]:
    return list({claim.idempotency_key: claim for claim in reversed(claims)}.values())[::-1]


def _claim_arguments(
    shop_id: int, unique: Sequence[PushClaim], *, in_flight_window: timedelta
) -> list[Any]:
    """The arguments of _CLAIM_SQL, from $1 on."""
    return [
        shop_id,
        [claim.order_id for claim in unique],
        [claim.idempotency_key for claim in unique],
        [claim.kind for claim in unique],
        ["{" + ",".join(str(i) for i in sorted(claim.package_ids)) + "}" for claim in unique],
        [claim.location_id for claim in unique],
        [orjson.dumps(claim.request).decode() for claim in unique],
        in_flight_window,
    ]


def _claimed_rows(unique: Sequence[PushClaim], rows: Sequence[Any]) -> dict[str, LedgerRow]:
    found = {row["idempotency_key"]: LedgerRow(**dict(row)) for row in rows}
    missing = [claim.idempotency_key for claim in unique if claim.idempotency_key not in found]
    if missing:  # INSERT ... ON CONFLICT DO UPDATE returns every row unless prior held it
        msg = f"claim_pushes returned no row for {missing}"
        raise RuntimeError(msg)
    return found


async def note_push_error(
    connection: Connection, *, shop_id: int, push_id: int, error: str
) -> None:
    """Record that the row's last attempt ended (ambiguously or refused) and how."""
    await connection.execute(
        """
        UPDATE push SET last_error = $3, updated_at = now()
        WHERE shop_id = $1 AND push_id = $2 AND status = 'pending'
        """,
        shop_id,
        push_id,
        error,
    )


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


@dataclass(frozen=True, slots=True, kw_only=True)
class PushSuccess:
    """A call Shopify applied: its ledger row, the fulfilment it returned, the event kind."""

    row: LedgerRow
    fulfillment: FulfillmentRow
    event_kind: str


async def record_push_success(
    connection: Connection,
    *,
    row: LedgerRow,
    fulfillment: FulfillmentRow,
    event_kind: str,
) -> None:
    """One statement: the ledger row succeeded, the fulfilment stored (so the classifier sees
    the number at once) with its lines when the answer carried them all, the packages' blocks
    cleared and the timeline event written."""
    await record_push_successes(
        connection,
        successes=[PushSuccess(row=row, fulfillment=fulfillment, event_kind=event_kind)],
    )


async def record_push_successes(
    connection: Connection, *, successes: Sequence[PushSuccess]
) -> None:
    """`record_push_success` for several rows of one shop in one statement.

    Rows that name the same fulfilment (possible only for tracking updates) are written one
    statement each, in order, since one statement may not upsert a row twice.
    """
    if not successes:
        return
    fulfillment_ids = [success.fulfillment.fulfillment_id for success in successes]
    if len(set(fulfillment_ids)) < len(fulfillment_ids):
        for success in successes:
            await record_push_successes(connection, successes=[success])
        return
    lines = [
        (success.fulfillment.fulfillment_id, line_item_id, quantity)
        for success in successes
        for line_item_id, quantity in _merge_fulfillment_lines(success.fulfillment)
    ]

    def text_array(values: Sequence[str]) -> str:
        return orjson.dumps(list(values)).decode()

    await connection.execute(
        """
        WITH result AS (
            SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[],
                                 $6::text[], $7::text[], $8::text[], $9::text[],
                                 $10::timestamptz[], $11::timestamptz[], $12::text[],
                                 $13::boolean[])
                AS r(push_id, fulfillment_id, status, location_id, tracking_company,
                     tracking_numbers, tracking_numbers_norm, tracking_urls, created_at,
                     updated_at, event_kind, lines_known)
        ), done AS (
            UPDATE push l SET status = 'succeeded', fulfillment_id = r.fulfillment_id,
                              last_error = NULL, next_attempt_at = NULL, completed_at = now(),
                              updated_at = now()
            FROM result r
            WHERE l.shop_id = $1 AND l.push_id = r.push_id
            RETURNING l.shop_id, l.order_id, l.package_ids, l.push_id, r.fulfillment_id,
                      r.status AS fulfillment_status, r.location_id, r.tracking_company,
                      ARRAY(SELECT jsonb_array_elements_text(r.tracking_numbers::jsonb))
                          AS tracking_numbers,
                      ARRAY(SELECT jsonb_array_elements_text(r.tracking_numbers_norm::jsonb))
                          AS tracking_numbers_norm,
                      ARRAY(SELECT jsonb_array_elements_text(r.tracking_urls::jsonb))
                          AS tracking_urls,
                      r.created_at, r.updated_at, r.event_kind, r.lines_known
        ), stored AS (
            INSERT INTO shopify_fulfillment AS f (
                shop_id, fulfillment_id, order_id, status, location_id, tracking_company,
                tracking_numbers, tracking_numbers_norm, tracking_urls, created_at, updated_at
            )
            SELECT shop_id, fulfillment_id, order_id, fulfillment_status, location_id,
                   tracking_company, tracking_numbers, tracking_numbers_norm, tracking_urls,
                   created_at, updated_at
            FROM done
            ON CONFLICT (shop_id, fulfillment_id) DO UPDATE SET
                status = EXCLUDED.status,
                location_id = COALESCE(EXCLUDED.location_id, f.location_id),
                tracking_company = EXCLUDED.tracking_company,
                tracking_numbers = EXCLUDED.tracking_numbers,
                tracking_numbers_norm = EXCLUDED.tracking_numbers_norm,
                tracking_urls = EXCLUDED.tracking_urls,
                created_at = COALESCE(f.created_at, EXCLUDED.created_at),
                updated_at = EXCLUDED.updated_at
            WHERE f.updated_at IS NULL OR EXCLUDED.updated_at IS NULL
               OR EXCLUDED.updated_at >= f.updated_at
        ), new_line AS (
            SELECT * FROM unnest($14::bigint[], $15::bigint[], $16::int[])
                AS line(fulfillment_id, line_item_id, quantity)
        ), gone_line AS (
            -- Lines are replaced wholesale when the answer carried them all, as
            -- store_fulfillment does; kept keys are upserted rather than deleted and
            -- re-inserted in one statement.
            DELETE FROM shopify_fulfillment_line fl USING done
            WHERE done.lines_known AND fl.shop_id = done.shop_id
              AND fl.fulfillment_id = done.fulfillment_id
              AND NOT EXISTS (
                  SELECT 1 FROM new_line line
                  WHERE line.fulfillment_id = fl.fulfillment_id
                    AND line.line_item_id = fl.line_item_id
              )
        ), put_line AS (
            INSERT INTO shopify_fulfillment_line AS fl (shop_id, fulfillment_id, line_item_id,
                                                        order_id, quantity)
            SELECT done.shop_id, done.fulfillment_id, line.line_item_id, done.order_id,
                   line.quantity
            FROM done JOIN new_line line ON line.fulfillment_id = done.fulfillment_id
            WHERE done.lines_known
            ON CONFLICT (shop_id, fulfillment_id, line_item_id) DO UPDATE SET
                order_id = EXCLUDED.order_id, quantity = EXCLUDED.quantity
        ), unblocked AS (
            DELETE FROM push_block b USING done
            WHERE b.shop_id = done.shop_id AND b.package_id = ANY (done.package_ids)
        )
        INSERT INTO order_event (shop_id, order_id, kind, actor, detail)
        SELECT shop_id, order_id, event_kind, 'worker',
               jsonb_build_object('push_id', push_id, 'package_ids', package_ids,
                                  'fulfillment_id', fulfillment_id,
                                  'tracking_numbers', tracking_numbers)
        FROM done
        """,
        successes[0].row.shop_id,
        [success.row.push_id for success in successes],
        fulfillment_ids,
        [success.fulfillment.status.lower() for success in successes],
        [success.fulfillment.location_id for success in successes],
        [success.fulfillment.tracking_company for success in successes],
        [text_array(success.fulfillment.tracking_numbers) for success in successes],
        [
            text_array([normalize_tracking_number(n) for n in success.fulfillment.tracking_numbers])
            for success in successes
        ],
        [text_array(success.fulfillment.tracking_urls) for success in successes],
        [success.fulfillment.created_at for success in successes],
        [success.fulfillment.updated_at for success in successes],
        [success.event_kind for success in successes],
        [success.fulfillment.lines is not None for success in successes],
        [fulfillment_id for fulfillment_id, _, _ in lines],
        [line_item_id for _, line_item_id, _ in lines],
        [quantity for _, _, quantity in lines],
    )


def _merge_fulfillment_lines(fulfillment: FulfillmentRow) -> list[tuple[int, int]]:
    """(line item id, quantity) with repeated line items summed, as store_fulfillment stores."""
    merged: dict[int, int] = {}
    for line in fulfillment.lines or ():
        merged[line.line_item_id] = merged.get(line.line_item_id, 0) + line.quantity
    return sorted(merged.items())


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


async def retire_settled_pending(
    connection: Connection,
    *,
    shop_id: int,
    in_flight_window: timedelta = timedelta(seconds=15),
    unlock_orders: Sequence[int] = (),
) -> int:
    """Close pending rows whose packages reached Shopify some other way.

    - Every package is covered by another succeeded or adopted row (a re-plan chose a different
      call, then the package was synced): the row becomes `superseded`.
    - Every package's number is on a live stored fulfilment of the order (the success write was
      lost, and a webhook or re-read stored the fulfilment first): the row is `adopted` with
      that fulfilment. Rows claimed within `in_flight_window` are left to their worker.

    `unlock_orders`: order locks (`workers.jobs.push.lock_order` keys) this session releases
    in the same statement, so a run that ends with its last group saves a round trip.
    """
    # One statement (every statement is a round trip at the end of every run). Both updates
    # read the same snapshot, so a row the first retires is kept out of the second (a row
    # may be updated only once per statement).
    retired: int = await connection.fetchval(
        f"""
        WITH superseded AS (
            UPDATE push l SET status = 'superseded', updated_at = now()
            WHERE l.shop_id = $1 AND l.status = 'pending'
              AND NOT EXISTS (
                  SELECT 1 FROM unnest(l.package_ids) AS p(package_id)
                  WHERE NOT EXISTS (
                      SELECT 1 FROM push done
                      WHERE done.shop_id = l.shop_id AND done.order_id = l.order_id
                        AND done.status IN ('succeeded', 'adopted')
                        AND p.package_id = ANY (done.package_ids)
                  )
              )
            RETURNING l.push_id
        ), settled AS (
            SELECT l.push_id, min(f.fulfillment_id) AS fulfillment_id
            FROM push l
            JOIN package pk ON pk.shop_id = l.shop_id AND pk.package_id = ANY (l.package_ids)
            JOIN shopify_fulfillment f
              ON f.shop_id = l.shop_id AND f.order_id = l.order_id
             AND pk.tracking_number_norm = ANY (f.tracking_numbers_norm)
             AND {LIVE_FULFILLMENT_STATUSES_SQL}
            WHERE l.shop_id = $1 AND l.status = 'pending' AND l.updated_at < now() - $2::interval
              AND l.push_id NOT IN (SELECT push_id FROM superseded)
            GROUP BY l.push_id
            HAVING count(DISTINCT pk.package_id) = max(cardinality(l.package_ids))
        ), adopted AS (
            UPDATE push l SET status = 'adopted', fulfillment_id = s.fulfillment_id,
                              next_attempt_at = NULL, completed_at = now(), updated_at = now()
            FROM settled s
            WHERE l.shop_id = $1 AND l.push_id = s.push_id
            RETURNING l.push_id
        ), unlocked AS (
            SELECT pg_advisory_unlock(
                hashtextextended('dropsync:order:' || $1::text || ':' || o::text, 0))
            FROM unnest($3::bigint[]) AS o
        )
        -- Counting `unlocked` makes it run (a plain WITH query runs only when read).
        SELECT (SELECT count(*) FROM superseded) + (SELECT count(*) FROM adopted)
               + 0 * (SELECT count(*) FROM unlocked)
        """,
        shop_id,
        in_flight_window,
        list(unlock_orders),
    )
    return retired


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
