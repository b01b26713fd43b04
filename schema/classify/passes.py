"""Classification passes: classify, then merge into `mismatch` with lifecycle and a bridge.

A full pass classifies every order of every connected shop and is a report "run"; an
incremental pass classifies only the subjects in `classify_dirty` (filled by triggers) plus the
pending rows whose grace window has ended. Both run the same SQL (`report_sql`) and the same
steps, in one transaction the caller does not need to open:

1. the candidate rows go to a temp table `classified`;
2. the merge inserts new rows and reopens resolved ones. The incremental pass refreshes every
   row it found (a handful); the full pass writes only rows whose class data changed (and rows
   no full pass had seen yet): every row open after a full pass was found by it, so readers
   derive `last_seen_at`, `last_run_id` and `persisting` from the shop's latest full run
   (`schema.queries.report.SEEN_SQL`) instead of the pass rewriting every open row;
3. open rows in scope that were not found again are resolved (`auto_pushed` when a push
   succeeded since they opened, else `self_healed`), their derived "last seen" frozen;
4. each shop's bridge (open before + opened - resolved = open after) goes to `classify_run`,
   and every opening and resolution to the order's timeline.

The full pass runs these steps per batch of shops (`schema.classify.batches`: contiguous
ranges of shop ids with about equal orders), each batch in its own transaction, up to
`concurrency` batches at once on their own pool connections: every table is keyed by shop
first and a shop's classification reads only its own rows. The batches share one run id; a
shop's `classify_run` row commits with its batch, so a reader sees each shop at its latest
complete run. A batch that fails rolls back whole: its shops keep their previous state (rows,
latest run, dirty set) and get no `classify_run` row for this run; the other batches commit,
and the pass then raises (`FullPassIncompleteError` names the shops done and not done).
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from core.carriers import SHOPIFY_TRACKING_COMPANIES, carrier_key, resolve_carrier
from core.report_classes import Thresholds, resolve_thresholds
from schema.classify.batches import ShopBatch, plan_batches, shop_weights
from schema.classify.report_sql import (
    candidate_orders_sql,
    classified_orders_sql,
    duplicated_sql,
    gather_sql,
    orphan_supplier_orders_sql,
    shop_attention_sql,
    unclaimed_sql,
    unsynced_in_scope_sql,
)
from schema.db import Connection, Pool

__all__ = ["FullPassIncompleteError", "PassResult", "run_full_pass", "run_incremental_pass"]

log = structlog.get_logger()

_ACTOR = "classifier"


@dataclass(frozen=True, slots=True, kw_only=True)
class PassResult:
    run_id: int
    kind: str
    shops: int
    found: int
    opened: int
    resolved: int


class FullPassIncompleteError(RuntimeError):
    """Some batches of a full pass failed (the first failure is the cause); the others committed.

    `result` counts the shops that completed; `failed_shop_ids` kept their previous state.
    """

    def __init__(self, result: PassResult, failed_shop_ids: Sequence[int]) -> None:
        self.result = result
        self.failed_shop_ids = list(failed_shop_ids)
        super().__init__(
            f"full pass {result.run_id}: {len(self.failed_shop_ids)} shops not classified"
            f" ({result.shops} done)"
        )


async def _thresholds_param(
    connection: Connection, defaults: Thresholds, batch: ShopBatch | None = None
) -> tuple[list[dict[str, Any]], list[int]]:
    """Per-shop thresholds as the jsonb array the SQL reads; uninstalled shops are left out.

    With a batch, its shops only (the shops of its range the pass planned: a shop created since
    waits for the next pass, as it would for one started a moment later)."""
    rows = await connection.fetch(
        "SELECT shop_id, settings FROM shop WHERE status <> 'uninstalled'"
        " AND ($1::bigint[] IS NULL OR shop_id = ANY ($1::bigint[])) ORDER BY shop_id",
        None if batch is None else list(batch.shop_ids),
    )
    entries = []
    for row in rows:
        overrides = row["settings"].get("report") if isinstance(row["settings"], dict) else None
        resolved = resolve_thresholds(defaults, overrides if isinstance(overrides, dict) else {})
        entry: dict[str, Any] = {
            name: value.total_seconds() for name, value in asdict(resolved).items()
        }
        entry["shop_id"] = row["shop_id"]
        entries.append(entry)
    return entries, [row["shop_id"] for row in rows]


async def _carrier_param(connection: Connection) -> dict[str, list[str]]:
    """For each supplier carrier in scope (the packages copied by `gather_sql`), the Shopify
    company keys that count as the same."""
    names = await connection.fetch(
        """
        SELECT DISTINCT p.carrier FROM classify_package p
        WHERE p.carrier IS NOT NULL AND p.superseded_at IS NULL
        """
    )
    accepted: dict[str, list[str]] = {}
    for row in names:
        name: str = row["carrier"]
        keys = {carrier_key(name)}
        company = resolve_carrier(name, overrides={}).company
        if company:
            keys.add(carrier_key(company))
        accepted[name] = sorted(keys)
    return accepted


_CLASSIFIED = """
CREATE TEMP TABLE classified (
    shop_id bigint, subject_kind text, subject_key bigint, order_id bigint,
    supplier_order_id bigint, class text, base_priority int, since timestamptz,
    breaks_at timestamptz, detail jsonb, account_ids bigint[], carriers text[]
) ON COMMIT DROP
"""

_MERGE = """
WITH was_resolved AS (
    -- read before the upsert (one statement, one snapshot): rows this pass reopens
    SELECT m.mismatch_id FROM mismatch m
    JOIN classified c ON c.shop_id = m.shop_id AND c.subject_kind = m.subject_kind
                     AND c.subject_key = m.subject_key AND c.class = m.class
    WHERE m.resolved_at IS NOT NULL
),
up AS (
    INSERT INTO mismatch AS m (
        shop_id, subject_kind, subject_key, order_id, supplier_order_id, class, outcome,
        base_priority, since, breaks_at, detail, account_ids, carriers, lifecycle,
        first_seen_at, last_seen_at, first_run_id, last_run_id)
    SELECT c.shop_id, c.subject_kind, c.subject_key, c.order_id, c.supplier_order_id, c.class,
           CASE WHEN c.breaks_at > $1 THEN 'pending' ELSE 'break' END,
           c.base_priority, c.since, c.breaks_at, c.detail, c.account_ids, c.carriers, 'new',
           $1, $1, $2, $2
    FROM classified c
    ON CONFLICT (shop_id, subject_kind, subject_key, class) DO UPDATE SET
        outcome = EXCLUDED.outcome,
        base_priority = EXCLUDED.base_priority,
        since = CASE WHEN m.resolved_at IS NULL THEN least(m.since, EXCLUDED.since)
                     ELSE EXCLUDED.since END,
        breaks_at = EXCLUDED.breaks_at,
        detail = EXCLUDED.detail,
        account_ids = EXCLUDED.account_ids,
        carriers = EXCLUDED.carriers,
        last_seen_at = $1,
        last_run_id = coalesce($2, m.last_run_id),
        lifecycle = CASE WHEN m.resolved_at IS NOT NULL THEN 'new'
                         WHEN $2::bigint IS NOT NULL AND m.first_run_id IS NOT NULL
                              THEN 'persisting'
                         ELSE m.lifecycle END,
        first_run_id = CASE WHEN m.resolved_at IS NOT NULL THEN $2
                            ELSE coalesce(m.first_run_id, $2) END,
        first_seen_at = CASE WHEN m.resolved_at IS NOT NULL THEN $1 ELSE m.first_seen_at END,
        acknowledged_at = CASE WHEN m.resolved_at IS NOT NULL THEN NULL ELSE m.acknowledged_at END,
        acknowledged_by = CASE WHEN m.resolved_at IS NOT NULL THEN NULL ELSE m.acknowledged_by END,
        acknowledged_until = CASE WHEN m.resolved_at IS NOT NULL THEN NULL
                                  ELSE m.acknowledged_until END,
        acknowledge_reason = CASE WHEN m.resolved_at IS NOT NULL THEN NULL
                                  ELSE m.acknowledge_reason END,
        snoozed_at = CASE WHEN m.resolved_at IS NOT NULL THEN NULL ELSE m.snoozed_at END,
        snoozed_by = CASE WHEN m.resolved_at IS NOT NULL THEN NULL ELSE m.snoozed_by END,
        snoozed_until = CASE WHEN m.resolved_at IS NOT NULL THEN NULL ELSE m.snoozed_until END,
        snooze_reason = CASE WHEN m.resolved_at IS NOT NULL THEN NULL ELSE m.snooze_reason END,
        resolved_at = NULL,
        resolved_run_id = NULL,
        resolution = NULL
    RETURNING m.shop_id, m.mismatch_id, m.order_id, m.supplier_order_id, m.class, m.outcome,
              m.xmax::text = '0' OR m.mismatch_id IN (SELECT mismatch_id FROM was_resolved)
                  AS opened
),
events AS (
    INSERT INTO order_event (shop_id, order_id, supplier_order_id, kind, actor, detail)
    SELECT shop_id, order_id, supplier_order_id, 'report.opened', '{actor}',
           jsonb_build_object('mismatch_id', mismatch_id, 'class', class, 'outcome', outcome)
    FROM up WHERE opened
)
SELECT shop_id, count(*) AS found, count(*) FILTER (WHERE opened) AS opened
FROM up GROUP BY shop_id
""".replace("{actor}", _ACTOR)

_MERGE_FULL = """
WITH cur AS MATERIALIZED (
    SELECT c.*, CASE WHEN c.breaks_at > $1 THEN 'pending' ELSE 'break' END AS outcome,
           m.mismatch_id, m.resolved_at IS NOT NULL AS reopens
    FROM classified c
    LEFT JOIN mismatch m ON m.shop_id = c.shop_id AND m.subject_kind = c.subject_kind
                        AND m.subject_key = c.subject_key AND m.class = c.class
),
changed AS (
    -- rows found again write only what changed: no new row version for the rest
    UPDATE mismatch m SET
        order_id = c.order_id,
        supplier_order_id = c.supplier_order_id,
        outcome = c.outcome,
        base_priority = c.base_priority,
        since = CASE WHEN c.reopens THEN c.since ELSE least(m.since, c.since) END,
        breaks_at = c.breaks_at,
        detail = c.detail,
        account_ids = c.account_ids,
        carriers = c.carriers,
        lifecycle = 'new',
        last_seen_at = $1,
        last_run_id = $2,
        first_run_id = CASE WHEN c.reopens THEN $2 ELSE coalesce(m.first_run_id, $2) END,
        first_seen_at = CASE WHEN c.reopens THEN $1 ELSE m.first_seen_at END,
        acknowledged_at = CASE WHEN c.reopens THEN NULL ELSE m.acknowledged_at END,
        acknowledged_by = CASE WHEN c.reopens THEN NULL ELSE m.acknowledged_by END,
        acknowledged_until = CASE WHEN c.reopens THEN NULL ELSE m.acknowledged_until END,
        acknowledge_reason = CASE WHEN c.reopens THEN NULL ELSE m.acknowledge_reason END,
        snoozed_at = CASE WHEN c.reopens THEN NULL ELSE m.snoozed_at END,
        snoozed_by = CASE WHEN c.reopens THEN NULL ELSE m.snoozed_by END,
        snoozed_until = CASE WHEN c.reopens THEN NULL ELSE m.snoozed_until END,
        snooze_reason = CASE WHEN c.reopens THEN NULL ELSE m.snooze_reason END,
        resolved_at = NULL,
        resolved_run_id = NULL,
        resolution = NULL
    FROM cur c
    WHERE m.shop_id = c.shop_id AND m.mismatch_id = c.mismatch_id
      AND (c.reopens OR m.first_run_id IS NULL
           OR (m.order_id, m.supplier_order_id, m.outcome, m.base_priority,
               least(m.since, c.since), m.breaks_at, m.detail, m.account_ids, m.carriers)
              IS DISTINCT FROM
              (c.order_id, c.supplier_order_id, c.outcome, c.base_priority, m.since,
               c.breaks_at, c.detail, c.account_ids, c.carriers))
    RETURNING m.shop_id, m.mismatch_id, m.order_id, m.supplier_order_id, m.class, m.outcome,
              c.reopens AS opened
),
inserted AS (
    INSERT INTO mismatch AS m (
        shop_id, subject_kind, subject_key, order_id, supplier_order_id, class, outcome,
        base_priority, since, breaks_at, detail, account_ids, carriers, lifecycle,
        first_seen_at, last_seen_at, first_run_id, last_run_id)
    SELECT c.shop_id, c.subject_kind, c.subject_key, c.order_id, c.supplier_order_id, c.class,
           c.outcome, c.base_priority, c.since, c.breaks_at, c.detail, c.account_ids,
           c.carriers, 'new', $1, $1, $2, $2
    FROM cur c
    WHERE c.mismatch_id IS NULL
    RETURNING m.shop_id, m.mismatch_id, m.order_id, m.supplier_order_id, m.class, m.outcome,
              TRUE AS opened
),
opened AS (
    SELECT * FROM changed WHERE opened
    UNION ALL
    SELECT * FROM inserted
),
events AS (
    INSERT INTO order_event (shop_id, order_id, supplier_order_id, kind, actor, detail)
    SELECT shop_id, order_id, supplier_order_id, 'report.opened', '{actor}',
           jsonb_build_object('mismatch_id', mismatch_id, 'class', class, 'outcome', outcome)
    FROM opened
)
SELECT f.shop_id, f.found, coalesce(o.opened, 0) AS opened
FROM (SELECT shop_id, count(*) AS found FROM cur GROUP BY shop_id) f
LEFT JOIN (SELECT shop_id, count(*) AS opened FROM opened GROUP BY shop_id) o
       ON o.shop_id = f.shop_id
""".replace("{actor}", _ACTOR)

_RESOLVE = """
WITH gone AS (
    UPDATE mismatch m SET
        resolved_at = $1, resolved_run_id = $2, lifecycle = 'resolved', outcome = 'ok',
        -- freeze what readers derived while it was open: once a full run has seen it, its
        -- shop's latest full run did (evaluated for the rows resolved only)
        last_seen_at = CASE WHEN m.first_run_id IS NULL THEN m.last_seen_at
                            ELSE greatest(m.last_seen_at, (
                                SELECT r.as_of FROM classify_run r
                                WHERE r.shop_id = m.shop_id AND r.kind = 'full'
                                ORDER BY r.run_id DESC LIMIT 1)) END,
        last_run_id = CASE WHEN m.first_run_id IS NULL THEN m.last_run_id
                           ELSE greatest(m.last_run_id, (
                               SELECT r.run_id FROM classify_run r
                               WHERE r.shop_id = m.shop_id AND r.kind = 'full'
                               ORDER BY r.run_id DESC LIMIT 1)) END,
        resolution = CASE
            WHEN m.subject_kind = 'order' AND EXISTS (
                SELECT 1 FROM push p
                WHERE p.shop_id = m.shop_id AND p.order_id = m.order_id
                  AND p.status IN ('succeeded', 'adopted') AND p.completed_at >= m.first_seen_at)
            THEN 'auto_pushed' ELSE 'self_healed' END
    WHERE m.resolved_at IS NULL AND m.shop_id = ANY ($3::bigint[])
      AND {scope}
      AND NOT EXISTS (
          SELECT 1 FROM classified c
          WHERE c.shop_id = m.shop_id AND c.subject_kind = m.subject_kind
            AND c.subject_key = m.subject_key AND c.class = m.class)
    RETURNING m.shop_id, m.mismatch_id, m.order_id, m.supplier_order_id, m.class, m.resolution
),
events AS (
    INSERT INTO order_event (shop_id, order_id, supplier_order_id, kind, actor, detail)
    SELECT shop_id, order_id, supplier_order_id, 'report.resolved', '{actor}',
           jsonb_build_object('mismatch_id', mismatch_id, 'class', class,
                              'resolution', resolution)
    FROM gone
)
SELECT shop_id, count(*) AS resolved FROM gone GROUP BY shop_id
""".replace("{actor}", _ACTOR)

_INCREMENTAL_SCOPE = (
    "(m.subject_kind = 'shop' OR EXISTS (SELECT 1 FROM classify_scope_subjects ss"
    " WHERE ss.shop_id = m.shop_id AND ss.subject_kind = m.subject_kind"
    " AND ss.subject_key = m.subject_key))"
)


async def _stalled_overrides(
    connection: Connection, thresholds: Thresholds, batch: ShopBatch
) -> list[timedelta]:
    """Every shop's tracking_stalled threshold, so the screen's cutoff covers the smallest."""
    thresholds_by_shop, _ = await _thresholds_param(connection, thresholds, batch)
    return [timedelta(seconds=entry["tracking_stalled_after"]) for entry in thresholds_by_shop]


async def _open_counts(connection: Connection, shop_ids: Sequence[int]) -> dict[int, int]:
    rows = await connection.fetch(
        "SELECT shop_id, count(*) AS n FROM mismatch"
        " WHERE resolved_at IS NULL AND shop_id = ANY ($1::bigint[]) GROUP BY shop_id",
        list(shop_ids),
    )
    return {row["shop_id"]: row["n"] for row in rows}


async def _classify_and_merge(
    connection: Connection,
    *,
    kind: str,
    now: datetime,
    thresholds: Thresholds,
    batch: ShopBatch | None = None,
    run_id: int | None = None,
) -> PassResult:
    """Classify `classify_scope` (orders) and the supplier orders in `classify_scope_subjects`
    (orphan candidates), then merge and resolve: within the dirty set (incremental) or the
    batch's shops (full, with the pass's `run_id`)."""
    started = datetime.now(now.tzinfo)
    # Merge joins on (shop_id) alone with a filter on the rest go quadratic when the estimate
    # of a small side is off; hash joins (big scopes) and nested loops (small ones) do not.
    await connection.execute("SET LOCAL enable_mergejoin = off")
    await connection.execute("SET LOCAL jit = off")
    if run_id is None:
        run_id = int(await connection.fetchval("SELECT nextval('classify_run_id_seq')"))
    th, shop_ids = await _thresholds_param(connection, thresholds, batch)
    # Orders and orphans are always classified within the scope: the dirty set (incremental)
    # or the screened candidates (full). Resolution covers everything on a full pass.
    for statement in gather_sql():
        await connection.execute(statement)
    carriers = await _carrier_param(connection)
    open_before = await _open_counts(connection, shop_ids)
    await connection.execute(_CLASSIFIED)
    await connection.execute(
        f"CREATE TEMP TABLE classify_unsynced ON COMMIT DROP AS {unsynced_in_scope_sql()}"
    )
    await connection.execute("ANALYZE classify_unsynced")
    await connection.execute(
        f"INSERT INTO classified {classified_orders_sql()}",
        th,
        now,
        carriers,
        sorted(SHOPIFY_TRACKING_COMPANIES),
    )
    await connection.execute(f"INSERT INTO classified {orphan_supplier_orders_sql()}", th)
    await connection.execute(f"INSERT INTO classified {shop_attention_sql()}", th, now)
    full_run = run_id if kind == "full" else None
    if full_run:
        # The merge and the resolution join every row found against every open row: hash
        # joins. `mismatch` statistics may be stale (a fresh table guesses a few rows), and a
        # nested loop over that guess turns the anti-join quadratic.
        await connection.execute("SET LOCAL enable_nestloop = off")
    merged = await connection.fetch(_MERGE_FULL if full_run else _MERGE, now, full_run)
    resolve_scope = "TRUE" if full_run else _INCREMENTAL_SCOPE
    resolved_rows = await connection.fetch(
        _RESOLVE.replace("{scope}", resolve_scope), now, full_run, shop_ids
    )
    found = {row["shop_id"]: row["found"] for row in merged}
    opened = {row["shop_id"]: row["opened"] for row in merged}
    resolved = {row["shop_id"]: row["resolved"] for row in resolved_rows}
    open_after = await _open_counts(connection, shop_ids)
    finished = datetime.now(now.tzinfo)
    await connection.executemany(
        """
        INSERT INTO classify_run (shop_id, run_id, kind, as_of, started_at, finished_at, found,
                                  open_before, opened, resolved, open_after)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        """,
        [
            (
                shop_id,
                run_id,
                kind,
                now,
                started,
                finished,
                found.get(shop_id, 0),
                open_before.get(shop_id, 0),
                opened.get(shop_id, 0),
                resolved.get(shop_id, 0),
                open_after.get(shop_id, 0),
            )
            for shop_id in shop_ids
        ],
    )
    result = PassResult(
        run_id=run_id,
        kind=kind,
        shops=len(shop_ids),
        found=sum(found.values()),
        opened=sum(opened.values()),
        resolved=sum(resolved.values()),
    )
    log.info(
        "classify.pass_finished" if batch is None else "classify.batch_finished",
        run_id=run_id,
        kind=kind,
        shops=result.shops,
        found=result.found,
        opened=result.opened,
        resolved=result.resolved,
    )
    return result


async def run_full_pass(
    connection: Connection,
    *,
    now: datetime,
    thresholds: Thresholds,
    pool: "Pool | None" = None,
    concurrency: int = 1,
) -> PassResult:
    """Classify every order of every connected shop: one report run.

    The shops are split into `concurrency` batches (one when no `pool` is given); the first
    runs on `connection`, the others on connections from `pool`, all at once. The caller holds
    the lock that keeps passes from overlapping (`workers.jobs.classify`)."""
    started = time.perf_counter()
    run_id = int(await connection.fetchval("SELECT nextval('classify_run_id_seq')"))
    shop_ids = [
        row["shop_id"]
        for row in await connection.fetch(
            "SELECT shop_id FROM shop WHERE status <> 'uninstalled' ORDER BY shop_id"
        )
    ]
    parts = concurrency if pool is not None else 1
    batches = plan_batches(await shop_weights(connection, shop_ids), parts)
    log.info("classify.full_pass_started", run_id=run_id, shops=len(shop_ids), batches=len(batches))

    async def on_pool(batch: ShopBatch) -> PassResult:
        assert pool is not None  # noqa: S101  (only more than one batch when there is a pool)
        async with pool.acquire() as other:
            return await _full_pass_batch(
                other, batch, run_id=run_id, now=now, thresholds=thresholds
            )

    outcomes = await asyncio.gather(
        _full_pass_batch(connection, batches[0], run_id=run_id, now=now, thresholds=thresholds),
        *(on_pool(batch) for batch in batches[1:]),
        return_exceptions=True,
    )
    done = [outcome for outcome in outcomes if isinstance(outcome, PassResult)]
    failures = [
        (batch, outcome)
        for batch, outcome in zip(batches, outcomes, strict=True)
        if not isinstance(outcome, PassResult)
    ]
    result = PassResult(
        run_id=run_id,
        kind="full",
        shops=sum(part.shops for part in done),
        found=sum(part.found for part in done),
        opened=sum(part.opened for part in done),
        resolved=sum(part.resolved for part in done),
    )
    await _refresh_statistics(connection, changed=result.opened + result.resolved)
    log.info(
        "classify.pass_finished",
        run_id=run_id,
        kind="full",
        shops=result.shops,
        batches=len(batches),
        failed_batches=len(failures),
        found=result.found,
        opened=result.opened,
        resolved=result.resolved,
        seconds=round(time.perf_counter() - started, 3),
    )
    if failures:
        first_error = failures[0][1]
        if not isinstance(first_error, Exception) or not done:
            raise first_error  # cancelled, or nothing committed: the error itself
        failed = [shop for batch, _ in failures for shop in batch.shop_ids]
        raise FullPassIncompleteError(result, failed) from first_error
    return result


async def _refresh_statistics(connection: Connection, *, changed: int) -> None:
    """ANALYZE `mismatch` when a pass changed more rows than its statistics allow for.

    autovacuum's own rule (50 rows plus a tenth of the rows the planner knows of), applied at
    once rather than within the next minute or so: the first full pass of a new store opens
    every row, and the report read right after it would otherwise be planned for an empty table
    (a first page at 1,000,000 orders took 0.38 s instead of 0.08 s)."""
    known: float = await connection.fetchval(
        "SELECT reltuples FROM pg_class WHERE oid = 'mismatch'::regclass"
    )
    if changed > 50 + 0.1 * max(known, 0.0):
        await connection.execute("ANALYZE mismatch")


async def _full_pass_batch(
    connection: Connection,
    batch: ShopBatch,
    *,
    run_id: int,
    now: datetime,
    thresholds: Thresholds,
) -> PassResult:
    """Screen, classify and merge the shops of one batch, in one transaction."""
    async with connection.transaction():
        await connection.execute("SET LOCAL work_mem = '256MB'")
        await connection.execute("SET LOCAL jit = off")
        bounds = (batch.first, batch.last)
        # Everything dirty now is covered by this pass; later changes mark themselves again.
        await connection.execute(
            "DELETE FROM classify_dirty WHERE shop_id BETWEEN $1 AND $2", *bounds
        )
        # Orders and supplier orders matched on their indexes alone (a merge join, read
        # index-only): `unclaimed_sql`.
        await connection.execute(
            f"CREATE TEMP TABLE classify_unclaimed ON COMMIT DROP AS {unclaimed_sql()}", *bounds
        )
        await connection.execute("ANALYZE classify_unclaimed")
        # Duplicate fulfilments: one ordered index-only scan, grouped as it streams (see
        # `duplicated_sql`); the planner would hash a million groups instead.
        await connection.execute("SET LOCAL enable_hashagg = off")
        await connection.execute(
            f"CREATE TEMP TABLE classify_duplicated ON COMMIT DROP AS {duplicated_sql()}", *bounds
        )
        await connection.execute("SET LOCAL enable_hashagg = on")
        stalled = min(
            [
                thresholds.tracking_stalled_after,
                *await _stalled_overrides(connection, thresholds, batch),
            ]
        )
        await connection.execute(
            "CREATE TEMP TABLE classify_scope (shop_id bigint, order_id bigint) ON COMMIT DROP"
        )
        await connection.execute(
            "CREATE TEMP TABLE classify_scope_subjects"
            " (shop_id bigint, subject_kind text, subject_key bigint) ON COMMIT DROP"
        )
        # One statement screens every table: order candidates go to classify_scope, orphan
        # candidates (supplier orders) to classify_scope_subjects. Its pairing is a merge join
        # of two indexes (see `candidate_orders_sql`); the planner's costs favour hashing both
        # tables, which takes twice as long.
        await connection.execute("SET LOCAL enable_hashjoin = off")
        await connection.execute(
            f"""
            WITH screen AS MATERIALIZED ({candidate_orders_sql()}),
            orders AS (
                INSERT INTO classify_scope
                SELECT DISTINCT shop_id, order_id FROM screen WHERE orphan_id IS NULL
            )
            INSERT INTO classify_scope_subjects
            SELECT DISTINCT shop_id, 'supplier_order', orphan_id FROM screen
            WHERE orphan_id IS NOT NULL
            """,
            now - stalled,
            sorted(SHOPIFY_TRACKING_COMPANIES),
            *bounds,
        )
        await connection.execute("SET LOCAL enable_hashjoin = on")
        await connection.execute("ANALYZE classify_scope")
        await connection.execute("ANALYZE classify_scope_subjects")
        return await _classify_and_merge(
            connection, kind="full", now=now, thresholds=thresholds, batch=batch, run_id=run_id
        )


async def run_incremental_pass(
    connection: Connection, *, now: datetime, thresholds: Thresholds
) -> PassResult:
    """Classify the dirty subjects and the pending rows whose grace ended."""
    async with connection.transaction():
        await connection.execute(
            """
            CREATE TEMP TABLE classify_scope_subjects ON COMMIT DROP AS
            WITH taken AS (
                DELETE FROM classify_dirty RETURNING shop_id, subject_kind, subject_key
            )
            SELECT shop_id, subject_kind, subject_key FROM taken
            UNION
            SELECT shop_id, subject_kind, subject_key FROM mismatch
            WHERE resolved_at IS NULL AND outcome = 'pending' AND breaks_at <= $1
            """,
            now,
        )
        await connection.execute(
            """
            CREATE TEMP TABLE classify_scope ON COMMIT DROP AS
            SELECT shop_id, subject_key AS order_id FROM classify_scope_subjects
            WHERE subject_kind = 'order'
            UNION
            SELECT s.shop_id, s.shopify_order_id FROM classify_scope_subjects x
            JOIN supplier_order s ON s.shop_id = x.shop_id AND s.supplier_order_id = x.subject_key
            WHERE x.subject_kind = 'supplier_order' AND s.shopify_order_id IS NOT NULL
            """
        )
        # Supplier orders of the orders in scope: a Shopify order arriving resolves its orphans.
        await connection.execute(
            """
            INSERT INTO classify_scope_subjects (shop_id, subject_kind, subject_key)
            SELECT s.shop_id, 'supplier_order', s.supplier_order_id
            FROM classify_scope sc
            JOIN supplier_order s ON s.shop_id = sc.shop_id AND s.shopify_order_id = sc.order_id
            UNION
            SELECT shop_id, 'order', order_id FROM classify_scope
            EXCEPT
            SELECT shop_id, subject_kind, subject_key FROM classify_scope_subjects
            """
        )
        await connection.execute("ANALYZE classify_scope")
        await connection.execute("ANALYZE classify_scope_subjects")
        return await _classify_and_merge(
            connection, kind="incremental", now=now, thresholds=thresholds
        )
