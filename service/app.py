"""The FastAPI application: routes, error handlers and the lifespan that owns resources."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from service.errors import install_error_handlers
from service.gc_tuning import prepare_collector_for_serving, restore_collector
from service.ingest.edge import close_ingest_edge
from service.responses import JsonResponse
from service.routes import (
    deliveries,
    health,
    metrics,
    oauth,
    orders,
    reports,
    shops,
    supplier_accounts,
    sync,
    webhooks_shopify,
    webhooks_suppliers,
)
from service.runtime import Resources, Runtime

__all__ = ["create_app"]


def create_app(
    runtime: Runtime, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the app; `http_transport` lets tests route outbound calls to the simulators."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources.create(
            runtime, application_name="dropsync-api", http_transport=http_transport
        )
        app.state.resources = resources
        prepare_collector_for_serving()
        try:
            yield
        finally:
            restore_collector()
            await close_ingest_edge(app.state)
            await resources.aclose()

    app = FastAPI(
        title="dropsync",
        summary="Shopify ⇄ supplier fulfilment sync and mismatch report",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    install_error_handlers(app)
    for router in (
        health.router,
        shops.router,
        metrics.router,
        oauth.router,
        sync.router,
        reports.router,
        orders.router,
    ):
        app.include_router(router)
    for ingest_router in (
        webhooks_shopify.router,
        webhooks_suppliers.router,
        deliveries.router,
        supplier_accounts.router,
    ):
        app.include_router(ingest_router)
    return app
