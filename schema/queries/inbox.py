"""The webhook inboxes: store deliveries set-based, claim pending ones, record outcomes.

Both inboxes (`webhook_delivery` for Shopify, `supplier_delivery` for suppliers) share one
life cycle: a delivery is inserted as `pending` (or directly `failed` when it cannot be applied,
or `ignored`), claimed in id order with `FOR UPDATE SKIP LOCKED` by the apply job, and finished as
`applied`, `ignored` or `failed`. A transient failure keeps it `pending` with `attempts` and a
`next_attempt_at` in the future; the sweeper re-triggers it then.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson

from schema.db import Connection

__all__ = [
    "DeliveryOutcome",
    "DeliveryStatus",
    "DeliverySummary",
    "NewShopifyDelivery",
    "NewSupplierDelivery",
    "PendingShopifyDelivery",
    "PendingSupplierDelivery",
    "claim_pending_shopify",
    "claim_pending_supplier",
    "get_shopify_delivery",
    "get_supplier_delivery",
    "insert_shopify_deliveries",
    "insert_supplier_deliveries",
    "list_inbox_deliveries",
    "record_shopify_outcomes",
    "record_supplier_outcomes",
    "requeue_shopify_deliveries",
    "requeue_supplier_deliveries",
    "shops_with_due_deliveries",
    "supplier_accounts_with_due_deliveries",
]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    IGNORED = "ignored"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class NewShopifyDelivery:
    """A verified Shopify delivery, as it is stored before the 200."""

    shop_id: int
    webhook_id: str
    event_id: str | None
    topic: str
    api_version: str | None
    triggered_at: datetime | None
    headers: dict[str, str]
    body: bytes
    status: DeliveryStatus = DeliveryStatus.PENDING
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSupplierDelivery:
    """An authenticated supplier delivery, as it is stored before the answer."""

    account_id: int
    dedup_key: str
    kind: str
    headers: dict[str, str]
    body: bytes
    status: DeliveryStatus = DeliveryStatus.PENDING
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingShopifyDelivery:
    delivery_id: int
    shop_id: int
    topic: str
    triggered_at: datetime | None
    received_at: datetime
    body: bytes | None
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingSupplierDelivery:
    delivery_id: int
    account_id: int
    kind: str
    dedup_key: str
    received_at: datetime
    body: bytes | None
    attempts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryOutcome:
    """What became of one claimed delivery.

    `retry_in` set (with status pending) means: try again after that long.
    """

    delivery_id: int
    status: DeliveryStatus
    error: str | None = None
    retry_in: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverySummary:
    """A delivery as the deliveries API shows it; the body only when asked for."""

    source: str
    delivery_id: int
    shop_id: int | None
    account_id: int | None
    topic: str
    webhook_id: str | None
    event_id: str | None
    status: str
    attempts: int
    error: str | None
    received_at: datetime
    applied_at: datetime | None
    next_attempt_at: datetime | None
    triggered_at: datetime | None
    headers: dict[str, Any]
    body: bytes | None
    body_erased: bool


def _dump_headers(headers: dict[str, str]) -> str:
    return orjson.dumps(headers).decode()


# Up to this many rows, a batch is inserted with a multi-row VALUES statement (one prepared
# statement per size, so their number stays small); larger batches unnest arrays. For the small
# batches the webhook edge mostly flushes, VALUES cost about a quarter less CPU in the API
# (no array encoding) and 10-15 % less in PostgreSQL than unnest (docs/ingest.md).
_VALUES_ROWS_MAX = 16


@functools.cache
def _shopify_values_insert(rows: int) -> str:
    placeholders = ",\n".join(
        "({}, ${}::text::jsonb, {})".format(
            ", ".join(f"${row * 10 + column}" for column in range(1, 7)),
            row * 10 + 7,
            ", ".join(f"${row * 10 + column}" for column in range(8, 11)),
        )
        for row in range(rows)
    )
    return f"""
        INSERT INTO webhook_delivery
            (shop_id, webhook_id, event_id, topic, api_version, triggered_at, headers, body,
             status, error)
        VALUES {placeholders}
        ON CONFLICT DO NOTHING
        """


async def insert_shopify_deliveries(
    connection: Connection, deliveries: Sequence[NewShopifyDelivery]
) -> int:
    """Store deliveries in one statement; repeats (same webhook id, or same event id and topic
    for the shop) are skipped. Returns how many rows were new."""
    if not deliveries:
        return 0
    if len(deliveries) <= _VALUES_ROWS_MAX:
        status: str = await connection.execute(
            _shopify_values_insert(len(deliveries)),
            *[
                value
                for d in deliveries
                for value in (
                    d.shop_id,
                    d.webhook_id,
                    d.event_id,
                    d.topic,
                    d.api_version,
                    d.triggered_at,
                    _dump_headers(d.headers),
                    d.body,
                    d.status.value,
                    d.error,
                )
            ],
        )
        return int(status.rsplit(maxsplit=1)[-1])
    status = await connection.execute(
        """
        INSERT INTO webhook_delivery
            (shop_id, webhook_id, event_id, topic, api_version, triggered_at, headers, body,
             status, error)
        SELECT shop_id, webhook_id, event_id, topic, api_version, triggered_at,
               headers::jsonb, body, status, error
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::timestamptz[], $7::text[], $8::bytea[], $9::text[], $10::text[])
             AS t(shop_id, webhook_id, event_id, topic, api_version, triggered_at, headers,
                  body, status, error)
        ON CONFLICT DO NOTHING
        """,
        [d.shop_id for d in deliveries],
        [d.webhook_id for d in deliveries],
        [d.event_id for d in deliveries],
        [d.topic for d in deliveries],
        [d.api_version for d in deliveries],
        [d.triggered_at for d in deliveries],
        [_dump_headers(d.headers) for d in deliveries],
        [d.body for d in deliveries],
        [d.status.value for d in deliveries],
        [d.error for d in deliveries],
    )
    return int(status.rsplit(maxsplit=1)[-1])


async def insert_supplier_deliveries(
    connection: Connection, deliveries: Sequence[NewSupplierDelivery]
) -> int:
    """Store supplier deliveries; a repeat of (account, dedup key) is skipped. Returns new rows."""
    if not deliveries:
        return 0
    # One statement (the edge runs it in autocommit): insert, and stamp the accounts.
    inserted: int = await connection.fetchval(
        """
        WITH inserted AS (
            INSERT INTO supplier_delivery
                (account_id, dedup_key, kind, headers, body, status, error)
            SELECT account_id, dedup_key, kind, headers::jsonb, body, status, error
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bytea[],
                        $6::text[], $7::text[])
                 AS t(account_id, dedup_key, kind, headers, body, status, error)
            ON CONFLICT DO NOTHING
            RETURNING 1
        ), stamped AS (
            UPDATE supplier_account SET last_delivery_at = now()
            WHERE account_id = ANY($1::bigint[])
        )
        SELECT count(*) FROM inserted
        """,
        [d.account_id for d in deliveries],
        [d.dedup_key for d in deliveries],
        [d.kind for d in deliveries],
        [_dump_headers(d.headers) for d in deliveries],
        [d.body for d in deliveries],
        [d.status.value for d in deliveries],
        [d.error for d in deliveries],
    )
    return inserted


async def claim_pending_shopify(
    connection: Connection, *, shop_id: int, limit: int
) -> list[PendingShopifyDelivery]:
    """Lock and return the shop's due pending deliveries in id order (call in a transaction)."""
    rows = await connection.fetch(
        """
        SELECT delivery_id, shop_id, topic, triggered_at, received_at, body, attempts
        FROM webhook_delivery
        WHERE shop_id = $1 AND status = 'pending'
          AND (next_attempt_at IS NULL OR next_attempt_at <= now())
        ORDER BY delivery_id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        shop_id,
        limit,
    )
    return [PendingShopifyDelivery(**dict(row)) for row in rows]


async def claim_pending_supplier(
    connection: Connection, *, account_id: int, limit: int
) -> list[PendingSupplierDelivery]:
    """Lock and return the account's due pending deliveries in id order (call in a transaction)."""
    rows = await connection.fetch(
        """
        SELECT delivery_id, account_id, kind, dedup_key, received_at, body, attempts
        FROM supplier_delivery
        WHERE account_id = $1 AND status = 'pending'
          AND (next_attempt_at IS NULL OR next_attempt_at <= now())
        ORDER BY delivery_id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        account_id,
        limit,
    )
    return [PendingSupplierDelivery(**dict(row)) for row in rows]


_RECORD_OUTCOMES = """
    UPDATE {table} AS d SET
        status = t.status,
        error = t.error,
        attempts = d.attempts + 1,
        applied_at = CASE WHEN t.status = 'pending' THEN NULL ELSE clock_timestamp() END,
        next_attempt_at = CASE WHEN t.status = 'pending'
                               THEN now() + t.retry_in ELSE NULL END
    FROM unnest($1::bigint[], $2::text[], $3::text[], $4::interval[])
         AS t(delivery_id, status, error, retry_in)
    WHERE d.{key} = $5 AND d.delivery_id = t.delivery_id
"""


def _outcome_arrays(outcomes: Sequence[DeliveryOutcome]) -> list[list[Any]]:
    return [
        [o.delivery_id for o in outcomes],
        [o.status.value for o in outcomes],
        [o.error for o in outcomes],
        [o.retry_in or timedelta(0) for o in outcomes],
    ]


async def record_shopify_outcomes(
    connection: Connection, *, shop_id: int, outcomes: Sequence[DeliveryOutcome]
) -> None:
    if outcomes:
        await connection.execute(
            _RECORD_OUTCOMES.format(table="webhook_delivery", key="shop_id"),
            *_outcome_arrays(outcomes),
            shop_id,
        )


async def record_supplier_outcomes(
    connection: Connection, *, account_id: int, outcomes: Sequence[DeliveryOutcome]
) -> None:
    if outcomes:
        await connection.execute(
            _RECORD_OUTCOMES.format(table="supplier_delivery", key="account_id"),
            *_outcome_arrays(outcomes),
            account_id,
        )


async def shops_with_due_deliveries(connection: Connection) -> list[int]:
    """Shops with pending deliveries that are due now (the sweeper re-triggers them)."""
    rows = await connection.fetch(
        """
        SELECT DISTINCT shop_id FROM webhook_delivery
        WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now())
        ORDER BY shop_id
        """
    )
    return [row["shop_id"] for row in rows]


async def supplier_accounts_with_due_deliveries(connection: Connection) -> list[int]:
    rows = await connection.fetch(
        """
        SELECT DISTINCT account_id FROM supplier_delivery
        WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now())
        ORDER BY account_id
        """
    )
    return [row["account_id"] for row in rows]


async def requeue_shopify_deliveries(
    connection: Connection,
    *,
    shop_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    delivery_ids: Sequence[int] | None = None,
) -> dict[int, int]:
    """Set matching deliveries that still have a body back to pending (replay).

    Returns the number re-queued per shop. Erased bodies (retention, redaction) stay as they
    are: there is nothing left to apply, and a redacted payload must not come back.
    """
    rows = await connection.fetch(
        """
        UPDATE webhook_delivery SET status = 'pending', attempts = 0, error = NULL,
            next_attempt_at = NULL, applied_at = NULL
        WHERE body IS NOT NULL
          AND ($1::bigint IS NULL OR shop_id = $1)
          AND ($2::timestamptz IS NULL OR received_at >= $2)
          AND ($3::timestamptz IS NULL OR received_at < $3)
          AND ($4::bigint[] IS NULL OR delivery_id = ANY($4::bigint[]))
        RETURNING shop_id
        """,
        shop_id,
        since,
        until,
        list(delivery_ids) if delivery_ids is not None else None,
    )
    counts: dict[int, int] = {}
    for row in rows:
        counts[row["shop_id"]] = counts.get(row["shop_id"], 0) + 1
    return counts


async def requeue_supplier_deliveries(
    connection: Connection,
    *,
    account_id: int | None = None,
    shop_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    delivery_ids: Sequence[int] | None = None,
) -> dict[int, int]:
    """Set matching supplier deliveries back to pending; returns counts per account."""
    rows = await connection.fetch(
        """
        UPDATE supplier_delivery SET status = 'pending', attempts = 0, error = NULL,
            next_attempt_at = NULL, applied_at = NULL
        WHERE body IS NOT NULL
          AND ($1::bigint IS NULL OR account_id = $1)
          AND ($2::bigint IS NULL OR shop_id = $2)
          AND ($3::timestamptz IS NULL OR received_at >= $3)
          AND ($4::timestamptz IS NULL OR received_at < $4)
          AND ($5::bigint[] IS NULL OR delivery_id = ANY($5::bigint[]))
        RETURNING account_id
        """,
        account_id,
        shop_id,
        since,
        until,
        list(delivery_ids) if delivery_ids is not None else None,
    )
    counts: dict[int, int] = {}
    for row in rows:
        counts[row["account_id"]] = counts.get(row["account_id"], 0) + 1
    return counts


_SHOPIFY_SUMMARY = """
    SELECT 'shopify' AS source, delivery_id, shop_id, NULL::bigint AS account_id, topic,
           webhook_id, event_id, status, attempts, error, received_at, applied_at,
           next_attempt_at, triggered_at, headers, {body} AS body,
           body_redacted_at IS NOT NULL OR body IS NULL AS body_erased
    FROM webhook_delivery
"""

_SUPPLIER_SUMMARY = """
    SELECT 'supplier' AS source, delivery_id, shop_id, account_id, kind AS topic,
           NULL::text AS webhook_id, dedup_key AS event_id, status, attempts, error,
           received_at, applied_at, next_attempt_at, NULL::timestamptz AS triggered_at,
           headers, {body} AS body, body IS NULL AS body_erased
    FROM supplier_delivery
"""


async def list_inbox_deliveries(
    connection: Connection,
    *,
    from_suppliers: bool,
    shop_ids: Sequence[int] | None,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[DeliverySummary]:
    """One inbox's deliveries, newest first; `shop_ids` None means every shop.

    A scoped caller sees supplier deliveries only once they resolved to one of its shops.
    """
    summary = _SUPPLIER_SUMMARY if from_suppliers else _SHOPIFY_SUMMARY
    rows = await connection.fetch(
        summary.format(body="NULL::bytea")
        + """
        WHERE ($1::bigint[] IS NULL OR shop_id = ANY($1::bigint[]))
          AND ($2::text IS NULL OR status = $2)
          AND ($3::bigint IS NULL OR delivery_id < $3)
        ORDER BY delivery_id DESC LIMIT $4
        """,
        list(shop_ids) if shop_ids is not None else None,
        status,
        before_id,
        limit,
    )
    return [DeliverySummary(**dict(row)) for row in rows]


async def get_shopify_delivery(connection: Connection, delivery_id: int) -> DeliverySummary | None:
    row = await connection.fetchrow(
        _SHOPIFY_SUMMARY.format(body="body") + " WHERE delivery_id = $1", delivery_id
    )
    return None if row is None else DeliverySummary(**dict(row))


async def get_supplier_delivery(connection: Connection, delivery_id: int) -> DeliverySummary | None:
    row = await connection.fetchrow(
        _SUPPLIER_SUMMARY.format(body="body") + " WHERE delivery_id = $1", delivery_id
    )
    return None if row is None else DeliverySummary(**dict(row))
