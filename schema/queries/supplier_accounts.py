"""Supplier accounts: created, listed, removed, and read by the webhook edge and the apply job."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schema.db import Connection

__all__ = [
    "SupplierAccountRecord",
    "delete_supplier_account",
    "get_supplier_account",
    "insert_supplier_account",
    "list_supplier_accounts",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierAccountRecord:
    account_id: int
    kind: str
    name: str
    webhook_token_hash: str | None
    secrets_enc: bytes | None
    timezone: str
    default_shop_id: int | None
    settings: dict[str, Any]
    status: str
    last_delivery_at: datetime | None
    created_at: datetime
    shop_ids: list[int]


_SELECT = """
    SELECT a.account_id, a.kind, a.name, a.webhook_token_hash, a.secrets_enc, a.timezone,
           a.default_shop_id, a.settings, a.status, a.last_delivery_at, a.created_at,
           COALESCE(array_agg(s.shop_id ORDER BY s.shop_id)
                    FILTER (WHERE s.shop_id IS NOT NULL), '{}') AS shop_ids
    FROM supplier_account a
    LEFT JOIN supplier_account_shop s USING (account_id)
"""


def _record(row: Any) -> SupplierAccountRecord:
    return SupplierAccountRecord(**dict(row))


async def insert_supplier_account(
    connection: Connection,
    *,
    kind: str,
    name: str,
    webhook_token_hash: str | None,
    secrets_enc: bytes | None,
    timezone: str,
    default_shop_id: int | None,
    shop_ids: Sequence[int],
    settings: dict[str, Any] | None = None,
) -> SupplierAccountRecord:
    """Create the account and its shop links (call in a transaction)."""
    account_id: int = await connection.fetchval(
        """
        INSERT INTO supplier_account
            (kind, name, webhook_token_hash, secrets_enc, timezone, default_shop_id, settings)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING account_id
        """,
        kind,
        name,
        webhook_token_hash,
        secrets_enc,
        timezone,
        default_shop_id,
        settings or {},
    )
    await connection.execute(
        """
        INSERT INTO supplier_account_shop (shop_id, account_id)
        SELECT DISTINCT unnest($2::bigint[]), $1::bigint ON CONFLICT DO NOTHING
        """,
        account_id,
        list(shop_ids),
    )
    record = await get_supplier_account(connection, account_id)
    assert record is not None  # noqa: S101  (just inserted in this transaction)
    return record


async def get_supplier_account(
    connection: Connection, account_id: int
) -> SupplierAccountRecord | None:
    row = await connection.fetchrow(
        _SELECT + " WHERE a.account_id = $1 GROUP BY a.account_id", account_id
    )
    return None if row is None else _record(row)


async def list_supplier_accounts(
    connection: Connection, *, shop_ids: Sequence[int] | None = None
) -> list[SupplierAccountRecord]:
    """Every account, or those linked to (or defaulting to) one of `shop_ids`."""
    rows = await connection.fetch(
        _SELECT
        + """
        GROUP BY a.account_id
        HAVING $1::bigint[] IS NULL OR a.default_shop_id = ANY($1::bigint[])
            OR bool_or(s.shop_id = ANY($1::bigint[]))
        ORDER BY a.account_id
        """,
        list(shop_ids) if shop_ids is not None else None,
    )
    return [_record(row) for row in rows]


async def delete_supplier_account(connection: Connection, account_id: int) -> bool:
    """Remove the account; its inbox, links and supplier orders go with it (cascade)."""
    status: str = await connection.execute(
        "DELETE FROM supplier_account WHERE account_id = $1", account_id
    )
    return status.endswith(" 1")
