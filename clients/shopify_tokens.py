"""A shop's Admin API token, renewed before it lapses.

Legacy custom apps hold a static token. Dev Dashboard custom apps get theirs through the client
credentials grant and ask again before it expires. Public apps with expiring offline tokens
renew with their refresh token. Renewal runs under a row lock on the shop, so two workers never
spend the same refresh token. When Shopify refuses the credentials the shop is flagged
`needs_attention` with the reason, and `ShopTokenError` tells the caller to stop for this shop.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from clients.shopify_oauth import (
    OAuthError,
    TokenGrant,
    TokenRejectedError,
    client_credentials_grant,
    refresh_access_token,
)
from schema.db import Connection
from schema.queries.connect import (
    TOKEN_REJECTED_REASON,
    ShopCredentials,
    mark_shop_needs_attention,
    shop_credentials,
    store_shop_token,
)
from schema.secrets import SecretBox

__all__ = [
    "ShopTokenError",
    "TokenRenewal",
    "access_token_for",
    "current_token",
    "report_rejected_token",
    "store_grant",
]

log = structlog.get_logger()


class ShopTokenError(Exception):
    """No usable token for the shop: uninstalled, never connected, or refused by Shopify."""


async def store_grant(
    connection: Connection, secrets: SecretBox, *, shop_id: int, grant: TokenGrant
) -> None:
    await store_shop_token(
        connection,
        shop_id=shop_id,
        access_token_enc=secrets.encrypt(grant.access_token),
        refresh_token_enc=secrets.encrypt(grant.refresh_token) if grant.refresh_token else None,
        token_expires_at=grant.expires_at,
        scopes=grant.scope or None,
    )


async def report_rejected_token(connection: Connection, *, shop_id: int, detail: str) -> None:
    """Shopify answered 401 to the shop's token: flag it for a person, visibly."""
    reason = f"{TOKEN_REJECTED_REASON}: {detail}"[:500]
    await mark_shop_needs_attention(connection, shop_id=shop_id, reason=reason)
    log.warning("shop.token_rejected", shop_id=shop_id, detail=detail[:200])


def _needs_renewal(shop: ShopCredentials, *, now: datetime, margin: timedelta) -> bool:
    if shop.app_kind == "legacy":
        return False
    if shop.access_token_enc is None:
        return shop.app_kind == "custom"
    return shop.token_expires_at is not None and shop.token_expires_at - margin <= now


async def _renew(
    http: httpx.AsyncClient,
    secrets: SecretBox,
    shop: ShopCredentials,
    *,
    url_template: str,
    now: datetime,
) -> TokenGrant:
    if shop.client_id is None or shop.client_secret_enc is None:
        msg = f"shop {shop.domain} has no client id or secret to renew its token with"
        raise TokenRejectedError(msg)
    client_secret = secrets.decrypt(shop.client_secret_enc)
    if shop.app_kind == "custom":
        return await client_credentials_grant(
            http,
            url_template=url_template,
            shop=shop.domain,
            client_id=shop.client_id,
            client_secret=client_secret,
            now=now,
        )
    if shop.refresh_token_enc is None:
        msg = "the access token expired and there is no refresh token: reinstall the app"
        raise TokenRejectedError(msg)
    return await refresh_access_token(
        http,
        url_template=url_template,
        shop=shop.domain,
        client_id=shop.client_id,
        client_secret=client_secret,
        refresh_token=secrets.decrypt(shop.refresh_token_enc),
        now=now,
    )


async def access_token_for(
    connection: Connection,
    secrets: SecretBox,
    http: httpx.AsyncClient,
    *,
    shop_id: int,
    url_template: str,
    now: datetime,
    renew_margin: timedelta,
    force_renewal: bool = False,
    credentials: ShopCredentials | None = None,
) -> str:
    """The shop's current token, renewed first when it lapses within `renew_margin`.

    `force_renewal` asks for a new token even if the stored one looks valid (after a 401 on a
    renewable token). `credentials` is the shop's row when the caller has just read it (a
    renewal reads it again under the row lock). Raises `ShopTokenError` when there is no
    usable token.
    """
    shop = credentials or await shop_credentials(connection, shop_id)
    if shop is None or shop.status == "uninstalled":
        msg = f"shop {shop_id} is not connected"
        raise ShopTokenError(msg)
    renewable = shop.app_kind != "legacy"
    if not (force_renewal and renewable) and not _needs_renewal(shop, now=now, margin=renew_margin):
        if shop.access_token_enc is None:
            msg = f"shop {shop.domain} has no access token yet"
            raise ShopTokenError(msg)
        return secrets.decrypt(shop.access_token_enc)
    rejected: TokenRejectedError | None = None
    async with connection.transaction():
        # Re-read under the lock: another worker may have renewed meanwhile.
        await connection.execute("SELECT 1 FROM shop WHERE shop_id = $1 FOR UPDATE", shop_id)
        locked = await shop_credentials(connection, shop_id)
        assert locked is not None  # noqa: S101  (the row is locked and was there a moment ago)
        renewed_meanwhile = locked.token_expires_at != shop.token_expires_at or (
            locked.access_token_enc != shop.access_token_enc
        )
        if renewed_meanwhile and locked.access_token_enc is not None:
            return secrets.decrypt(locked.access_token_enc)
        try:
            grant = await _renew(http, secrets, locked, url_template=url_template, now=now)
        except TokenRejectedError as error:
            rejected = error
        except OAuthError as error:
            raise ShopTokenError(str(error)) from error
        else:
            await store_grant(connection, secrets, shop_id=shop_id, grant=grant)
            log.info(
                "shop.token_renewed",
                shop_id=shop_id,
                kind=locked.app_kind,
                expires=grant.expires_at,
            )
            return grant.access_token
    # Outside the transaction, so the flag survives the error.
    await report_rejected_token(connection, shop_id=shop_id, detail=str(rejected))
    raise ShopTokenError(str(rejected)) from rejected


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRenewal:
    """Where expiring tokens are renewed (Shopify's OAuth endpoints) and how early."""

    secrets: SecretBox
    oauth_url_template: str
    renew_margin: timedelta = timedelta(hours=1)


async def current_token(
    renewal: TokenRenewal,
    connection: Connection,
    http: httpx.AsyncClient,
    *,
    shop_id: int,
    credentials: ShopCredentials | None = None,
) -> str | None:
    """The shop's token for an Admin API call, renewed first if it is about to lapse.

    None when the shop has no usable token (the shop is then flagged needs_attention by the
    renewal itself, and the caller skips it). Every caller of the Admin API goes through this,
    so an expiring token never reaches Shopify expired.
    """
    try:
        return await access_token_for(
            connection,
            renewal.secrets,
            http,
            shop_id=shop_id,
            url_template=renewal.oauth_url_template,
            now=datetime.now(UTC),
            renew_margin=renewal.renew_margin,
            credentials=credentials,
        )
    except ShopTokenError as error:
        log.warning("shop.no_usable_token", shop_id=shop_id, error=str(error))
        return None
