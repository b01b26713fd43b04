"""Shopify's OAuth token endpoint: code exchange, refresh and the client credentials grant.

All three are `POST https://{shop}/admin/oauth/access_token` with a JSON body; they differ in
the grant. Expiring tokens come with `expires_in` (seconds) and, for offline tokens, a
`refresh_token` with its own `refresh_token_expires_in`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

__all__ = [
    "OAuthError",
    "TokenGrant",
    "TokenRejectedError",
    "authorize_url",
    "client_credentials_grant",
    "exchange_code",
    "refresh_access_token",
]


class OAuthError(Exception):
    """Shopify's token endpoint failed or answered something unreadable."""


class TokenRejectedError(OAuthError):
    """Shopify refused the credentials (4xx): retrying will not help, a person must act."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenGrant:
    access_token: str
    scope: str
    expires_at: datetime | None
    refresh_token: str | None
    refresh_token_expires_at: datetime | None


def _endpoint(url_template: str, *, shop: str, endpoint: str) -> str:
    return url_template.format(shop=shop, endpoint=endpoint)


def authorize_url(
    url_template: str,
    *,
    shop: str,
    client_id: str,
    scopes: list[str],
    redirect_uri: str,
    state: str,
) -> str:
    """Shopify's authorize page for an offline token (no `grant_options[]=per-user`)."""
    query = urlencode(
        {
            "client_id": client_id,
            "scope": ",".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{_endpoint(url_template, shop=shop, endpoint='authorize')}?{query}"


def _grant(body: Any, *, now: datetime) -> TokenGrant:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        msg = "Shopify's token endpoint answered without an access_token"
        raise OAuthError(msg)

    def after(key: str) -> datetime | None:
        seconds = body.get(key)
        return now + timedelta(seconds=int(seconds)) if isinstance(seconds, int | float) else None

    refresh = body.get("refresh_token")
    return TokenGrant(
        access_token=body["access_token"],
        scope=str(body.get("scope") or ""),
        expires_at=after("expires_in"),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        refresh_token_expires_at=after("refresh_token_expires_in"),
    )


async def _post(
    http: httpx.AsyncClient, url: str, payload: dict[str, str], *, now: datetime
) -> TokenGrant:
    try:
        response = await http.post(url, json=payload, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        msg = f"Shopify's token endpoint is unreachable: {type(error).__name__}"
        raise OAuthError(msg) from error
    if 400 <= response.status_code < 500 and response.status_code != 429:
        detail = response.text[:200]
        msg = f"Shopify refused the credentials ({response.status_code}): {detail}"
        raise TokenRejectedError(msg)
    if response.status_code != 200:
        msg = f"Shopify's token endpoint answered {response.status_code}"
        raise OAuthError(msg)
    try:
        body = response.json()
    except ValueError as error:
        msg = "Shopify's token endpoint answered with something that is not JSON"
        raise OAuthError(msg) from error
    return _grant(body, now=now)


async def exchange_code(
    http: httpx.AsyncClient,
    *,
    url_template: str,
    shop: str,
    client_id: str,
    client_secret: str,
    code: str,
    expiring: bool,
    now: datetime,
) -> TokenGrant:
    """Trade the callback's authorization code for an offline token."""
    payload = {
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "expiring": "1" if expiring else "0",
    }
    url = _endpoint(url_template, shop=shop, endpoint="access_token")
    return await _post(http, url, payload, now=now)


async def refresh_access_token(
    http: httpx.AsyncClient,
    *,
    url_template: str,
    shop: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    now: datetime,
) -> TokenGrant:
    """Renew an expiring offline token; Shopify answers with a new refresh token too."""
    payload = {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    url = _endpoint(url_template, shop=shop, endpoint="access_token")
    return await _post(http, url, payload, now=now)


async def client_credentials_grant(
    http: httpx.AsyncClient,
    *,
    url_template: str,
    shop: str,
    client_id: str,
    client_secret: str,
    now: datetime,
) -> TokenGrant:
    """A Dev Dashboard custom app's token (it expires; ask again before it does)."""
    payload = {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "client_credentials",
    }
    url = _endpoint(url_template, shop=shop, endpoint="access_token")
    return await _post(http, url, payload, now=now)
