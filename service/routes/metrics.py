"""Prometheus metrics, behind an API token like every non-webhook endpoint.

The process's own metrics (Python runtime, GC) come from prometheus_client's default registry;
the operational figures (backlog and its age, open breaks by class, shops by status) are read
from Postgres at scrape time, so every instance reports the same truth.
"""

from collections.abc import Iterable

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response

from schema.queries.metrics import OperationalFigures, read_operational_figures
from service.auth import PrincipalDep

__all__ = ["router"]

router = APIRouter(tags=["operations"])


class _Figures(Collector):
    def __init__(self, figures: OperationalFigures) -> None:
        self._figures = figures

    def collect(self) -> Iterable[Metric]:
        pending = GaugeMetricFamily(
            "dropsync_deliveries_pending",
            "Stored webhook deliveries not applied yet.",
            labels=["source"],
        )
        oldest = GaugeMetricFamily(
            "dropsync_delivery_oldest_pending_seconds",
            "Age of the oldest delivery not applied yet (0 when none).",
            labels=["source"],
        )
        for source, (count, age) in sorted(self._figures.pending_deliveries.items()):
            pending.add_metric([source], count)
            oldest.add_metric([source], age)
        mismatches = GaugeMetricFamily(
            "dropsync_mismatches_open",
            "Open mismatch report rows.",
            labels=["class", "outcome"],
        )
        for (mismatch_class, outcome), count in sorted(self._figures.open_mismatches.items()):
            mismatches.add_metric([mismatch_class, outcome], count)
        shops = GaugeMetricFamily("dropsync_shops", "Shops by status.", labels=["status"])
        for status, count in sorted(self._figures.shops.items()):
            shops.add_metric([status], count)
        return [pending, oldest, mismatches, shops]


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request, principal: PrincipalDep) -> Response:
    del principal  # authentication is the point; any valid token may scrape
    async with request.app.state.resources.pool.acquire() as connection:
        figures = await read_operational_figures(connection)
    registry = CollectorRegistry()
    registry.register(_Figures(figures))
    body = generate_latest() + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
