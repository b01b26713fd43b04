"""The ASGI app: Admin GraphQL endpoint, OAuth endpoints and `/_sim/` control endpoints.

Shopify routes by host (`https://{shop}/admin/api/{version}/graphql.json`); the same
routes also live under `/shops/{shop}/...` so a standalone simulator on 127.0.0.1 can
serve many shops. Control endpoints (JSON) let out-of-process tests and benchmarks drive
the state.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from simulator.shopify.behaviour import UserErrors
from simulator.shopify.executor import execute_admin_request
from simulator.shopify.faults import FaultKind, FaultPlan
from simulator.shopify.model import CallRecord, Shop
from simulator.shopify.oauth import OAuthError
from simulator.shopify.schema import ADMIN_API_VERSION, load_admin_schema
from simulator.shopify.webhooks import WebhookKnobs

if TYPE_CHECKING:
    from simulator.shopify.simulator import ShopifySimulator

__all__ = ["INVALID_TOKEN_BODY", "create_app"]

INVALID_TOKEN_BODY = {
    "errors": "[API] Invalid API key or access token "
    "(unrecognized login or wrong password)"
}
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")
_OLDEST_SUPPORTED = "2025-10"


def _served_version(requested: str) -> str | None:
    """Return the version Shopify would serve, or None for a malformed one."""
    if requested == "unstable":
        return requested
    if not _VERSION.match(requested):
        return None
    # Unsupported versions fall forward to the oldest supported one.
    return (
        max(requested, _OLDEST_SUPPORTED)
        if requested <= ADMIN_API_VERSION
        else requested
    )


_DEPRECATION_DOCS = "https://shopify.dev/api/usage/versioning#deprecation-practices"


def _uses_deprecated_root_field(operation: str, root_fields: tuple[str, ...]) -> bool:
    """Return True when a top-level field of the operation is deprecated."""
    schema = load_admin_schema()
    root = schema.mutation_type if operation == "mutation" else schema.query_type
    if root is None:
        return False
    return any(
        name in root.fields and root.fields[name].deprecation_reason is not None
        for name in root_fields
    )


def create_app(sim: ShopifySimulator) -> Starlette:
    """Build the ASGI app serving `sim`."""
    handlers = _Handlers(sim)
    routes = [
        Route("/admin/api/{version}/graphql.json", handlers.graphql, methods=["POST"]),
        Route(
            "/shops/{shop}/admin/api/{version}/graphql.json",
            handlers.graphql,
            methods=["POST"],
        ),
        Route("/admin/oauth/authorize", handlers.authorize, methods=["GET"]),
        Route(
            "/shops/{shop}/admin/oauth/authorize", handlers.authorize, methods=["GET"]
        ),
        Route("/admin/oauth/access_token", handlers.access_token, methods=["POST"]),
        Route(
            "/shops/{shop}/admin/oauth/access_token",
            handlers.access_token,
            methods=["POST"],
        ),
        *_Control(sim).routes(),
    ]
    return Starlette(routes=routes)


class _Handlers:
    def __init__(self, sim: ShopifySimulator) -> None:
        self.sim = sim

    def _shop(self, request: Request) -> Shop | None:
        domain = request.path_params.get("shop")
        if domain is None:
            domain = request.headers.get("host", "").split(":")[0]
        return self.sim.shops.get(domain)

    async def graphql(self, request: Request) -> Response:
        sim = self.sim
        sim.tick()
        shop = self._shop(request)
        version = _served_version(request.path_params["version"])
        if shop is None or version is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if not sim.oauth.is_valid(
            shop.domain, request.headers.get("x-shopify-access-token")
        ):
            self._log(shop, "unauthorized", 401)
            return JSONResponse(INVALID_TOKEN_BODY, status_code=401)
        fault = sim.faults.draw(shop.domain)
        early = await self._fault_before(shop, fault)
        if early is not None:
            return early
        body = await _read_graphql_body(request)
        outcome = execute_admin_request(
            shop,
            body,
            api_version=version,
            clock=sim.clock,
            now=sim.now,
            behaviour=sim.behaviour,
            require_https_webhooks=sim.require_https_webhooks,
        )
        headers = {"X-Request-Id": str(uuid.uuid4()), "X-Shopify-API-Version": version}
        if _uses_deprecated_root_field(outcome.operation, outcome.root_fields):
            headers["X-Shopify-API-Deprecated-Reason"] = _DEPRECATION_DOCS
        status, outcome_name = outcome.status, outcome.outcome
        if fault is FaultKind.APPLY_THEN_TIMEOUT:
            await sim.sleep(sim.faults.plan_for(shop.domain).hang_seconds)
            status, outcome_name = 504, f"fault:{fault.value}:{outcome.outcome}"
        sim.calls.append(
            CallRecord(
                shop=shop.domain,
                operation=outcome.operation,
                operation_name=outcome.operation_name,
                requested_cost=outcome.requested_cost,
                actual_cost=outcome.actual_cost,
                outcome=outcome_name,
                at=sim.clock(),
                http_status=status,
                root_fields=outcome.root_fields,
            )
        )
        if status == 504:
            return JSONResponse({"errors": "Gateway Timeout"}, status_code=504)
        return JSONResponse(outcome.body, status_code=status, headers=headers)

    async def _fault_before(self, shop: Shop, fault: FaultKind) -> Response | None:
        sim = self.sim
        plan = sim.faults.plan_for(shop.domain)
        if fault is FaultKind.SLOW:
            await sim.sleep(plan.slow_seconds)
            return None
        if fault is FaultKind.SERVER_ERROR:
            status = sim.faults.server_error_status(shop.domain)
            self._log(shop, f"fault:{fault.value}", status)
            if status == 502:
                return PlainTextResponse("502 Bad Gateway", status_code=502)
            return JSONResponse({"errors": "Internal Server Error"}, status_code=status)
        if fault is FaultKind.RATE_LIMITED:
            self._log(shop, f"fault:{fault.value}", 429)
            return JSONResponse(
                {
                    "errors": "Exceeded 2 calls per second for api client. Reduce "
                    "request rates to resume uninterrupted service."
                },
                status_code=429,
                headers={"Retry-After": f"{plan.retry_after_seconds:.1f}"},
            )
        if fault is FaultKind.TIMEOUT:
            await sim.sleep(plan.hang_seconds)
            self._log(shop, f"fault:{fault.value}", 504)
            return JSONResponse({"errors": "Gateway Timeout"}, status_code=504)
        return None

    def _log(self, shop: Shop, outcome: str, status: int) -> None:
        self.sim.calls.append(
            CallRecord(
                shop=shop.domain,
                operation="unknown",
                operation_name=None,
                requested_cost=None,
                actual_cost=None,
                outcome=outcome,
                at=self.sim.clock(),
                http_status=status,
            )
        )

    async def authorize(self, request: Request) -> Response:
        shop = self._shop(request)
        if shop is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        try:
            url = self.sim.oauth.authorize(shop, dict(request.query_params))
        except OAuthError as error:
            return JSONResponse(error.body, status_code=error.status)
        return RedirectResponse(url, status_code=302)

    async def access_token(self, request: Request) -> Response:
        shop = self._shop(request)
        if shop is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        form = await _read_form(request)
        try:
            answer = self.sim.oauth.exchange(shop, form)
        except OAuthError as error:
            return JSONResponse(error.body, status_code=error.status)
        return JSONResponse(answer)


async def _read_form(request: Request) -> dict[str, Any]:
    """Read a JSON or urlencoded body (no multipart dependency needed)."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {}
        return dict(parsed) if isinstance(parsed, dict) else {}
    return dict(parse_qsl(raw.decode("utf-8", "replace")))


async def _read_graphql_body(request: Request) -> Any:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/graphql"):
        return {"query": raw.decode("utf-8", "replace")}
    try:
        return json.loads(raw)
    except ValueError:
        return None


# ------------------------------------------------------------------ control


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    return dict(json.loads(raw)) if raw else {}


class _Control:
    """`/_sim/` endpoints: drive and inspect the simulator over HTTP (JSON)."""

    def __init__(self, sim: ShopifySimulator) -> None:
        self.sim = sim

    def routes(self) -> list[Route]:
        return [
            Route("/_sim/shops", self.create_shop, methods=["POST"]),
            Route("/_sim/shops", self.list_shops, methods=["GET"]),
            Route("/_sim/shops/{shop}/orders", self.create_order, methods=["POST"]),
            Route(
                "/_sim/shops/{shop}/orders/{order_id:path}",
                self.get_order,
                methods=["GET"],
            ),
            Route(
                "/_sim/shops/{shop}/fulfillments", self.fulfillments, methods=["GET"]
            ),
            Route("/_sim/shops/{shop}/actions", self.act, methods=["POST"]),
            Route("/_sim/shops/{shop}/tokens/revoke", self.revoke, methods=["POST"]),
            Route("/_sim/route", self.route, methods=["POST"]),
            Route("/_sim/faults", self.set_faults, methods=["POST"]),
            Route("/_sim/webhooks/knobs", self.set_knobs, methods=["POST"]),
            Route("/_sim/webhooks/flush", self.flush, methods=["POST"]),
            Route("/_sim/stats", self.stats, methods=["GET"]),
            Route("/_sim/calls", self.calls, methods=["GET"]),
        ]

    async def create_shop(self, request: Request) -> Response:
        spec = await _json_body(request)
        domain = spec.pop("domain")
        options = {k: v for k, v in spec.items() if v is not None}
        credentials = self.sim.add_shop(domain, **options)
        return JSONResponse(asdict(credentials), status_code=201)

    async def list_shops(self, _request: Request) -> Response:
        return JSONResponse(sorted(self.sim.shops))

    async def create_order(self, request: Request) -> Response:
        spec = await _json_body(request)
        order = self.sim.create_order(request.path_params["shop"], **spec)
        return JSONResponse(order, status_code=201)

    async def get_order(self, request: Request) -> Response:
        shop, order_id = request.path_params["shop"], request.path_params["order_id"]
        summary = self.sim.order(shop, order_id)
        summary["fulfillment_orders"] = self.sim.fulfillment_orders(shop, order_id)
        summary["fulfillments"] = self.sim.fulfillments(shop, order_id)
        return JSONResponse(summary)

    async def fulfillments(self, request: Request) -> Response:
        shop = request.path_params["shop"]
        return JSONResponse(
            {
                "fulfillments": self.sim.fulfillments(shop),
                "count_by_tracking": self.sim.fulfillment_count_by_tracking(shop),
            }
        )

    async def act(self, request: Request) -> Response:
        spec = await _json_body(request)
        action = spec.pop("action", None)
        method = _ACTIONS.get(str(action))
        if method is None:
            return JSONResponse({"error": f"unknown action {action}"}, status_code=400)
        try:
            result = getattr(self.sim, method)(request.path_params["shop"], **spec)
        except UserErrors as error:
            return JSONResponse(
                {"userErrors": [e.as_graphql() for e in error.errors]}, status_code=422
            )
        return JSONResponse({"result": result})

    async def revoke(self, request: Request) -> Response:
        spec = await _json_body(request)
        count = self.sim.revoke_token(request.path_params["shop"], spec.get("token"))
        return JSONResponse({"revoked": count})

    async def route(self, _request: Request) -> Response:
        return JSONResponse({"fulfillment_order_ids": self.sim.route_orders()})

    async def set_faults(self, request: Request) -> Response:
        spec = await _json_body(request)
        domain = spec.pop("shop", None)
        queued = spec.pop("queue", None)
        if spec.pop("clear", False):
            self.sim.faults.clear()
        if queued:
            count = int(queued.get("count", 1))
            self.sim.queue_fault(queued["kind"], domain=domain, count=count)
        if spec:
            if "server_error_statuses" in spec:
                spec["server_error_statuses"] = tuple(spec["server_error_statuses"])
            self.sim.set_faults(FaultPlan(**spec), domain=domain)
        return JSONResponse({"ok": True})

    async def set_knobs(self, request: Request) -> Response:
        spec = await _json_body(request)
        domain = spec.pop("shop", None)
        if "default_url" in spec:
            self.sim.set_default_webhook_url(spec.pop("default_url"), domain=domain)
        if spec:
            self.sim.set_webhook_knobs(WebhookKnobs(**spec), domain=domain)
        return JSONResponse({"ok": True})

    async def flush(self, request: Request) -> Response:
        spec = await _json_body(request)
        records = await self.sim.deliver_webhooks(
            include_future=bool(spec.get("include_future", False))
        )
        return JSONResponse({"deliveries": [asdict(r) for r in records]})

    async def stats(self, _request: Request) -> Response:
        return JSONResponse(self.sim.stats())

    async def calls(self, request: Request) -> Response:
        limit = int(request.query_params.get("limit", "1000"))
        return JSONResponse([asdict(c) for c in self.sim.calls[-limit:]])


_ACTIONS = {
    "hold": "hold_fulfillment_order",
    "release": "release_fulfillment_order",
    "split": "split_fulfillment_order",
    "move": "move_fulfillment_order",
    "cancel_fulfillment_order": "cancel_fulfillment_order",
    "close_fulfillment_order": "close_fulfillment_order",
    "cancel_order": "cancel_order",
    "close_order": "close_order",
    "mark_paid": "mark_order_paid",
    "fulfil": "create_fulfillment",
    "cancel_fulfillment": "cancel_fulfillment",
    "update_tracking": "update_tracking",
    "uninstall": "uninstall_app",
}
