"""The report's reads: filtered, stably sorted mismatch rows with both sides, and the summary.

Rows come from `mismatch` (open rows, and resolved ones on request) and, when `ok` is asked
for, from Shopify orders with no open mismatch. Every row carries a sort key
(priority, since, shop_id, row kind, row key); pages continue strictly after the last key, and
ages and priorities are computed against one `as_of` instant carried in the cursor, so a page
never shifts under a reader. The row query returns both sides as jsonb built by Postgres, so an
export streams through a server-side cursor without Python holding more than a batch.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.report_classes import AgeBuckets
from schema.db import Connection

__all__ = [
    "SEEN_SQL",
    "ReportFilter",
    "SortKey",
    "fetch_run_bridge",
    "mismatch_rows_sql",
    "summary_counts",
]


# An open row's "last seen" and lifecycle, derived at read time. A full pass writes only the
# rows whose class data changed, yet every row open after it was found by it: a row is seen by
# its shop's latest full run `lr` (columns run_id, as_of; from `last_full_runs`) once any full
# run has seen it (first_run_id set; a row an incremental pass opened has none until the next
# full run), and `persisting` once a later full run than its first saw it. The stored columns
# hold the last pass that wrote the row (the incremental pass refreshes what it finds); a
# resolved row has them frozen by the pass that resolved it. Aliases: `m` mismatch, `lr` run.
SEEN_SQL: dict[str, str] = {
    "last_full_runs": """
        SELECT sh.shop_id, r.run_id, r.as_of FROM shop sh
        LEFT JOIN LATERAL (
            SELECT r.run_id, r.as_of FROM classify_run r
            WHERE r.shop_id = sh.shop_id AND r.kind = 'full'
            ORDER BY r.run_id DESC LIMIT 1
        ) r ON TRUE""",
    "last_seen_at": "CASE WHEN m.resolved_at IS NULL AND m.first_run_id IS NOT NULL"
    " THEN greatest(m.last_seen_at, lr.as_of) ELSE m.last_seen_at END",
    "last_run_id": "CASE WHEN m.resolved_at IS NULL AND m.first_run_id IS NOT NULL"
    " THEN greatest(m.last_run_id, lr.run_id) ELSE m.last_run_id END",
    "lifecycle": "CASE WHEN m.resolved_at IS NOT NULL THEN 'resolved'"
    " WHEN m.first_run_id < lr.run_id THEN 'persisting' ELSE 'new' END",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFilter:
    """What to list; None means no restriction. `shop_ids` is already cut to the token's scope."""

    shop_ids: Sequence[int] | None = None
    classes: Sequence[str] | None = None
    priorities: Sequence[int] | None = None
    outcomes: Sequence[str] = ("break", "pending")
    lifecycles: Sequence[str] | None = None
    age_buckets: Sequence[str] | None = None
    account_ids: Sequence[int] | None = None
    supplier_kinds: Sequence[str] | None = None
    carriers: Sequence[str] | None = None
    since_from: datetime | None = None
    since_to: datetime | None = None
    order_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SortKey:
    priority: int
    since: datetime
    shop_id: int
    row_kind: str
    row_key: int


@dataclass(slots=True)
class _Params:
    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _age_bucket_sql(age: str, buckets: AgeBuckets) -> str:
    cases = " ".join(
        f"WHEN {age} < interval '{int(upper.total_seconds())} seconds' THEN '{label}'"
        for label, _lower, upper in buckets.ranges()
        if upper is not None
    )
    return f"CASE {cases} ELSE '{buckets.labels[-1]}' END"


def _bucket_predicate(age: str, labels: Sequence[str], buckets: AgeBuckets) -> str:
    parts = []
    for label, lower, upper in buckets.ranges():
        if label not in labels:
            continue
        condition = f"{age} >= interval '{int(lower.total_seconds())} seconds'"
        if upper is not None:
            condition += f" AND {age} < interval '{int(upper.total_seconds())} seconds'"
        parts.append(f"({condition})")
    return "(" + (" OR ".join(parts) or "FALSE") + ")"


_SHOPIFY_SIDE = """
(SELECT jsonb_build_object(
    'order_id', o.order_id, 'name', o.name, 'financial_status', o.financial_status,
    'fulfillment_status', o.fulfillment_status, 'created_at', o.created_at,
    'cancelled_at', o.cancelled_at, 'closed_at', o.closed_at,
    'fulfillment_orders', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'fulfillment_order_id', fo.fulfillment_order_id, 'status', fo.status,
            'request_status', fo.request_status, 'location_id', fo.location_id,
            'holds', fo.holds) ORDER BY fo.fulfillment_order_id)
        FROM shopify_fulfillment_order fo
        WHERE fo.shop_id = o.shop_id AND fo.order_id = o.order_id), '[]'::jsonb),
    'fulfillments', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'fulfillment_id', f.fulfillment_id, 'status', f.status,
            'tracking_company', f.tracking_company, 'tracking_numbers', f.tracking_numbers,
            'created_at', f.created_at) ORDER BY f.fulfillment_id)
        FROM shopify_fulfillment f
        WHERE f.shop_id = o.shop_id AND f.order_id = o.order_id), '[]'::jsonb))
 FROM shopify_order o WHERE o.shop_id = page.shop_id AND o.order_id = page.order_id)
"""

_SUPPLIER_SIDE = """
coalesce((SELECT jsonb_agg(jsonb_build_object(
    'supplier_order_id', s.supplier_order_id, 'account_id', s.account_id,
    'supplier', a.kind, 'account', a.name, 'external_id', s.external_id,
    'reference', s.reference, 'status', s.status, 'placed_at', s.placed_at,
    'packages', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
            'package_id', p.package_id, 'tracking_number', p.tracking_number,
            'carrier', p.carrier, 'tracking_url', p.tracking_url, 'shipped_at', p.shipped_at,
            'tracking_status', p.tracking_status, 'last_event_at', p.last_event_at,
            'superseded_at', p.superseded_at) ORDER BY p.package_id)
        FROM package p
        WHERE p.shop_id = s.shop_id AND p.supplier_order_id = s.supplier_order_id),
        '[]'::jsonb)) ORDER BY s.supplier_order_id)
 FROM (
     SELECT * FROM supplier_order s1
     WHERE s1.shop_id = page.shop_id AND s1.shopify_order_id = page.order_id
     UNION ALL
     SELECT * FROM supplier_order s2
     WHERE s2.shop_id = page.shop_id AND s2.supplier_order_id = page.supplier_order_id
       AND page.order_id IS NULL
 ) s
 JOIN supplier_account a ON a.account_id = s.account_id), '[]'::jsonb)
"""


_PUSH_BLOCKS = """
(SELECT jsonb_agg(jsonb_build_object('package_id', b.package_id, 'reason', b.reason,
                                     'message', b.message, 'push_id', b.push_id)
                  ORDER BY b.package_id)
 FROM push_block b WHERE b.shop_id = page.shop_id AND b.order_id = page.order_id)
"""


def _mismatch_where(
    f: ReportFilter, params: _Params, *, priority: str, age: str, buckets: AgeBuckets
) -> list[str]:
    """The WHERE conditions on `mismatch m` for a filter; values always bound."""
    outcomes = set(f.outcomes)
    lifecycles = set(f.lifecycles or ())
    where = ["TRUE"]
    if f.shop_ids is not None:
        where.append(f"m.shop_id = ANY ({params.add(list(f.shop_ids))}::bigint[])")
    if f.order_id is not None:
        where.append(f"m.order_id = {params.add(f.order_id)}::bigint")
    open_outcomes = sorted(outcomes & {"break", "pending"})
    row_state = []
    if open_outcomes:
        row_state.append(
            f"(m.resolved_at IS NULL AND m.outcome = ANY ({params.add(open_outcomes)}::text[]))"
        )
    if "resolved" in lifecycles or "ok" in outcomes:
        row_state.append("m.resolved_at IS NOT NULL")
    where.append("(" + (" OR ".join(row_state) or "FALSE") + ")")
    where.extend(_attribute_where(f, params, priority=priority, age=age, buckets=buckets))
    return where


def _attribute_where(
    f: ReportFilter, params: _Params, *, priority: str, age: str, buckets: AgeBuckets
) -> list[str]:
    where = []
    if f.classes:
        where.append(f"m.class = ANY ({params.add(list(f.classes))}::text[])")
    if f.lifecycles:
        where.append(f"{SEEN_SQL['lifecycle']} = ANY ({params.add(list(f.lifecycles))}::text[])")
    if f.priorities:
        where.append(f"{priority} = ANY ({params.add(list(f.priorities))}::int[])")
    if f.age_buckets:
        where.append(_bucket_predicate(age, f.age_buckets, buckets))
    if f.account_ids:
        where.append(f"m.account_ids && {params.add(list(f.account_ids))}::bigint[]")
    if f.supplier_kinds:
        where.append(
            f"m.account_ids && ARRAY(SELECT account_id FROM supplier_account"
            f" WHERE kind = ANY ({params.add(list(f.supplier_kinds))}::text[]))"
        )
    if f.carriers:
        where.append(f"m.carriers && {params.add(list(f.carriers))}::text[]")
    if f.since_from is not None:
        where.append(f"m.since >= {params.add(f.since_from)}")
    if f.since_to is not None:
        where.append(f"m.since < {params.add(f.since_to)}")
    return where


def _ok_rows_select(f: ReportFilter, params: _Params, *, now: str) -> str:
    """Shopify orders with no open mismatch, as `ok` rows in the same column layout."""
    ok_where = ["NOT o.test"]
    if f.shop_ids is not None:
        ok_where.append(f"o.shop_id = ANY ({params.add(list(f.shop_ids))}::bigint[])")
    if f.order_id is not None:
        ok_where.append(f"o.order_id = {params.add(f.order_id)}::bigint")
    if f.since_from is not None:
        ok_where.append(f"o.created_at >= {params.add(f.since_from)}")
    if f.since_to is not None:
        ok_where.append(f"o.created_at < {params.add(f.since_to)}")
    if f.account_ids or f.supplier_kinds:
        accounts = (
            f"{params.add(list(f.account_ids))}::bigint[]"
            if f.account_ids
            else f"ARRAY(SELECT account_id FROM supplier_account"
            f" WHERE kind = ANY ({params.add(list(f.supplier_kinds or ()))}::text[]))"
        )
        ok_where.append(
            f"EXISTS (SELECT 1 FROM supplier_order s WHERE s.shop_id = o.shop_id"
            f" AND s.shopify_order_id = o.order_id AND s.account_id = ANY ({accounts}))"
        )
    return f"""
        SELECT o.shop_id, 'o', o.order_id, NULL::bigint, 'order', o.order_id, NULL::bigint,
               NULL::text, 'ok', NULL::int, 9, o.created_at, NULL::timestamptz,
               extract(epoch FROM ({now}::timestamptz - o.created_at))::bigint, NULL::text,
               NULL::text, NULL::timestamptz, NULL::timestamptz, NULL::bigint, NULL::bigint,
               NULL::timestamptz, NULL::text, NULL::jsonb, NULL::text[], NULL::bigint[],
               NULL::timestamptz, NULL::text, NULL::timestamptz, NULL::text,
               NULL::timestamptz, NULL::text, NULL::timestamptz, NULL::text
        FROM shopify_order o
        WHERE {" AND ".join(ok_where)}
          AND NOT EXISTS (SELECT 1 FROM mismatch m
                          WHERE m.shop_id = o.shop_id AND m.order_id = o.order_id
                            AND m.resolved_at IS NULL)
        """


def mismatch_rows_sql(
    report_filter: ReportFilter,
    *,
    as_of: datetime,
    priority_step: timedelta,
    buckets: AgeBuckets,
    after: SortKey | None,
    limit: int | None,
    with_sides: bool = True,
) -> tuple[str, list[Any]]:
    """The SQL and arguments for one page (or, with `limit` None, every row) of the report."""
    params = _Params()
    now = params.add(as_of)
    step = max(int(priority_step.total_seconds()), 1)
    age = f"({now}::timestamptz - m.since)"
    priority = f"greatest(1, m.base_priority - floor(extract(epoch FROM {age}) / {step})::int)"
    where = _mismatch_where(report_filter, params, priority=priority, age=age, buckets=buckets)
    f = report_filter
    outcomes = set(f.outcomes)
    selects = [
        f"""
        SELECT m.shop_id, 'm' AS row_kind, m.mismatch_id AS row_key, m.mismatch_id,
               m.subject_kind, m.order_id, m.supplier_order_id, m.class, m.outcome,
               m.base_priority, {priority} AS priority, m.since, m.breaks_at,
               extract(epoch FROM {age})::bigint AS age_seconds,
               {_age_bucket_sql(age, buckets)} AS age_bucket,
               {SEEN_SQL["lifecycle"]} AS lifecycle, m.first_seen_at,
               {SEEN_SQL["last_seen_at"]} AS last_seen_at, m.first_run_id,
               {SEEN_SQL["last_run_id"]} AS last_run_id,
               m.resolved_at, m.resolution, m.detail, m.carriers, m.account_ids,
               m.acknowledged_at, m.acknowledged_by, m.acknowledged_until,
               m.acknowledge_reason, m.snoozed_at, m.snoozed_by, m.snoozed_until,
               m.snooze_reason
        FROM mismatch m
        LEFT JOIN ({SEEN_SQL["last_full_runs"]}) lr ON lr.shop_id = m.shop_id
        WHERE {" AND ".join(where)}
        """
    ]
    ok_rows_wanted = (
        "ok" in outcomes
        and not f.classes
        and not f.priorities
        and not f.lifecycles
        and not f.carriers
        and not f.age_buckets
    )
    if ok_rows_wanted:
        selects.append(_ok_rows_select(f, params, now=now))
    cursor_condition = "TRUE"
    if after is not None:
        cursor_condition = (
            f"(r.priority, r.since, r.shop_id, r.row_kind, r.row_key) > ("
            f"{params.add(after.priority)}::int, {params.add(after.since)}::timestamptz,"
            f" {params.add(after.shop_id)}::bigint, {params.add(after.row_kind)}::text,"
            f" {params.add(after.row_key)}::bigint)"
        )
    limit_sql = f"LIMIT {int(limit)}" if limit is not None else ""
    sides = (
        f", {_SHOPIFY_SIDE} AS shopify, {_SUPPLIER_SIDE} AS supplier_orders,"
        f" {_PUSH_BLOCKS} AS push_blocks"
        if with_sides
        else ""
    )
    union = " UNION ALL ".join(selects)
    sql = f"""
    SELECT page.*, sh.domain AS shop_domain, sh.timezone AS shop_timezone{sides}
    FROM (
        SELECT r.* FROM ({union}) r
        WHERE {cursor_condition}
        ORDER BY r.priority, r.since, r.shop_id, r.row_kind, r.row_key
        {limit_sql}
    ) page
    JOIN shop sh ON sh.shop_id = page.shop_id
    ORDER BY page.priority, page.since, page.shop_id, page.row_kind, page.row_key
    """
    return sql, params.values


async def summary_counts(
    connection: Connection,
    *,
    shop_ids: Sequence[int] | None,
    as_of: datetime,
    buckets: AgeBuckets,
) -> list[dict[str, Any]]:
    """Open rows per (shop, class, outcome, age bucket), with how many are acknowledged/snoozed."""
    age = "($2::timestamptz - m.since)"
    rows = await connection.fetch(
        f"""
        SELECT m.shop_id, m.class, m.outcome, {_age_bucket_sql(age, buckets)} AS age_bucket,
               count(*) AS total,
               count(*) FILTER (
                   WHERE (m.acknowledged_at IS NOT NULL
                          AND (m.acknowledged_until IS NULL OR m.acknowledged_until > $2))
                      OR m.snoozed_until > $2
               ) AS suppressed
        FROM mismatch m
        WHERE m.resolved_at IS NULL AND ($1::bigint[] IS NULL OR m.shop_id = ANY ($1::bigint[]))
        GROUP BY 1, 2, 3, 4
        """,
        None if shop_ids is None else list(shop_ids),
        as_of,
    )
    return [dict(row) for row in rows]


async def fetch_run_bridge(
    connection: Connection, *, shop_ids: Sequence[int] | None
) -> list[dict[str, Any]]:
    """Per shop: the last two full runs and the passes since the previous one, summed.

    open_before (at the previous full run) + opened - resolved (every pass since) = open_now.
    """
    rows = await connection.fetch(
        """
        WITH fulls AS (
            SELECT shop_id, run_id, finished_at, open_after,
                   row_number() OVER (PARTITION BY shop_id ORDER BY run_id DESC) AS n
            FROM classify_run
            WHERE kind = 'full' AND ($1::bigint[] IS NULL OR shop_id = ANY ($1::bigint[]))
        ),
        last_run AS (SELECT * FROM fulls WHERE n = 1),
        previous AS (SELECT * FROM fulls WHERE n = 2)
        SELECT l.shop_id, l.run_id, l.finished_at,
               p.run_id AS previous_run_id, p.finished_at AS previous_finished_at,
               coalesce(p.open_after, 0) AS open_before,
               coalesce(sum(c.opened), 0) AS opened,
               coalesce(sum(c.resolved), 0) AS resolved,
               (SELECT count(*) FROM mismatch m
                WHERE m.shop_id = l.shop_id AND m.resolved_at IS NULL) AS open_now
        FROM last_run l
        LEFT JOIN previous p ON p.shop_id = l.shop_id
        LEFT JOIN classify_run c
               ON c.shop_id = l.shop_id AND c.run_id > coalesce(p.run_id, 0)
        GROUP BY l.shop_id, l.run_id, l.finished_at, p.run_id, p.finished_at, p.open_after
        """,
        None if shop_ids is None else list(shop_ids),
    )
    return [dict(row) for row in rows]
