"""The app uvicorn serves during the benchmark: the real app plus a bare HMAC-only endpoint.

Both endpoints run in the same process, framework, server flags and worker count, so the ratio
between them is the cost of storing the delivery durably. The bare endpoint reads the body with
the same cap, looks the shop's secrets up through the same cache and verifies the same HMAC,
then answers 200 without storing anything. It is matched just ahead of the stored route, so
route matching costs both the same.

Configured from the environment (`DROPSYNC_*`), like `dropsync serve`.
"""

from fastapi import FastAPI, Request
from starlette.responses import Response

from service.app import create_app
from service.ingest.body import BodyTooLargeError, read_capped_body
from service.routes import webhooks_shopify
from service.routes.webhooks_shopify import header_map, verified_shop
from service.runtime import resolve_runtime
from service.settings import Settings

__all__ = ["create"]

_OK = Response(content=b'{"ok":true}', media_type="application/json")


def create() -> FastAPI:
    runtime = resolve_runtime(Settings())
    app = create_app(runtime)

    @app.post("/bench/bare-shopify", response_class=Response, include_in_schema=False)
    async def bare_shopify(request: Request) -> Response:
        resources = request.app.state.resources
        try:
            body = await read_capped_body(
                request, limit=resources.runtime.settings.webhook_max_body_bytes
            )
        except BodyTooLargeError:
            return Response(status_code=413)
        verified = await verified_shop(request, resources, body, header_map(request))
        if isinstance(verified, Response):
            return verified
        return _OK

    # Starlette tries routes in order; registered last, the bare route would pay for matching
    # every other route first and flatter the ratio. Put it just ahead of the stored one.
    routes = app.router.routes
    bare = routes.pop()
    stored_at = next(
        index
        for index, route in enumerate(routes)
        # FastAPI keeps an included router as one entry that refers to the router.
        if getattr(route, "original_router", None) is webhooks_shopify.router
        or getattr(route, "path", None) == "/webhooks/shopify"
    )
    routes.insert(stored_at, bare)
    return app
