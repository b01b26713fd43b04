"""Rendering report rows: JSON objects, CSV lines, NDJSON lines, and page cursors.

Times are UTC (ISO 8601 with `Z`); each row also carries its shop's time zone and the main
times rendered in it (`*_local`), so a reader in any office sees both.
"""

import base64
import binascii
import csv
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from asyncpg import Record

from core.report_classes import CLASS_SPECS, ActionBy, MismatchClass, Outcome, action_for
from schema.queries.report import SortKey
from service.errors import ApiError

__all__ = [
    "CSV_COLUMNS",
    "csv_header",
    "csv_line",
    "decode_cursor",
    "encode_cursor",
    "render_row",
    "utc_iso",
]

# A database row (asyncpg Record) or the same as a plain mapping.
Row = Record | Mapping[str, Any]

_LOCAL_TIMES = ("since", "breaks_at", "first_seen_at", "last_seen_at", "resolved_at")


def utc_iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _action(row: Row) -> dict[str, Any] | None:
    if row["row_kind"] != "m":
        return None
    if row["resolved_at"] is not None:
        text = {
            "auto_pushed": "dropsync pushed the fulfilment to Shopify",
            "self_healed": "a later change on either side resolved it",
        }.get(row["resolution"] or "", "resolved")
        return {"by": ActionBy.DROPSYNC.value, "text": text, "taken": True}
    mismatch_class = MismatchClass(row["class"])
    outcome = Outcome(row["outcome"])
    spec = CLASS_SPECS[mismatch_class]
    detail = row["detail"]
    before_cutover = isinstance(detail, Mapping) and detail.get("before_cutover") is True
    by = spec.action_by if outcome is Outcome.PENDING and not before_cutover else ActionBy.PERSON
    text = action_for(mismatch_class, outcome, before_cutover=before_cutover)
    return {"by": by.value, "text": text, "taken": False}


def render_row(row: Row, *, as_of: datetime) -> dict[str, Any]:
    """One report row as the API shows it (JSON and NDJSON)."""
    zone = _zone(row["shop_timezone"])
    is_mismatch = row["row_kind"] == "m"
    rendered: dict[str, Any] = {
        "row_id": f"{row['row_kind']}:{row['shop_id']}:{row['row_key']}",
        "mismatch_id": row["mismatch_id"],
        "shop": {
            "shop_id": row["shop_id"],
            "domain": row["shop_domain"],
            "timezone": row["shop_timezone"],
        },
        "subject": row["subject_kind"],
        "class": row["class"],
        "outcome": row["outcome"],
        "priority": row["priority"] if is_mismatch else None,
        "base_priority": row["base_priority"],
        "age_seconds": row["age_seconds"],
        "age_bucket": row["age_bucket"],
        "lifecycle": row["lifecycle"],
        "first_run_id": row["first_run_id"],
        "last_run_id": row["last_run_id"],
        "resolution": row["resolution"],
        "action": _action(row),
        "acknowledgement": None,
        "snooze": None,
        "detail": row["detail"],
        "push_blocks": row.get("push_blocks"),
        "shopify": row.get("shopify"),
        "supplier_orders": row.get("supplier_orders") or [],
    }
    for name in _LOCAL_TIMES:
        value: datetime | None = row[name]
        rendered[name] = utc_iso(value)
        rendered[f"{name}_local"] = None if value is None else value.astimezone(zone).isoformat()
    if row["acknowledged_at"] is not None:
        rendered["acknowledgement"] = {
            "at": utc_iso(row["acknowledged_at"]),
            "by": row["acknowledged_by"],
            "until": utc_iso(row["acknowledged_until"]),
            "reason": row["acknowledge_reason"],
            "active": row["acknowledged_until"] is None or row["acknowledged_until"] > as_of,
        }
    if row["snoozed_at"] is not None:
        rendered["snooze"] = {
            "at": utc_iso(row["snoozed_at"]),
            "by": row["snoozed_by"],
            "until": utc_iso(row["snoozed_until"]),
            "reason": row["snooze_reason"],
            "active": row["snoozed_until"] is not None and row["snoozed_until"] > as_of,
        }
    return rendered


CSV_COLUMNS = (
    "row_id",
    "shop_id",
    "shop_domain",
    "shop_timezone",
    "mismatch_id",
    "class",
    "outcome",
    "priority",
    "lifecycle",
    "age_seconds",
    "age_bucket",
    "since",
    "since_local",
    "breaks_at",
    "first_seen_at",
    "last_seen_at",
    "resolved_at",
    "resolution",
    "action_by",
    "action",
    "acknowledged_until",
    "snoozed_until",
    "order_id",
    "order_name",
    "financial_status",
    "fulfillment_status",
    "fulfillment_orders",
    "fulfillments",
    "supplier_orders",
    "packages",
    "detail",
)


def csv_header() -> str:
    return _write([list(CSV_COLUMNS)])


def _write(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _flat(row: dict[str, Any]) -> list[Any]:
    shopify = row["shopify"] or {}
    supplier_orders = row["supplier_orders"]
    action = row["action"] or {}
    fulfillment_orders = "; ".join(
        f"{fo['fulfillment_order_id']}:{fo['status']}"
        + (
            "[" + ",".join(str(hold.get("reason", "")) for hold in fo["holds"]) + "]"
            if fo.get("holds")
            else ""
        )
        for fo in shopify.get("fulfillment_orders", [])
    )
    fulfillments = "; ".join(
        f"{f['fulfillment_id']}:{f['status']}:{f['tracking_company'] or ''}:"
        + ",".join(f["tracking_numbers"])
        for f in shopify.get("fulfillments", [])
    )
    packages = "; ".join(
        f"{p['tracking_number']}:{p['carrier'] or ''}"
        for order in supplier_orders
        for p in order["packages"]
    )
    return [
        row["row_id"],
        row["shop"]["shop_id"],
        row["shop"]["domain"],
        row["shop"]["timezone"],
        row["mismatch_id"],
        row["class"],
        row["outcome"],
        row["priority"],
        row["lifecycle"],
        row["age_seconds"],
        row["age_bucket"],
        row["since"],
        row["since_local"],
        row["breaks_at"],
        row["first_seen_at"],
        row["last_seen_at"],
        row["resolved_at"],
        row["resolution"],
        action.get("by"),
        action.get("text"),
        (row["acknowledgement"] or {}).get("until"),
        (row["snooze"] or {}).get("until"),
        shopify.get("order_id"),
        shopify.get("name"),
        shopify.get("financial_status"),
        shopify.get("fulfillment_status"),
        fulfillment_orders,
        fulfillments,
        "; ".join(f"{o['external_id']}:{o['supplier']}:{o['status']}" for o in supplier_orders),
        packages,
        orjson.dumps(row["detail"]).decode() if row["detail"] is not None else "",
    ]


def csv_line(row: dict[str, Any]) -> str:
    return _write([_flat(row)])


def encode_cursor(row: Row, *, as_of: datetime) -> str:
    payload = [
        row["priority"],
        utc_iso(row["since"]),
        row["shop_id"],
        row["row_kind"],
        row["row_key"],
        utc_iso(as_of),
    ]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[SortKey, datetime]:
    """The sort key to continue after, and the instant the first page was computed at."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        priority, since, shop_id, row_kind, row_key, as_of = orjson.loads(raw)
        key = SortKey(
            priority=int(priority),
            since=datetime.fromisoformat(since),
            shop_id=int(shop_id),
            row_kind=str(row_kind),
            row_key=int(row_key),
        )
        return key, datetime.fromisoformat(as_of)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as error:
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued") from error
