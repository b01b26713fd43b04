"""AliExpress Open Platform (dropshipping) client: order detail and tracking.

Requests go to the business gateway (`/sync`) as form posts carrying the system parameters
(`method`, `app_key`, `session`, `timestamp` in milliseconds, `sign_method=sha256`) and a
`sign`: HMAC-SHA256 keyed by the app secret over every parameter sorted by name and
concatenated as `name` + `value`, in upper-case hex.

Answers come back raw (`result` mappings): the platform wraps lists in an object keyed by the
element type and sends a one-element list as a bare object; `unwrap_list` undoes both, and
the core parsers read the rest. AliExpress answers "no tracking yet" and "unknown order" alike
for tracking; `tracking` returns None for both.
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson

from clients.supplier_errors import (
    SupplierApiError,
    SupplierAuthError,
    SupplierNotFoundError,
    SupplierRateLimitedError,
    SupplierUnavailableError,
)

__all__ = [
    "ORDER_GET_METHOD",
    "TRACKING_METHOD",
    "AliExpressClient",
    "AliExpressCredentials",
    "logistics_numbers",
    "sign_request",
    "unwrap_list",
]

ORDER_GET_METHOD = "aliexpress.trade.ds.order.get"
TRACKING_METHOD = "aliexpress.ds.order.tracking.get"

_AUTH_CODES = {
    "IllegalAccessToken",
    "InvalidAppKey",
    "IncompleteSignature",
    "InvalidSignatureMethod",
    "InvalidTimestamp",
}
_NOT_FOUND_SUB_CODES = {"isv.insufficient-permission"}


def sign_request(params: Mapping[str, str], *, secret: str, api_path: str = "") -> str:
    """The platform's signature; `api_path` only for the `/rest` system APIs."""
    base = api_path + "".join(
        name + value for name, value in sorted(params.items()) if name != "sign"
    )
    return hmac.new(secret.encode(), base.encode(), hashlib.sha256).hexdigest().upper()


def unwrap_list(value: Any) -> list[Any]:
    """`[..]`, `{"element": [..]}`, `{"element": {..}}` or a bare object, as a plain list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, list):
            return inner
        if isinstance(inner, Mapping):
            return [inner]
    return [value]


def logistics_numbers(result: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(tracking number, logistics service) pairs of an order-detail `result`."""
    pairs = []
    for entry in unwrap_list(result.get("logistics_info_list")):
        if isinstance(entry, Mapping) and entry.get("logistics_no"):
            service = entry.get("logistics_service")
            pairs.append((str(entry["logistics_no"]), str(service) if service else None))
    return pairs


@dataclass(frozen=True, slots=True, kw_only=True)
class AliExpressCredentials:
    app_key: str
    app_secret: str
    # The buyer account's access token (`session`).
    session: str


@dataclass(kw_only=True)
class AliExpressClient:
    http: httpx.AsyncClient
    url: str
    credentials: AliExpressCredentials

    async def order_detail(self, order_id: str, *, now: datetime) -> Mapping[str, Any]:
        """`result` of `aliexpress.trade.ds.order.get` (status, logistics_info_list, ...)."""
        query = orjson.dumps({"order_id": _as_number(order_id)}).decode()
        body = await self._call(ORDER_GET_METHOD, {"single_order_query": query}, now=now)
        result = body.get("result")
        if not isinstance(result, Mapping):
            msg = f"order {order_id}: the answer has no result"
            raise SupplierApiError(msg)
        return result

    async def tracking(self, order_id: str, *, now: datetime) -> list[Mapping[str, Any]] | None:
        """The order's tracking lines (one per parcel), or None when AliExpress has none."""
        body = await self._call(
            TRACKING_METHOD, {"ae_order_id": order_id, "language": "en_US"}, now=now
        )
        result = body.get("result")
        if not isinstance(result, Mapping) or not result.get("ret"):
            return None
        data = result.get("data")
        if not isinstance(data, Mapping):
            return None
        return [
            line
            for line in unwrap_list(data.get("tracking_detail_line_list"))
            if isinstance(line, Mapping)
        ]

    async def _call(
        self, method: str, arguments: Mapping[str, str], *, now: datetime
    ) -> Mapping[str, Any]:
        params = {
            "method": method,
            "app_key": self.credentials.app_key,
            "session": self.credentials.session,
            "sign_method": "sha256",
            "timestamp": str(int(now.timestamp() * 1000)),
            **arguments,
        }
        params["sign"] = sign_request(params, secret=self.credentials.app_secret)
        try:
            response = await self.http.post(self.url, data=params)
        except httpx.HTTPError as error:
            msg = f"AliExpress is unreachable: {type(error).__name__}"
            raise SupplierUnavailableError(msg) from error
        if response.status_code >= 500 or response.status_code == 429:
            msg = f"AliExpress answered {response.status_code}"
            raise SupplierUnavailableError(msg)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as error:
            msg = f"AliExpress answered {response.status_code} with something that is not JSON"
            raise SupplierApiError(msg) from error
        if not isinstance(body, Mapping):
            msg = "AliExpress answered with something that is not an object"
            raise SupplierApiError(msg)
        error_body = body.get("error_response")
        if isinstance(error_body, Mapping):
            raise _error(error_body)
        found = body.get(method.replace(".", "_") + "_response")
        if not isinstance(found, Mapping):
            msg = f"AliExpress answered without {method}'s response"
            raise SupplierApiError(msg)
        return found


def _as_number(order_id: str) -> int | str:
    return int(order_id) if order_id.isdigit() else order_id


def _error(body: Mapping[str, Any]) -> SupplierApiError:
    code = str(body.get("code") or "")
    sub_code = str(body.get("sub_code") or "")
    message = f"AliExpress error {code}: {body.get('msg') or ''} {body.get('sub_msg') or ''}"
    if code == "ApiCallLimit":
        return SupplierRateLimitedError(message.strip(), code=code)
    if code in _AUTH_CODES:
        return SupplierAuthError(message.strip(), code=code)
    if sub_code in _NOT_FOUND_SUB_CODES:
        return SupplierNotFoundError(message.strip(), code=sub_code)
    return SupplierApiError(message.strip(), code=code or None)
