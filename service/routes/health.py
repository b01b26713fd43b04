"""Liveness and readiness; the only routes besides webhooks that need no token."""

import asyncio

from fastapi import APIRouter, Request

from schema.migrate import head_revision
from service.responses import JsonResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> JsonResponse:
    return JsonResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness: database (at schema head) and Redis reachable")
async def readyz(request: Request) -> JsonResponse:
    resources = request.app.state.resources
    database, redis = await asyncio.gather(
        _check_database(resources.pool), _check_redis(resources.redis)
    )
    ready = database["ok"] and redis["ok"]
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", "database": database, "redis": redis},
        status_code=200 if ready else 503,
    )


async def _check_database(pool: object) -> dict[str, object]:
    try:
        async with asyncio.timeout(2):
            async with pool.acquire() as connection:  # type: ignore[attr-defined]
                revision = await connection.fetchval("SELECT version_num FROM alembic_version")
    except Exception as error:  # noqa: BLE001  (any failure means not ready; report it)
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    head = head_revision()
    if revision != head:
        return {"ok": False, "error": f"schema at {revision}, head is {head}: run dropsync migrate"}
    return {"ok": True, "revision": revision}


async def _check_redis(redis: object) -> dict[str, object]:
    try:
        async with asyncio.timeout(2):
            await redis.ping()  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001  (any failure means not ready; report it)
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"ok": True}
