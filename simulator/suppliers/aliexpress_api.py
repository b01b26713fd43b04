"""The simulated AliExpress ``/sync`` gateway for the dropshipping methods.

Parameters come from the query string and/or a form body, as the platform
accepts both. The gateway checks ``app_key``, ``sign_method=sha256``, the
HMAC-SHA256 ``sign`` and the ``session`` before dispatching on ``method``.
"""

from __future__ import annotations

import hmac
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.suppliers import aliexpress
from simulator.suppliers.faults import FaultInjector, Platform
from simulator.suppliers.ids import IdFactory
from simulator.suppliers.model import Supplier, SupplierOrder
from simulator.suppliers.simulator import SupplierSimulator

__all__ = ["ORDER_GET_METHODS", "TRACKING_GET_METHOD", "AliExpressApi"]

ORDER_GET_METHODS = ("aliexpress.trade.ds.order.get", "aliexpress.ds.trade.order.get")
TRACKING_GET_METHOD = "aliexpress.ds.order.tracking.get"
_REQUIRED = ("method", "app_key", "sign", "sign_method", "timestamp")


class AliExpressApi:
    """Route handlers bound to one simulator."""

    def __init__(
        self, sim: SupplierSimulator, *, faults: FaultInjector, rng: random.Random
    ) -> None:
        self._sim = sim
        self._faults = faults
        self._ids = IdFactory(rng)

    def routes(self) -> list[Route]:
        return [Route("/sync", self.sync, methods=["GET", "POST"])]

    def _error(self, code: str, msg: str, **extra: Any) -> JSONResponse:
        body = aliexpress.error_response(
            code=code, msg=msg, request_id=self._ids.request_id(), **extra
        )
        return JSONResponse(body)

    def _rate_limited(self) -> Response:
        return self._error(
            "ApiCallLimit",
            "Api access frequency exceeds the limit. this ban will last 1 seconds",
        )

    async def sync(self, request: Request) -> Response:
        fault = await self._faults.intercept(Platform.ALIEXPRESS, rate_limited=self._rate_limited)
        if fault is not None:
            return fault
        params = dict(request.query_params)
        if request.method == "POST":
            # Parsed by hand: Starlette's form parser needs python-multipart,
            # and the gateway's clients send url-encoded forms only.
            body = (await request.body()).decode("utf-8", errors="replace")
            params.update(parse_qsl(body, keep_blank_values=True))
        rejected = self._check_request(params)
        if rejected is not None:
            return rejected
        method = params["method"]
        if method in ORDER_GET_METHODS:
            return self._order_get(method, params)
        if method == TRACKING_GET_METHOD:
            return self._tracking_get(params)
        return self._error("InvalidApi", f"The specified API {method} is invalid")

    def _check_request(self, params: dict[str, str]) -> JSONResponse | None:
        """Apply the gateway's checks in its order; answer the first that fails."""
        settings = self._sim.settings
        missing = [name for name in _REQUIRED if not params.get(name)]
        checks: tuple[tuple[Callable[[], bool], str, str], ...] = (
            (
                lambda: not missing,
                "MissingParameter",
                f"The input parameter '{(missing or [''])[0]}' that is mandatory "
                "for processing this request is not supplied",
            ),
            (
                lambda: params["app_key"] == settings.ae_app_key,
                "InvalidAppKey",
                "The specified app key is invalid",
            ),
            (
                lambda: params["sign_method"] == "sha256",
                "InvalidSignatureMethod",
                "The signature method is not supported",
            ),
            (
                lambda: self._signature_ok(params),
                "IncompleteSignature",
                "The request signature does not conform to platform standards",
            ),
            (
                lambda: self._timestamp_ok(params["timestamp"]),
                "InvalidTimestamp",
                "The request timestamp is invalid",
            ),
            (
                lambda: params.get("session") in settings.ae_sessions,
                "IllegalAccessToken",
                "The specified access token is invalid or expired",
            ),
        )
        for passes, code, msg in checks:
            if not passes():
                return self._error(code, msg)
        return None

    def _signature_ok(self, params: dict[str, str]) -> bool:
        expected = aliexpress.sign(params, secret=self._sim.settings.ae_app_secret)
        return hmac.compare_digest(expected, params["sign"].upper())

    def _timestamp_ok(self, raw: str) -> bool:
        tolerance = self._sim.settings.ae_timestamp_tolerance
        try:
            sent = datetime.fromtimestamp(int(raw) / 1000, tz=UTC)
        except (ValueError, OverflowError):
            return False
        if tolerance is None:
            return True
        return abs(self._sim.clock.now() - sent) <= tolerance

    def _style(self, params: dict[str, str]) -> aliexpress.ListStyle:
        return aliexpress.ListStyle(
            simplify=params.get("simplify", "").lower() == "true",
            collapse_single=self._sim.settings.ae_collapse_single_item_lists,
        )

    def _lookup(self, raw_id: Any) -> SupplierOrder | None:
        for order in self._sim.orders(supplier=Supplier.ALIEXPRESS):
            if order.supplier_order_id == str(raw_id):
                return order
        return None

    def _order_get(self, method: str, params: dict[str, str]) -> JSONResponse:
        raw_id: Any = params.get("order_id")
        if method == ORDER_GET_METHODS[0]:
            try:
                query = json.loads(params.get("single_order_query", ""))
            except ValueError:
                query = None
            if not isinstance(query, dict) or "order_id" not in query:
                return self._error(
                    "MissingParameter",
                    "The input parameter 'single_order_query' that is mandatory "
                    "for processing this request is not supplied",
                )
            raw_id = query["order_id"]
        order = self._lookup(raw_id)
        if order is None:
            return self._error(
                "15",
                "Remote service error",
                sub_code="isv.insufficient-permission",
                sub_msg="No permission to access this order",
            )
        settings = self._sim.settings
        result = aliexpress.order_get_result(
            order,
            style=self._style(params),
            zone=settings.ae_timezone,
            store_id=settings.ae_store_id,
        )
        body = {"result": result, "rsp_code": "200", "rsp_msg": "Call succeeds"}
        return JSONResponse(
            aliexpress.success_response(method, body, request_id=self._ids.request_id())
        )

    def _tracking_get(self, params: dict[str, str]) -> JSONResponse:
        order = self._lookup(params.get("ae_order_id", ""))
        body = (
            aliexpress.tracking_not_found()
            if order is None
            else aliexpress.tracking_get_result(order, style=self._style(params))
        )
        return JSONResponse(
            aliexpress.success_response(
                TRACKING_GET_METHOD, body, request_id=self._ids.request_id()
            )
        )
