"""The simulated CJdropshipping API (``/api2.0/v1/...``), JSON over HTTP.

Requests authenticate with the ``CJ-Access-Token`` header; every answer uses
CJ's envelope ``{code, result, message, data, requestId}``.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.suppliers import cj
from simulator.suppliers.faults import FaultInjector, Platform
from simulator.suppliers.ids import IdFactory
from simulator.suppliers.model import OrderStatus, Supplier, SupplierOrder
from simulator.suppliers.simulator import SupplierSimulator

__all__ = ["CJ_PREFIX", "CjApi"]

CJ_PREFIX = "/api2.0/v1"
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")  # noqa: S104 - a blocklist
_MAX_PAGE_SIZE = 200


class CjApi:
    """Route handlers bound to one simulator."""

    def __init__(
        self, sim: SupplierSimulator, *, faults: FaultInjector, rng: random.Random
    ) -> None:
        self._sim = sim
        self._faults = faults
        self._ids = IdFactory(rng)

    def routes(self) -> list[Route]:
        return [
            Route(
                f"{CJ_PREFIX}/authentication/getAccessToken",
                self.get_access_token,
                methods=["POST"],
            ),
            Route(
                f"{CJ_PREFIX}/shopping/order/getOrderDetail",
                self.order_detail,
                methods=["GET"],
            ),
            Route(f"{CJ_PREFIX}/shopping/order/list", self.order_list, methods=["GET"]),
            Route(f"{CJ_PREFIX}/logistic/trackInfo", self.track_info, methods=["GET"]),
            Route(f"{CJ_PREFIX}/logistic/getTrackInfo", self.track_info, methods=["GET"]),
            Route(f"{CJ_PREFIX}/webhook/set", self.webhook_set, methods=["POST"]),
        ]

    # -- helpers -----------------------------------------------------------

    def _answer(
        self,
        data: Any = None,
        *,
        code: int = 200,
        message: str = "Success",
        status_code: int = 200,
    ) -> JSONResponse:
        body = cj.envelope(data, request_id=self._ids.request_id(), code=code, message=message)
        return JSONResponse(body, status_code=status_code)

    def _rate_limited(self) -> Response:
        return self._answer(
            None,
            code=cj.CjError.TOO_MANY_REQUESTS,
            message="Too Many Requests, QPS limit is 1 time/1second",
            status_code=429,
        )

    async def _gate(self, request: Request, *, authenticated: bool = True) -> Response | None:
        fault = await self._faults.intercept(Platform.CJ, rate_limited=self._rate_limited)
        if fault is not None:
            return fault
        if not authenticated:
            return None
        token = request.headers.get("CJ-Access-Token")
        if token not in self._sim.settings.cj_access_tokens:
            return self._answer(
                None,
                code=cj.CjError.INVALID_TOKEN,
                message="Invalid API key or access token",
            )
        return None

    def _param_error(self, message: str) -> JSONResponse:
        return self._answer(None, code=cj.CjError.PARAM_ERROR, message=message)

    def _find_order(self, key: str) -> SupplierOrder | None:
        orders = self._sim.orders(supplier=Supplier.CJ)
        for order in orders:
            if order.supplier_order_id == key:
                return order
        # CJ also accepts the merchant's own order number; after a split the
        # children share it, so answer with the first live one.
        by_number = [o for o in orders if o.merchant_reference == key]
        live = [o for o in by_number if o.status is not OrderStatus.SPLIT]
        candidates = live or by_number
        return candidates[0] if candidates else None

    # -- handlers ----------------------------------------------------------

    async def get_access_token(self, request: Request) -> Response:
        if (gated := await self._gate(request, authenticated=False)) is not None:
            return gated
        body = await _json_body(request)
        api_key = body.get("apiKey") if isinstance(body, dict) else None
        if api_key not in self._sim.settings.cj_api_keys:
            return self._answer(None, code=cj.CjError.INVALID_TOKEN, message="Invalid API key")
        token = self._ids.token("cj_at_")
        self._sim.settings.cj_access_tokens.add(token)
        now = self._sim.clock.now().astimezone(self._sim.settings.cj_timezone)
        return self._answer(
            {
                "openId": self._sim.settings.cj_open_id,
                "accessToken": token,
                "accessTokenExpiryDate": (now + timedelta(days=15)).isoformat(),
                "refreshToken": self._ids.token("cj_rt_"),
                "refreshTokenExpiryDate": (now + timedelta(days=180)).isoformat(),
                "createDate": now.isoformat(),
            }
        )

    async def order_detail(self, request: Request) -> Response:
        if (gated := await self._gate(request)) is not None:
            return gated
        key = request.query_params.get("orderId") or request.query_params.get("orderNumber")
        if not key:
            return self._param_error("orderId is required")
        order = self._find_order(key)
        if order is None:
            return self._param_error("Order does not exist")
        settings = self._sim.settings
        return self._answer(
            cj.order_detail(
                order,
                zone=settings.cj_timezone,
                shipping_country=settings.shipping_country,
            )
        )

    async def order_list(self, request: Request) -> Response:
        if (gated := await self._gate(request)) is not None:
            return gated
        params = request.query_params
        try:
            page_num = max(1, int(params.get("pageNum", "1")))
            page_size = min(_MAX_PAGE_SIZE, max(1, int(params.get("pageSize", "20"))))
        except ValueError:
            return self._param_error("pageNum and pageSize must be integers")
        wanted_ids = _split_multi(params.getlist("orderIds"))
        wanted_status = params.get("status")
        settings = self._sim.settings
        rows = [
            cj.order_detail(
                o, zone=settings.cj_timezone, shipping_country=settings.shipping_country
            )
            for o in self._sim.orders(supplier=Supplier.CJ)
            if (not wanted_ids or o.supplier_order_id in wanted_ids)
            and (wanted_status is None or cj.order_status(o) == wanted_status)
        ]
        start = (page_num - 1) * page_size
        return self._answer(
            {
                "pageNum": page_num,
                "pageSize": page_size,
                "total": len(rows),
                "list": rows[start : start + page_size],
            }
        )

    async def track_info(self, request: Request) -> Response:
        if (gated := await self._gate(request)) is not None:
            return gated
        numbers = _split_multi(request.query_params.getlist("trackNumber"))
        if not numbers:
            return self._param_error("trackNumber is required")
        settings = self._sim.settings
        data = []
        for number in numbers:
            found = self._sim.find_package(number)
            if found is None or found[0].supplier is not Supplier.CJ:
                continue
            order, package = found
            data.append(
                cj.track_info(
                    order,
                    package,
                    zone=settings.cj_timezone,
                    shipping_country=settings.shipping_country,
                )
            )
        return self._answer(data)

    async def webhook_set(self, request: Request) -> Response:
        if (gated := await self._gate(request)) is not None:
            return gated
        body = await _json_body(request)
        if not isinstance(body, dict):
            return self._param_error("request body must be a JSON object")
        urls: dict[str, str | None] = {}
        try:
            for topic in ("order", "logistics"):
                urls[topic] = (
                    self._topic_url(body[topic])
                    if topic in body
                    else self._sim.webhook_url(Supplier.CJ, topic)
                )
        except _RejectedError as exc:
            return self._param_error(str(exc))
        self._sim.register_cj_webhook(order_url=urls["order"], logistics_url=urls["logistics"])
        return self._answer(data=True)

    def _topic_url(self, setting: Any) -> str | None:
        if not isinstance(setting, dict):
            raise _RejectedError("each topic needs {type, callbackUrls}")
        kind = setting.get("type")
        if kind == "CANCEL":
            return None
        if kind not in ("ENABLE", "ALL"):
            raise _RejectedError("type must be ENABLE or CANCEL")
        callback_urls = setting.get("callbackUrls")
        if not isinstance(callback_urls, list) or len(callback_urls) != 1:
            raise _RejectedError("exactly one callback URL is supported")
        url = callback_urls[0]
        if not isinstance(url, str) or not url:
            raise _RejectedError("callbackUrls must hold a URL")
        if self._sim.settings.cj_enforce_public_https and not _is_public_https(url):
            raise _RejectedError("callback URL must be a public HTTPS URL")
        return url


class _RejectedError(ValueError):
    """A webhook setting CJ would refuse."""


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _split_multi(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def _is_public_https(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and (parts.hostname or "") not in _LOCAL_HOSTS
