"""OAuth: authorization code (expiring tokens too), refresh, client credentials.

`authorize` answers `GET /admin/oauth/authorize` with a redirect whose query string
carries `code`, `host`, `shop`, `state`, `timestamp` and `hmac` (hex HMAC-SHA256 of the
other parameters sorted by key and joined as `k=v&...`, keyed by the client secret).
`exchange` answers `POST /admin/oauth/access_token` (facts doc 5.1-5.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from simulator.shopify.model import AccessToken, Shop

__all__ = ["AuthorizeRequest", "OAuthError", "OAuthState", "oauth_query_hmac"]

CODE_TTL_SECONDS = 600.0


def oauth_query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256 of the sorted query without `hmac`, as Shopify signs it."""
    message = "&".join(
        f"{key}={value}" for key, value in sorted(params.items()) if key != "hmac"
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class OAuthError(Exception):
    """A refused OAuth request: HTTP status and JSON body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorizeRequest:
    """One recorded `GET /admin/oauth/authorize`."""

    shop: str
    client_id: str
    scope: str
    redirect_uri: str
    state: str | None
    per_user: bool
    code: str


@dataclass(slots=True, kw_only=True)
class _Grant:
    shop: str
    scope: str
    per_user: bool
    issued_at: float
    used: bool = False


@dataclass(slots=True)
class OAuthState:
    """Codes, access tokens and refresh tokens of every shop."""

    rng: random.Random
    clock: Callable[[], float]
    wall_seconds: Callable[[], int]
    expiring_token_ttl: float = 3600.0
    refresh_token_ttl: float = 7_776_000.0
    client_credentials_ttl: float = 86_399.0
    online_token_ttl: float = 86_399.0
    tokens: dict[tuple[str, str], AccessToken] = field(default_factory=dict)
    requests: list[AuthorizeRequest] = field(default_factory=list)
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _refresh: dict[str, tuple[AccessToken, float]] = field(default_factory=dict)

    def _secret(self, prefix: str) -> str:
        return f"{prefix}{self.rng.getrandbits(128):032x}"

    def issue(
        self,
        shop: str,
        *,
        scope: str,
        kind: str,
        ttl: float | None,
        token: str | None = None,
    ) -> AccessToken:
        record = AccessToken(
            token=token or self._secret("shpat_"),
            shop=shop,
            scope=scope,
            expires_at=self.clock() + ttl if ttl is not None else None,
            kind=kind,
        )
        self.tokens[(shop, record.token)] = record
        return record

    def is_valid(self, shop: str, token: str | None) -> bool:
        record = self.tokens.get((shop, token or ""))
        if record is None or record.revoked:
            return False
        return record.expires_at is None or self.clock() < record.expires_at

    def revoke(self, shop: str, token: str | None = None) -> int:
        """Revoke one token, or every token of the shop; return how many."""
        count = 0
        for record in self.tokens.values():
            if record.shop == shop and (token is None or record.token == token):
                record.revoked = True
                count += 1
        return count

    def expire(self, shop: str, token: str | None = None) -> None:
        for record in self.tokens.values():
            if record.shop == shop and (token is None or record.token == token):
                record.expires_at = self.clock()

    # ------------------------------------------------------------ authorize

    def authorize(self, shop: Shop, params: Mapping[str, str]) -> str:
        """Record the request and return the redirect URL (with code and hmac)."""
        if params.get("client_id") != shop.client_id:
            raise OAuthError(400, "invalid_request", "Invalid client_id")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            raise OAuthError(400, "invalid_request", "The redirect_uri is missing")
        code = f"{self.rng.getrandbits(128):032x}"
        per_user = params.get("grant_options[]") == "per-user"
        scope = params.get("scope") or shop.scope
        self._codes[code] = _Grant(
            shop=shop.domain, scope=scope, per_user=per_user, issued_at=self.clock()
        )
        self.requests.append(
            AuthorizeRequest(
                shop=shop.domain,
                client_id=shop.client_id,
                scope=scope,
                redirect_uri=redirect_uri,
                state=params.get("state"),
                per_user=per_user,
                code=code,
            )
        )
        store = shop.domain.removesuffix(".myshopify.com")
        query = {
            "code": code,
            "host": base64.b64encode(f"admin.shopify.com/store/{store}".encode())
            .decode()
            .rstrip("="),
            "shop": shop.domain,
            "timestamp": str(self.wall_seconds()),
        }
        if params.get("state") is not None:
            query["state"] = params["state"]
        query["hmac"] = oauth_query_hmac(query, shop.client_secret)
        separator = "&" if "?" in redirect_uri else "?"
        return f"{redirect_uri}{separator}{urlencode(query)}"

    # ------------------------------------------------------------- exchange

    def exchange(self, shop: Shop, form: Mapping[str, Any]) -> dict[str, Any]:
        """Answer `POST /admin/oauth/access_token` for any supported grant."""
        if (
            form.get("client_id") != shop.client_id
            or form.get("client_secret") != shop.client_secret
        ):
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        grant_type = form.get("grant_type") or "authorization_code"
        if grant_type == "authorization_code":
            return self._from_code(shop, form)
        if grant_type == "refresh_token":
            return self._from_refresh(shop, str(form.get("refresh_token") or ""))
        if grant_type == "client_credentials":
            record = self.issue(
                shop.domain,
                scope=shop.scope,
                kind="client_credentials",
                ttl=self.client_credentials_ttl,
            )
            return {
                "access_token": record.token,
                "scope": record.scope,
                "expires_in": int(self.client_credentials_ttl),
            }
        raise OAuthError(
            400, "unsupported_grant_type", f"Unsupported grant_type {grant_type}"
        )

    def _from_code(self, shop: Shop, form: Mapping[str, Any]) -> dict[str, Any]:
        grant = self._codes.get(str(form.get("code") or ""))
        if (
            grant is None
            or grant.used
            or grant.shop != shop.domain
            or self.clock() - grant.issued_at > CODE_TTL_SECONDS
        ):
            raise OAuthError(
                400,
                "invalid_request",
                "The authorization code was not found or was already used",
            )
        grant.used = True
        if grant.per_user:
            record = self.issue(
                shop.domain,
                scope=grant.scope,
                kind="online",
                ttl=self.online_token_ttl,
                token=self._secret("shpua_"),
            )
            return {
                "access_token": record.token,
                "scope": record.scope,
                "expires_in": int(self.online_token_ttl),
                "associated_user_scope": record.scope,
                "associated_user": {
                    "id": 902541635,
                    "first_name": "John",
                    "last_name": "Smith",
                    "email": "john@example.com",
                    "email_verified": True,
                    "account_owner": True,
                    "locale": "en",
                    "collaborator": False,
                },
            }
        expiring = str(form.get("expiring") or "0") == "1"
        return self._offline(shop, scope=grant.scope, expiring=expiring)

    def _offline(self, shop: Shop, *, scope: str, expiring: bool) -> dict[str, Any]:
        record = self.issue(
            shop.domain,
            scope=scope,
            kind="offline",
            ttl=self.expiring_token_ttl if expiring else None,
            token=self._secret("shpca_"),
        )
        body: dict[str, Any] = {"access_token": record.token, "scope": record.scope}
        if expiring:
            refresh = self._secret("shprt_")
            record.refresh_token = refresh
            self._refresh[refresh] = (record, self.clock() + self.refresh_token_ttl)
            body |= {
                "expires_in": int(self.expiring_token_ttl),
                "refresh_token": refresh,
                "refresh_token_expires_in": int(self.refresh_token_ttl),
            }
        return body

    def _from_refresh(self, shop: Shop, refresh_token: str) -> dict[str, Any]:
        entry = self._refresh.pop(refresh_token, None)
        if entry is None or entry[0].shop != shop.domain or self.clock() >= entry[1]:
            raise OAuthError(
                400, "invalid_grant", "The refresh token is invalid or has expired"
            )
        old, _ = entry
        old.revoked = True
        return self._offline(shop, scope=old.scope, expiring=True)
