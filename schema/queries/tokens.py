"""API tokens: created, listed, revoked and looked up by hash."""

from dataclasses import dataclass
from datetime import datetime

from schema.db import Connection

__all__ = ["TokenRecord", "find_active_token", "insert_token", "list_tokens", "revoke_token"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    token_id: int
    name: str
    is_admin: bool
    shop_ids: list[int]
    can_write: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_COLUMNS = "token_id, name, is_admin, shop_ids, can_write, created_at, last_used_at, revoked_at"


async def insert_token(
    connection: Connection,
    *,
    name: str,
    token_hash: str,
    is_admin: bool,
    shop_ids: list[int],
    can_write: bool,
) -> TokenRecord:
    row = await connection.fetchrow(
        f"""
        INSERT INTO api_token (name, token_hash, is_admin, shop_ids, can_write)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING {_COLUMNS}
        """,
        name,
        token_hash,
        is_admin,
        shop_ids,
        can_write,
    )
    assert row is not None  # noqa: S101  (INSERT ... RETURNING always yields a row)
    return TokenRecord(**dict(row))


async def find_active_token(connection: Connection, token_hash: str) -> TokenRecord | None:
    """Return the unrevoked token with this hash and stamp its last use (at most once a minute)."""
    row = await connection.fetchrow(
        f"""
        UPDATE api_token SET last_used_at = now()
        WHERE token_hash = $1 AND revoked_at IS NULL
          AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
        RETURNING {_COLUMNS}
        """,
        token_hash,
    ) or await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM api_token WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
    return None if row is None else TokenRecord(**dict(row))


async def list_tokens(connection: Connection) -> list[TokenRecord]:
    rows = await connection.fetch(f"SELECT {_COLUMNS} FROM api_token ORDER BY token_id")
    return [TokenRecord(**dict(row)) for row in rows]


async def revoke_token(connection: Connection, token_id: int) -> bool:
    status: str = await connection.execute(
        "UPDATE api_token SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL",
        token_id,
    )
    return status.endswith(" 1")
