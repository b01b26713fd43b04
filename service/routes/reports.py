"""The mismatch report: rows (JSON pages, or streamed CSV / NDJSON), the summary, and actions.

Every read is cut to the token's shops before it reaches SQL; naming a shop outside the scope
is a 404, exactly as if it did not exist. Acting (acknowledge, snooze, retry a parked push)
needs a read-write token and is written to the order's timeline with the token as actor.
"""

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response, StreamingResponse

from clients.shopify_sync import SYNC_TOPICS
from core.report_classes import AgeBuckets, Lifecycle, MismatchClass, Outcome
from schema.queries.report import (
    ReportFilter,
    fetch_run_bridge,
    mismatch_rows_sql,
    summary_counts,
)
from service.auth import Principal, PrincipalDep
from service.errors import ApiError
from service.report_rows import (
    csv_header,
    csv_line,
    decode_cursor,
    encode_cursor,
    render_row,
    utc_iso,
)
from service.responses import JsonResponse
from service.runtime import Resources
from service.settings import Settings
from workers.names import PUSH_SHOP
from workers.trigger import trigger

__all__ = ["router"]

log = structlog.get_logger()

router = APIRouter(prefix="/reports", tags=["reports"])

_FORMATS = {"json", "csv", "ndjson"}
_CHUNK_BYTES = 64 * 1024
_MAX_PAGE = 1000


def _buckets(settings: Settings) -> AgeBuckets:
    return AgeBuckets(tuple(settings.report_age_buckets))


def _split(values: Sequence[str] | None) -> list[str]:
    """Repeated parameters and comma-separated lists both work: ?class=a&class=b or ?class=a,b."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def _closed(values: Sequence[str] | None, allowed: Sequence[str], name: str) -> list[str] | None:
    items = _split(values)
    unknown = sorted(set(items) - set(allowed))
    if unknown:
        raise ApiError(
            422,
            "invalid_filter",
            f"{name}: unknown value(s) {', '.join(unknown)}; expected one of {', '.join(allowed)}",
        )
    return items or None


def _ints(values: Sequence[str] | None, name: str) -> list[int] | None:
    items = _split(values)
    try:
        return [int(item) for item in items] or None
    except ValueError as error:
        raise ApiError(422, "invalid_filter", f"{name}: expected integers") from error


def _scoped_shops(principal: Principal, requested: list[int] | None) -> list[int] | None:
    """The shops to read: the requested ones (each must be in scope, else 404) or the scope."""
    if requested:
        for shop_id in requested:
            principal.require_shop(shop_id)
        return requested
    return principal.visible_shop_ids()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _format(request: Request, explicit: str | None) -> str:
    if explicit is not None:
        if explicit not in _FORMATS:
            raise ApiError(422, "invalid_format", "format must be json, csv or ndjson")
        return explicit
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return "csv"
    if "ndjson" in accept:
        return "ndjson"
    return "json"


@router.get("/mismatches", summary="Mismatch rows, both sides; JSON pages or streamed CSV/NDJSON")
async def list_mismatches(  # noqa: PLR0917  (FastAPI reads the filters from the signature)
    request: Request,
    principal: PrincipalDep,
    shop_id: Annotated[list[str] | None, Query(description="Shop ids (scope-checked).")] = None,
    class_: Annotated[list[str] | None, Query(alias="class")] = None,
    priority: Annotated[list[str] | None, Query(description="1 (most urgent) to 4.")] = None,
    outcome: Annotated[
        list[str] | None, Query(description="break, pending (default) and/or ok.")
    ] = None,
    lifecycle: Annotated[list[str] | None, Query(description="new, persisting, resolved.")] = None,
    age_bucket: Annotated[list[str] | None, Query()] = None,
    supplier: Annotated[
        list[str] | None,
        Query(description="Supplier kind (cj, aliexpress, generic) or account id."),
    ] = None,
    carrier: Annotated[list[str] | None, Query()] = None,
    since_from: Annotated[datetime | None, Query(alias="from")] = None,
    since_to: Annotated[datetime | None, Query(alias="to")] = None,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    format_: Annotated[str | None, Query(alias="format")] = None,
) -> Response:
    resources: Resources = request.app.state.resources
    settings = resources.runtime.settings
    buckets = _buckets(settings)
    output = _format(request, format_)
    suppliers = _split(supplier)
    report_filter = ReportFilter(
        shop_ids=_scoped_shops(principal, _ints(shop_id, "shop_id")),
        classes=_closed(class_, [c.value for c in MismatchClass], "class"),
        priorities=_ints(priority, "priority"),
        outcomes=_closed(outcome, [o.value for o in Outcome], "outcome")
        or [Outcome.BREAK.value, Outcome.PENDING.value],
        lifecycles=_closed(lifecycle, [v.value for v in Lifecycle], "lifecycle"),
        age_buckets=_closed(age_bucket, list(buckets.labels), "age_bucket"),
        account_ids=[int(s) for s in suppliers if s.isdigit()] or None,
        supplier_kinds=[s for s in suppliers if not s.isdigit()] or None,
        carriers=_split(carrier) or None,
        since_from=_utc(since_from),
        since_to=_utc(since_to),
    )
    after = None
    as_of = datetime.now(UTC)
    if cursor:
        after, as_of = decode_cursor(cursor)
    if output == "json":
        page_size = min(limit or 100, _MAX_PAGE)
        return await _json_page(
            resources,
            report_filter,
            as_of=as_of,
            after=after,
            page_size=page_size,
            buckets=buckets,
        )
    sql, args = mismatch_rows_sql(
        report_filter,
        as_of=as_of,
        priority_step=settings.report_priority_step,
        buckets=buckets,
        after=after,
        limit=limit,
    )
    media = "text/csv; charset=utf-8" if output == "csv" else "application/x-ndjson"
    filename = f"dropsync-mismatches-{as_of:%Y%m%dT%H%M%SZ}.{output}"
    return StreamingResponse(
        _stream(resources, sql, args, as_of=as_of, output=output),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _json_page(
    resources: Resources,
    report_filter: ReportFilter,
    *,
    as_of: datetime,
    after: Any,
    page_size: int,
    buckets: AgeBuckets,
) -> JsonResponse:
    sql, args = mismatch_rows_sql(
        report_filter,
        as_of=as_of,
        priority_step=resources.runtime.settings.report_priority_step,
        buckets=buckets,
        after=after,
        limit=page_size + 1,
    )
    async with resources.pool.acquire() as connection:
        records = await connection.fetch(sql, *args)
    more = len(records) > page_size
    records = records[:page_size]
    return JsonResponse(
        {
            "as_of": utc_iso(as_of),
            "age_buckets": list(buckets.labels),
            "rows": [render_row(record, as_of=as_of) for record in records],
            "next_cursor": encode_cursor(records[-1], as_of=as_of) if more else None,
        }
    )


async def _stream(
    resources: Resources, sql: str, args: list[Any], *, as_of: datetime, output: str
) -> AsyncIterator[bytes]:
    """Rows through a server-side cursor, in chunks: memory stays at one batch."""
    parts: list[bytes] = []
    size = 0
    if output == "csv":
        parts.append(csv_header().encode())
    async with resources.pool.acquire() as connection, connection.transaction():
        async for record in connection.cursor(sql, *args, prefetch=500):
            row = render_row(record, as_of=as_of)
            line = csv_line(row).encode() if output == "csv" else orjson.dumps(row) + b"\n"
            parts.append(line)
            size += len(line)
            if size >= _CHUNK_BYTES:
                yield b"".join(parts)
                parts, size = [], 0
    if parts:
        yield b"".join(parts)


@router.get("/summary", summary="Counts by class and age, a verdict per shop, and the bridge")
async def read_summary(
    request: Request,
    principal: PrincipalDep,
    shop_id: Annotated[list[str] | None, Query()] = None,
) -> JsonResponse:
    resources: Resources = request.app.state.resources
    settings = resources.runtime.settings
    buckets = _buckets(settings)
    shops = _scoped_shops(principal, _ints(shop_id, "shop_id"))
    as_of = datetime.now(UTC)
    async with resources.pool.acquire() as connection:
        counts = await summary_counts(connection, shop_ids=shops, as_of=as_of, buckets=buckets)
        bridges = {
            row["shop_id"]: row for row in await fetch_run_bridge(connection, shop_ids=shops)
        }
        health = await _shop_health(connection, shops, as_of=as_of, settings=settings)
    by_class: dict[str, dict[str, Any]] = {}
    per_shop: dict[int, dict[str, int]] = {}
    totals = {"break": 0, "pending": 0, "suppressed": 0}
    for row in counts:
        entry = by_class.setdefault(
            row["class"],
            {
                "break": 0,
                "pending": 0,
                "suppressed": 0,
                "by_age_bucket": dict.fromkeys(buckets.labels, 0),
            },
        )
        entry[row["outcome"]] += row["total"]
        entry["suppressed"] += row["suppressed"]
        entry["by_age_bucket"][row["age_bucket"]] += row["total"]
        totals[row["outcome"]] += row["total"]
        totals["suppressed"] += row["suppressed"]
        shop_counts = per_shop.setdefault(
            row["shop_id"], {"break": 0, "pending": 0, "suppressed": 0, "active_breaks": 0}
        )
        shop_counts[row["outcome"]] += row["total"]
        shop_counts["suppressed"] += row["suppressed"]
        if row["outcome"] == "break":
            shop_counts["active_breaks"] += row["total"] - row["suppressed"]
    shop_entries = []
    for shop in health:
        open_counts = per_shop.get(
            shop["shop_id"], {"break": 0, "pending": 0, "suppressed": 0, "active_breaks": 0}
        )
        bridge = bridges.get(shop["shop_id"])
        reasons = list(shop["reasons"])
        if bridge is None:
            reasons.append("no full classification run yet")
        elif bridge["finished_at"] < as_of - timedelta(hours=2):
            reasons.append(
                f"last full classification run is stale ({utc_iso(bridge['finished_at'])})"
            )
        if reasons:
            verdict = "incomplete"
        elif open_counts["active_breaks"] > 0:
            verdict = "breaks"
        elif open_counts["pending"] > 0:
            verdict = "pending"
        else:
            verdict = "clean"
        shop_entries.append(
            {
                "shop_id": shop["shop_id"],
                "domain": shop["domain"],
                "timezone": shop["timezone"],
                "verdict": verdict,
                "incomplete_because": reasons,
                "open": open_counts,
                "bridge": _bridge(bridge),
            }
        )
    return JsonResponse(
        {
            "as_of": utc_iso(as_of),
            "age_buckets": list(buckets.labels),
            "totals": totals,
            "by_class": by_class,
            "shops": shop_entries,
        }
    )


def _bridge(bridge: dict[str, Any] | None) -> dict[str, Any] | None:
    if bridge is None:
        return None
    residual = bridge["open_before"] + bridge["opened"] - bridge["resolved"] - bridge["open_now"]
    return {
        "run_id": bridge["run_id"],
        "run_finished_at": utc_iso(bridge["finished_at"]),
        "previous_run_id": bridge["previous_run_id"],
        "previous_run_finished_at": utc_iso(bridge["previous_finished_at"]),
        "open_before": bridge["open_before"],
        "opened": bridge["opened"],
        "resolved": bridge["resolved"],
        "open_now": bridge["open_now"],
        # open_before + opened - resolved - open_now: anything but 0 is a lost or double count
        "unexplained": residual,
    }


async def _shop_health(
    connection: Any, shops: list[int] | None, *, as_of: datetime, settings: Settings
) -> list[dict[str, Any]]:
    """Per shop, every reason its data may be incomplete (the verdict is never clean then)."""
    rows = await connection.fetch(
        """
        SELECT s.shop_id, s.domain, s.timezone, s.status, s.attention_reason,
               st.last_poll_ok_at, st.orders_watermark, st.backfill_status,
               (SELECT array_agg(w.topic) FROM webhook_subscription w
                WHERE w.shop_id = s.shop_id) AS topics,
               (SELECT count(*) FROM webhook_delivery d
                WHERE d.shop_id = s.shop_id AND d.status = 'failed') AS failed_deliveries,
               (SELECT count(*) FROM supplier_delivery d
                WHERE d.shop_id = s.shop_id AND d.status = 'failed') AS failed_supplier_deliveries,
               (SELECT array_agg(a.name || ' (' || a.status || ')') FROM supplier_account a
                WHERE a.status <> 'active' AND (a.default_shop_id = s.shop_id OR EXISTS (
                    SELECT 1 FROM supplier_account_shop x
                    WHERE x.account_id = a.account_id AND x.shop_id = s.shop_id)))
                   AS paused_feeds
        FROM shop s
        LEFT JOIN shop_sync_state st ON st.shop_id = s.shop_id
        WHERE $1::bigint[] IS NULL OR s.shop_id = ANY ($1::bigint[])
        ORDER BY s.shop_id
        """,
        shops,
    )
    health = []
    for row in rows:
        reasons = []
        if row["status"] == "needs_attention":
            reasons.append(f"needs attention: {row['attention_reason'] or 'credentials rejected'}")
        elif row["status"] != "active":
            reasons.append(f"shop is {row['status']}")
        missing = sorted(set(SYNC_TOPICS) - set(row["topics"] or ()))
        if missing:
            reasons.append("webhook subscriptions missing: " + ", ".join(missing))
        if row["last_poll_ok_at"] is None:
            reasons.append("never polled")
        elif row["last_poll_ok_at"] < as_of - settings.report_poll_stale_after:
            reasons.append(f"poll watermark stale (last poll {utc_iso(row['last_poll_ok_at'])})")
        if row["backfill_status"] in {"pending", "running", "failed"}:
            reasons.append(f"backfill {row['backfill_status']}")
        failed = row["failed_deliveries"] + row["failed_supplier_deliveries"]
        if failed:
            reasons.append(f"{failed} deliveries parked as failed")
        for feed in row["paused_feeds"] or ():
            reasons.append(f"supplier feed paused: {feed}")
        health.append(
            {
                "shop_id": row["shop_id"],
                "domain": row["domain"],
                "timezone": row["timezone"],
                "reasons": reasons,
            }
        )
    return health


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
    until: datetime | None = Field(
        default=None, description="When the acknowledgement lapses; unset: while the row is open."
    )


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)
    until: datetime = Field(description="When the row counts again.")


async def _load_row(connection: Any, shop_id: int, mismatch_id: int) -> Any:
    row = await connection.fetchrow(
        "SELECT * FROM mismatch WHERE shop_id = $1 AND mismatch_id = $2 FOR UPDATE",
        shop_id,
        mismatch_id,
    )
    if row is None:
        raise ApiError(404, "mismatch_not_found", f"no mismatch {mismatch_id} in shop {shop_id}")
    if row["resolved_at"] is not None:
        raise ApiError(409, "mismatch_resolved", f"mismatch {mismatch_id} is already resolved")
    return row


async def _record(
    connection: Any, row: Any, *, kind: str, actor: str, detail: dict[str, Any]
) -> None:
    await connection.execute(
        """
        INSERT INTO order_event (shop_id, order_id, supplier_order_id, kind, actor, detail)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        row["shop_id"],
        row["order_id"],
        row["supplier_order_id"],
        kind,
        actor,
        {"mismatch_id": row["mismatch_id"], "class": row["class"], **detail},
    )


def _action_out(row: Any, action: str, **extra: Any) -> dict[str, Any]:
    return {"mismatch_id": row["mismatch_id"], "shop_id": row["shop_id"], "action": action, **extra}


@router.post(
    "/mismatches/{shop_id}/{mismatch_id}/acknowledge",
    summary="Acknowledge a row (a known false positive); it stops counting against the verdict",
)
async def acknowledge(
    shop_id: int, mismatch_id: int, body: AcknowledgeIn, request: Request, principal: PrincipalDep
) -> JsonResponse:
    principal.require_shop(shop_id)
    principal.require_write()
    now = datetime.now(UTC)
    until = _utc(body.until)
    if until is not None and until <= now:
        raise ApiError(422, "invalid_until", "until must be in the future")
    async with request.app.state.resources.pool.acquire() as connection, connection.transaction():
        row = await _load_row(connection, shop_id, mismatch_id)
        await connection.execute(
            """
            UPDATE mismatch SET acknowledged_at = $3, acknowledged_by = $4,
                                acknowledged_until = $5, acknowledge_reason = $6
            WHERE shop_id = $1 AND mismatch_id = $2
            """,
            shop_id,
            mismatch_id,
            now,
            principal.actor,
            until,
            body.reason,
        )
        await _record(
            connection,
            row,
            kind="report.acknowledged",
            actor=principal.actor,
            detail={"reason": body.reason, "until": utc_iso(until)},
        )
    return JsonResponse(_action_out(row, "acknowledged", until=utc_iso(until)))


@router.post(
    "/mismatches/{shop_id}/{mismatch_id}/snooze",
    summary="Snooze a row until a time; it stops counting against the verdict until then",
)
async def snooze(
    shop_id: int, mismatch_id: int, body: SnoozeIn, request: Request, principal: PrincipalDep
) -> JsonResponse:
    principal.require_shop(shop_id)
    principal.require_write()
    now = datetime.now(UTC)
    until = _utc(body.until)
    assert until is not None  # noqa: S101  (required by the model)
    if until <= now:
        raise ApiError(422, "invalid_until", "until must be in the future")
    async with request.app.state.resources.pool.acquire() as connection, connection.transaction():
        row = await _load_row(connection, shop_id, mismatch_id)
        await connection.execute(
            """
            UPDATE mismatch SET snoozed_at = $3, snoozed_by = $4, snoozed_until = $5,
                                snooze_reason = $6
            WHERE shop_id = $1 AND mismatch_id = $2
            """,
            shop_id,
            mismatch_id,
            now,
            principal.actor,
            until,
            body.reason,
        )
        await _record(
            connection,
            row,
            kind="report.snoozed",
            actor=principal.actor,
            detail={"reason": body.reason, "until": utc_iso(until)},
        )
    return JsonResponse(_action_out(row, "snoozed", until=utc_iso(until)))


@router.post(
    "/mismatches/{shop_id}/{mismatch_id}/retry-push",
    summary="Retry a parked (failed) push now: the ledger row goes back to pending",
)
async def retry_push(
    shop_id: int, mismatch_id: int, request: Request, principal: PrincipalDep
) -> JsonResponse:
    principal.require_shop(shop_id)
    principal.require_write()
    resources: Resources = request.app.state.resources
    async with resources.pool.acquire() as connection, connection.transaction():
        row = await _load_row(connection, shop_id, mismatch_id)
        if row["class"] != MismatchClass.PUSH_FAILED.value or row["order_id"] is None:
            raise ApiError(
                409,
                "not_a_failed_push",
                f"mismatch {mismatch_id} is {row['class']}, not push_failed",
            )
        push_ids = await _reset_failed_pushes(connection, shop_id=shop_id, order_id=row["order_id"])
        if not push_ids:
            raise ApiError(409, "nothing_to_retry", "the order has no parked push any more")
        await _record(
            connection,
            row,
            kind="push.retry_requested",
            actor=principal.actor,
            detail={"push_ids": push_ids},
        )
    queued = await trigger(
        resources.redis,
        PUSH_SHOP,
        shop_id,
        queue_name=resources.runtime.settings.queue_name,
    )
    log.info("report.push_retry_requested", shop_id=shop_id, push_ids=push_ids, queued=queued)
    return JsonResponse(_action_out(row, "retry_requested", push_ids=push_ids, queued=queued))


async def _reset_failed_pushes(connection: Any, *, shop_id: int, order_id: int) -> list[int]:
    rows = await connection.fetch(
        """
        UPDATE push SET status = 'pending', attempts = 0, next_attempt_at = now(),
                        completed_at = NULL, updated_at = now()
        WHERE shop_id = $1 AND order_id = $2 AND status = 'failed'
        RETURNING push_id
        """,
        shop_id,
        order_id,
    )
    push_ids = [row["push_id"] for row in rows]
    # the worker skips packages blocked by a parked push; the retry lifts that block
    await connection.execute(
        "DELETE FROM push_block WHERE shop_id = $1 AND push_id = ANY ($2::bigint[])",
        shop_id,
        push_ids,
    )
    return push_ids
