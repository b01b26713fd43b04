"""The app uvicorn serves during the benchmark: the real app plus a bare HMAC-only endpoint.

Both endpoints run in the same process, framework, server flags and worker count, so the ratio
between them is the cost of storing the delivery durably. The bare endpoint reads the body with
the same cap, looks the shop's secrets up through the same cache and verifies the same HMAC,
then answers 200 without storing anything.

Configured from the environment (`DROPSYNC_*`), like `dropsync serve`.
"""

from fastapi import FastAPI, Request
from starlette.responses import Response

from service.app import create_app
from service.ingest.body import BodyTooLargeError, read_capped_body
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

    return app
