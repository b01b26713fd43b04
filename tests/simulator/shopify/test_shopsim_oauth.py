"""Access tokens and OAuth: code grant, expiring tokens, refresh, client credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from shopsim_helpers import SHOP, AdminClient

from simulator.shopify import (
    INVALID_TOKEN_BODY,
    ManualClock,
    ShopCredentials,
    ShopifySimulator,
    oauth_query_hmac,
)

REDIRECT = "https://app.example.com/auth/callback"


@pytest.fixture
async def http(sim: ShopifySimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url=f"https://{SHOP}") as client:
        yield client


async def _authorize(
    http: httpx.AsyncClient, creds: ShopCredentials, **extra: str
) -> dict[str, str]:
    response = await http.get(
        "/admin/oauth/authorize",
        params={
            "client_id": creds.client_id,
            "scope": "read_orders,write_fulfillments",
            "redirect_uri": REDIRECT,
            "state": "nonce-1",
            **extra,
        },
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


async def _token(http: httpx.AsyncClient, creds: ShopCredentials, **fields: str) -> httpx.Response:
    return await http.post(
        "/admin/oauth/access_token",
        json={
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            **fields,
        },
    )


async def test_wrong_or_missing_token_gets_401_with_shopify_body(
    admin: AdminClient,
) -> None:
    for token in ("shpat_wrong", ""):
        response = await admin.post({"query": "{ shop { id } }"}, token=token or None)
        if token:
            assert response.status_code == 401
            assert response.json() == INVALID_TOKEN_BODY
    missing = await admin.http.post("/admin/api/2026-10/graphql.json", json={})
    assert missing.status_code == 401
    assert missing.json() == INVALID_TOKEN_BODY


async def test_authorize_redirect_is_signed_like_shopify(
    sim: ShopifySimulator, creds: ShopCredentials, http: httpx.AsyncClient
) -> None:
    params = await _authorize(http, creds)
    assert params["shop"] == SHOP
    assert params["state"] == "nonce-1"
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["hmac"] == oauth_query_hmac(params, creds.client_secret)
    assert sim.oauth.requests[0].scope == "read_orders,write_fulfillments"


async def test_code_exchange_gives_a_working_token_and_code_is_single_use(
    creds: ShopCredentials, http: httpx.AsyncClient
) -> None:
    code = (await _authorize(http, creds))["code"]
    granted = await _token(http, creds, code=code)
    assert granted.status_code == 200
    body = granted.json()
    assert set(body) == {"access_token", "scope"}
    works = await http.post(
        "/admin/api/2026-10/graphql.json",
        json={"query": "{ shop { myshopifyDomain } }"},
        headers={"X-Shopify-Access-Token": body["access_token"]},
    )
    assert works.json()["data"]["shop"]["myshopifyDomain"] == SHOP
    again = await _token(http, creds, code=code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_request"


async def test_expiring_token_expires_and_refresh_token_rotates(
    creds: ShopCredentials, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    code = (await _authorize(http, creds))["code"]
    body = (await _token(http, creds, code=code, expiring="1")).json()
    assert body["expires_in"] == 3600
    assert body["refresh_token"].startswith("shprt_")
    assert body["refresh_token_expires_in"] > body["expires_in"]
    clock.advance(3600)
    expired = await http.post(
        "/admin/api/2026-10/graphql.json",
        json={"query": "{ shop { id } }"},
        headers={"X-Shopify-Access-Token": body["access_token"]},
    )
    assert expired.status_code == 401

    refreshed = await _token(
        http, creds, grant_type="refresh_token", refresh_token=body["refresh_token"]
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != body["refresh_token"]
    reused = await _token(
        http, creds, grant_type="refresh_token", refresh_token=body["refresh_token"]
    )
    assert reused.status_code == 400


async def test_client_credentials_token_lasts_a_day(
    creds: ShopCredentials, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    response = await http.post(
        f"/shops/{SHOP}/admin/oauth/access_token",
        data={
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "grant_type": "client_credentials",
        },
    )
    body = response.json()
    assert body["expires_in"] == 86399
    headers = {"X-Shopify-Access-Token": body["access_token"]}
    path = f"/shops/{SHOP}/admin/api/2026-10/graphql.json"
    query = {"query": "{ shop { id } }"}
    assert (await http.post(path, json=query, headers=headers)).status_code == 200
    clock.advance(86399)
    assert (await http.post(path, json=query, headers=headers)).status_code == 401


async def test_wrong_client_secret_is_refused(
    creds: ShopCredentials, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        "/admin/oauth/access_token",
        json={
            "client_id": creds.client_id,
            "client_secret": "nope",
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 401


async def test_revoked_token_gets_401(sim: ShopifySimulator, admin: AdminClient) -> None:
    assert (await admin.post({"query": "{ shop { id } }"})).status_code == 200
    assert sim.revoke_token(SHOP, admin.token) == 1
    assert (await admin.post({"query": "{ shop { id } }"})).status_code == 401
