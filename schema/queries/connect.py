"""Connecting shops: OAuth state nonces, stored tokens and the needs-attention flag."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schema.db import Connection

__all__ = [
    "SHOP_CREDENTIALS_COLUMNS",
    "TOKEN_REJECTED_REASON",
    "ShopCredentials",
    "consume_oauth_state",
    "insert_oauth_state",
    "mark_shop_needs_attention",
    "set_shop_setting",
    "shop_credentials",
    "store_shop_token",
]

# Every attention reason about a refused token starts with this.
TOKEN_REJECTED_REASON = "Shopify rejected the access token"  # noqa: S105  (a message)
# Attention reasons a working new token clears (ours, and the push worker's refusals).
_CLEARED_BY_NEW_TOKEN = [TOKEN_REJECTED_REASON + "%", "Shopify refused%"]


async def insert_oauth_state(
    connection: Connection, *, nonce: str, shop_domain: str, scopes: str, expires_at: datetime
) -> None:
    await connection.execute(
        """
        INSERT INTO oauth_state (nonce, shop_domain, scopes, expires_at)
        VALUES ($1, $2, $3, $4)
        """,
        nonce,
        shop_domain,
        scopes,
        expires_at,
    )


async def consume_oauth_state(
    connection: Connection, *, nonce: str, shop_domain: str, now: datetime
) -> str | None:
    """Use the nonce once: returns its scopes, or None when unknown, used, expired or for
    another shop. Expired and used nonces older than a day are swept on the way."""
    scopes: str | None = await connection.fetchval(
        """
        UPDATE oauth_state SET used_at = $3
        WHERE nonce = $1 AND shop_domain = $2 AND used_at IS NULL AND expires_at > $3
        RETURNING scopes
        """,
        nonce,
        shop_domain,
        now,
    )
    await connection.execute(
        "DELETE FROM oauth_state WHERE expires_at < $1::timestamptz - interval '1 day'", now
    )
    return scopes


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopCredentials:
    """What it takes to call a shop's Admin API and renew its token."""

    shop_id: int
    domain: str
    status: str
    app_kind: str
    client_id: str | None
    client_secret_enc: bytes | None
    access_token_enc: bytes | None
    refresh_token_enc: bytes | None
    token_expires_at: datetime | None
    settings: dict[str, Any]
    installed_at: datetime


# ShopCredentials' columns, from `shop s JOIN app a USING (app_id)`.
SHOP_CREDENTIALS_COLUMNS = """
    s.shop_id, s.domain, s.status, a.kind AS app_kind, a.client_id, a.client_secret_enc,
    s.access_token_enc, s.refresh_token_enc, s.token_expires_at, s.settings, s.installed_at
"""


async def shop_credentials(connection: Connection, shop_id: int) -> ShopCredentials | None:
    row = await connection.fetchrow(
        f"""
        SELECT {SHOP_CREDENTIALS_COLUMNS}
        FROM shop s JOIN app a USING (app_id)
        WHERE s.shop_id = $1
        """,
        shop_id,
    )
    return None if row is None else ShopCredentials(**dict(row))


async def store_shop_token(
    connection: Connection,
    *,
    shop_id: int,
    access_token_enc: bytes,
    refresh_token_enc: bytes | None,
    token_expires_at: datetime | None,
    scopes: str | None,
) -> None:
    """Keep a new token; it also clears an attention flag raised by a rejected token (not
    one raised for another reason, such as missing scopes)."""
    await connection.execute(
        """
        UPDATE shop SET
            access_token_enc = $2,
            refresh_token_enc = COALESCE($3, refresh_token_enc),
            token_expires_at = $4,
            scopes = COALESCE($5, scopes),
            status = CASE
                WHEN status = 'needs_attention' AND attention_reason LIKE ANY($6::text[])
                THEN 'active' ELSE status END,
            attention_reason = CASE
                WHEN status = 'needs_attention' AND attention_reason LIKE ANY($6::text[])
                THEN NULL ELSE attention_reason END
        WHERE shop_id = $1
        """,
        shop_id,
        access_token_enc,
        refresh_token_enc,
        token_expires_at,
        scopes,
        _CLEARED_BY_NEW_TOKEN,
    )


async def mark_shop_needs_attention(connection: Connection, *, shop_id: int, reason: str) -> None:
    """Flag the shop for a person (a rejected token); an uninstalled shop stays uninstalled."""
    await connection.execute(
        """
        UPDATE shop SET status = 'needs_attention', attention_reason = $2
        WHERE shop_id = $1 AND status <> 'uninstalled'
        """,
        shop_id,
        reason,
    )


async def set_shop_setting(connection: Connection, *, shop_id: int, key: str, value: Any) -> bool:
    """Set one key of the shop's settings object (None removes it)."""
    status: str = await connection.execute(
        """
        UPDATE shop SET settings = CASE WHEN $3::jsonb = 'null'::jsonb THEN settings - $2
                                        ELSE settings || jsonb_build_object($2::text, $3::jsonb) END
        WHERE shop_id = $1
        """,
        shop_id,
        key,
        value,
    )
    return status.endswith(" 1")
