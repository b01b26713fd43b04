"""Liveness and readiness."""

import dataclasses

import httpx
from asgi_lifespan import LifespanManager

from service.app import create_app
from service.runtime import Runtime


async def test_healthz_answers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"]["ok"] is True
    assert body["redis"] == {"ok": True}


async def test_readyz_is_503_when_redis_is_unreachable(runtime: Runtime) -> None:
    broken = dataclasses.replace(runtime, redis_url="redis://127.0.0.1:1/0")
    app = create_app(broken)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"]["ok"] is False
    assert body["database"]["ok"] is True


async def test_unknown_route_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no route for GET /nope"}
