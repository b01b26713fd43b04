"""A stand-in for Shopify's `/admin/oauth/access_token`, for tests of the connect flows.

It issues tokens for the grants Shopify supports, remembers what it issued, and can be told to
refuse (as Shopify does for a revoked app or a spent refresh token).
"""

import json
import secrets
from dataclasses import dataclass, field

import httpx

__all__ = ["FakeTokenEndpoint"]


@dataclass
class FakeTokenEndpoint:
    client_id: str = "client-id"
    client_secret: str = "client-secret"
    scope: str = (
        "read_orders,write_merchant_managed_fulfillment_orders,write_third_party_fulfillment_orders"
    )
    expires_in: int | None = 86400
    refuse: bool = False
    codes: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    requests: list[dict[str, str]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _token(self, *, refresh: bool) -> dict[str, object]:
        token = "shpat_" + secrets.token_hex(8)
        self.issued.append(token)
        body: dict[str, object] = {"access_token": token, "scope": self.scope}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
            if refresh:
                refresh_token = "shprt_" + secrets.token_hex(8)
                self.refresh_tokens.add(refresh_token)
                body["refresh_token"] = refresh_token
                body["refresh_token_expires_in"] = 90 * 86400
        return body

    def handle(self, request: httpx.Request) -> httpx.Response:  # noqa: PLR0911  (one per grant outcome)
        if not request.url.path.endswith("/admin/oauth/access_token"):
            return httpx.Response(404)
        payload = json.loads(request.content)
        self.requests.append(payload)
        credentials_ok = (
            payload.get("client_id") == self.client_id
            and payload.get("client_secret") == self.client_secret
        )
        if self.refuse or not credentials_ok:
            return httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})
        grant = payload.get("grant_type")
        if grant == "client_credentials":
            return httpx.Response(200, json=self._token(refresh=False))
        if grant == "refresh_token":
            if payload.get("refresh_token") not in self.refresh_tokens:
                return httpx.Response(400, json={"error": "invalid_grant"})
            self.refresh_tokens.discard(payload["refresh_token"])
            return httpx.Response(200, json=self._token(refresh=True))
        if payload.get("code") not in self.codes:
            return httpx.Response(400, json={"error": "invalid_request"})
        self.codes.discard(payload["code"])
        return httpx.Response(200, json=self._token(refresh=payload.get("expiring") == "1"))
