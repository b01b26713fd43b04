"""CJdropshipping API client: order detail, tracking, and (re-)registering the webhook.

Calls carry `CJ-Access-Token`; answers use CJ's envelope `{code, result, message, data}`. An
access token lasts about 15 days: when CJ refuses it and the account has an API key, the client
asks for a new one once (`authentication/getAccessToken`) and retries; `access_token` then holds
the new token for the caller to store.

CJ pauses every webhook after a 50 % failure rate until the webhook is registered again
(`webhook/set`), which is why the watchdog calls `set_webhook` when deliveries stop.
"""

from collections.abc import Mapping
from dataclasses import dataclass
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

__all__ = ["CjClient"]

_INVALID_TOKEN = 1600001
_TOO_MANY_REQUESTS = 1600200


@dataclass(kw_only=True)
class CjClient:
    http: httpx.AsyncClient
    url: str
    access_token: str | None
    api_key: str | None = None
    renewed: bool = False

    async def order_detail(self, order_id: str) -> Mapping[str, Any]:
        """`data` of `shopping/order/getOrderDetail` (status, trackNumber, productList...)."""
        data = await self._call(
            "GET", "shopping/order/getOrderDetail", params={"orderId": order_id}
        )
        if not isinstance(data, Mapping):
            msg = f"CJ order {order_id} does not exist"
            raise SupplierNotFoundError(msg)
        return data

    async def track_info(self, tracking_numbers: list[str]) -> list[Mapping[str, Any]]:
        """One entry per tracking number CJ knows (`logistic/trackInfo`)."""
        if not tracking_numbers:
            return []
        data = await self._call(
            "GET", "logistic/trackInfo", params={"trackNumber": ",".join(tracking_numbers)}
        )
        return [entry for entry in data or [] if isinstance(entry, Mapping)]

    async def set_webhook(self, *, order_url: str, logistics_url: str) -> None:
        """Register (or re-register, which also lifts CJ's pause) the order and logistics
        webhooks. CJ supports one callback URL per topic."""
        body = {
            "order": {"type": "ENABLE", "callbackUrls": [order_url]},
            "logistics": {"type": "ENABLE", "callbackUrls": [logistics_url]},
        }
        await self._call("POST", "webhook/set", json=body)

    async def _renew_token(self) -> None:
        assert self.api_key is not None  # noqa: S101  (checked by the caller)
        data = await self._send(
            "POST", "authentication/getAccessToken", json={"apiKey": self.api_key}, token=None
        )
        token = data.get("accessToken") if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token:
            msg = "CJ issued no access token for the API key"
            raise SupplierAuthError(msg)
        self.access_token = token
        self.renewed = True

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        if self.access_token is None and self.api_key is not None:
            await self._renew_token()
        try:
            return await self._send(method, path, params=params, json=json, token=self.access_token)
        except SupplierAuthError:
            if self.api_key is None or self.renewed:
                raise
        await self._renew_token()
        return await self._send(method, path, params=params, json=json, token=self.access_token)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        headers = {"CJ-Access-Token": token} if token else {}
        try:
            response = await self.http.request(
                method, f"{self.url.rstrip('/')}/{path}", params=params, json=json, headers=headers
            )
        except httpx.HTTPError as error:
            msg = f"CJ is unreachable: {type(error).__name__}"
            raise SupplierUnavailableError(msg) from error
        if response.status_code >= 500:
            msg = f"CJ answered {response.status_code}"
            raise SupplierUnavailableError(msg)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as error:
            if response.status_code == 429:
                msg = "CJ's rate limit"
                raise SupplierRateLimitedError(msg) from error
            msg = f"CJ answered {response.status_code} with something that is not JSON"
            raise SupplierApiError(msg) from error
        if not isinstance(body, Mapping):
            msg = "CJ answered with something that is not an object"
            raise SupplierApiError(msg)
        code = body.get("code")
        if code == 200 and response.status_code == 200:
            return body.get("data")
        message = f"CJ error {code}: {body.get('message') or ''}".strip()
        if code == _TOO_MANY_REQUESTS or response.status_code == 429:
            raise SupplierRateLimitedError(message, code=str(code))
        if code == _INVALID_TOKEN or response.status_code == 401:
            raise SupplierAuthError(message, code=str(code))
        if "not exist" in str(body.get("message") or "").lower():
            raise SupplierNotFoundError(message, code=str(code))
        raise SupplierApiError(message, code=str(code))
