"""Prometheus metrics, behind an API token like every non-webhook endpoint."""

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from service.auth import PrincipalDep

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(principal: PrincipalDep) -> Response:
    del principal  # authentication is the point; any valid token may scrape
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
