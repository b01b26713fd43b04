"""Every endpoint but health and the webhook receivers requires a valid API token."""

import re

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_token

# Routes that authenticate otherwise: health is public, webhooks and OAuth carry signatures.
_PUBLIC = re.compile(r"^/(healthz|readyz|webhooks/|shopify/(install|callback)|docs|redoc|openapi)")


def _protected_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every documented route and method, path parameters filled with 1."""
    routes: list[tuple[str, str]] = []
    for template, operations in app.openapi()["paths"].items():
        if _PUBLIC.match(template):
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        routes.extend((method.upper(), path) for method in sorted(operations))
    return routes


async def test_every_protected_route_refuses_a_missing_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    routes = _protected_routes(app)
    assert ("GET", "/shops") in routes
    for method, path in routes:
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "missing_token"


async def test_every_protected_route_refuses_an_unknown_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = {"Authorization": "Bearer dsk_not-a-real-token"}
    for method, path in _protected_routes(app):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "invalid_token"


async def test_revoked_token_is_refused(pool: asyncpg.Pool, client: httpx.AsyncClient) -> None:
    token = await make_token(pool, is_admin=True)
    async with pool.acquire() as connection:
        await connection.execute("UPDATE api_token SET revoked_at = now()")
    response = await client.get("/shops", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


@pytest.fixture
async def two_shops(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> list[int]:
    ids = []
    for name in ("alpha", "beta"):
        response = await client.post(
            "/shops",
            headers=admin_headers,
            json={
                "domain": f"{name}.myshopify.com",
                "kind": "legacy",
                "client_secret": f"secret-{name}",
                "access_token": f"shpat_{name}",
            },
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["shop_id"])
    return ids


async def test_scoped_token_sees_only_its_shops(
    pool: asyncpg.Pool, client: httpx.AsyncClient, two_shops: list[int]
) -> None:
    alpha, beta = two_shops
    token = await make_token(pool, shop_ids=[alpha])
    headers = {"Authorization": f"Bearer {token}"}
    listed = await client.get("/shops", headers=headers)
    assert [shop["shop_id"] for shop in listed.json()] == [alpha]
    assert (await client.get(f"/shops/{alpha}", headers=headers)).status_code == 200
    outside = await client.get(f"/shops/{beta}", headers=headers)
    assert outside.status_code == 404
    assert outside.json()["error"] == "shop_not_found"


async def test_read_only_token_may_not_register_shops(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    token = await make_token(pool, is_admin=True, can_write=False)
    response = await client.post(
        "/shops",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "domain": "gamma.myshopify.com",
            "kind": "legacy",
            "client_secret": "s",
            "access_token": "t",
        },
    )
    assert response.status_code == 403
    assert response.json()["error"] == "read_only_token"
