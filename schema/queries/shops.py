"""Shops and the Shopify apps they connect through."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asyncpg import Record

from schema.db import Connection

__all__ = [
    "AppRecord",
    "ShopRecord",
    "delete_shop",
    "get_shop",
    "get_shop_by_domain",
    "insert_shop",
    "list_shops",
    "secrets_for_domain",
    "upsert_app",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppRecord:
    app_id: int
    name: str
    kind: str
    client_id: str | None
    client_secret_enc: bytes | None
    previous_client_secret_enc: bytes | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopRecord:
    shop_id: int
    domain: str
    app_id: int
    status: str
    attention_reason: str | None
    plan: str
    timezone: str
    settings: dict[str, Any]
    access_token_enc: bytes | None
    refresh_token_enc: bytes | None
    token_expires_at: datetime | None
    scopes: str | None
    installed_at: datetime
    uninstalled_at: datetime | None


_SHOP_COLUMNS = (
    "shop_id, domain, app_id, status, attention_reason, plan, timezone, settings, "
    "access_token_enc, refresh_token_enc, token_expires_at, scopes, installed_at, uninstalled_at"
)


def _shop(row: Record) -> ShopRecord:
    return ShopRecord(**dict(row))


async def upsert_app(
    connection: Connection,
    *,
    name: str,
    kind: str,
    client_id: str | None,
    client_secret_enc: bytes | None,
) -> int:
    """Create the app or update its credentials; a changed secret keeps the old one for rotation."""
    app_id: int = await connection.fetchval(
        """
        INSERT INTO app (name, kind, client_id, client_secret_enc)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (name) DO UPDATE SET
            kind = EXCLUDED.kind,
            client_id = EXCLUDED.client_id,
            previous_client_secret_enc = CASE
                WHEN EXCLUDED.client_secret_enc IS DISTINCT FROM app.client_secret_enc
                THEN app.client_secret_enc ELSE app.previous_client_secret_enc END,
            client_secret_enc = EXCLUDED.client_secret_enc
        RETURNING app_id
        """,
        name,
        kind,
        client_id,
        client_secret_enc,
    )
    return app_id


async def insert_shop(
    connection: Connection,
    *,
    domain: str,
    app_id: int,
    access_token_enc: bytes | None,
    plan: str = "standard",
    timezone: str = "UTC",
    settings: dict[str, Any] | None = None,
) -> ShopRecord:
    """Register a shop, or re-activate it (a reinstall) with fresh credentials."""
    row = await connection.fetchrow(
        f"""
        INSERT INTO shop (domain, app_id, access_token_enc, plan, timezone, settings)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (domain) DO UPDATE SET
            app_id = EXCLUDED.app_id,
            access_token_enc = EXCLUDED.access_token_enc,
            status = 'active',
            attention_reason = NULL,
            uninstalled_at = NULL,
            installed_at = now()
        RETURNING {_SHOP_COLUMNS}
        """,
        domain,
        app_id,
        access_token_enc,
        plan,
        timezone,
        settings or {},
    )
    assert row is not None  # noqa: S101  (INSERT ... RETURNING always yields a row)
    return _shop(row)


async def get_shop(connection: Connection, shop_id: int) -> ShopRecord | None:
    row = await connection.fetchrow(f"SELECT {_SHOP_COLUMNS} FROM shop WHERE shop_id = $1", shop_id)
    return None if row is None else _shop(row)


async def get_shop_by_domain(connection: Connection, domain: str) -> ShopRecord | None:
    row = await connection.fetchrow(
        f"SELECT {_SHOP_COLUMNS} FROM shop WHERE domain = $1", domain.lower()
    )
    return None if row is None else _shop(row)


async def list_shops(
    connection: Connection, *, shop_ids: list[int] | None = None
) -> list[ShopRecord]:
    """All shops, or only those in `shop_ids` (a token's scope)."""
    rows = await connection.fetch(
        f"""
        SELECT {_SHOP_COLUMNS} FROM shop
        WHERE $1::bigint[] IS NULL OR shop_id = ANY($1::bigint[])
        ORDER BY shop_id
        """,
        shop_ids,
    )
    return [_shop(row) for row in rows]


async def delete_shop(connection: Connection, shop_id: int) -> bool:
    """Erase the shop and, by cascade, every row it owns. The app record stays."""
    status: str = await connection.execute("DELETE FROM shop WHERE shop_id = $1", shop_id)
    return status.endswith(" 1")


async def secrets_for_domain(connection: Connection, domain: str) -> tuple[int, list[bytes]] | None:
    """The shop id and every encrypted app secret a delivery for `domain` may be signed with."""
    row = await connection.fetchrow(
        """
        SELECT s.shop_id, a.client_secret_enc, a.previous_client_secret_enc
        FROM shop s JOIN app a USING (app_id)
        WHERE s.domain = $1
        """,
        domain.lower(),
    )
    if row is None:
        return None
    secrets = [
        secret
        for secret in (row["client_secret_enc"], row["previous_client_secret_enc"])
        if secret is not None
    ]
    return row["shop_id"], secrets
