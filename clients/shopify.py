"""The one Shopify Admin GraphQL client: every call dropsync makes to Shopify goes through here.

`await client.execute(shop_domain, access_token, document, variables)` returns the response's
`data` or raises a typed error:

- `ShopifyTransientError` (transport errors, 5xx, 429, `THROTTLED`, `INTERNAL_SERVER_ERROR`):
  retried here with exponential backoff and full jitter, honouring `Retry-After`; raised only
  once the attempts are spent.
- `ShopifyAmbiguousError`: a *mutation* whose request may have reached Shopify (a read timeout,
  a dropped connection after sending, a 5xx). It is never retried here: `fulfillmentCreate` has
  no idempotency key, so the caller must re-read and adopt before trying again.
- `ShopifyAuthError` (401) and `ShopifyAccessError` (402, 403, 423, `ACCESS_DENIED`): the shop
  needs attention (token revoked, scope missing, store frozen); retrying will not help.
- `ShopifyDocumentError`: Shopify refused the document (validation, `MAX_COST_EXCEEDED`).
- `ShopifyRequestError`: any other answer we cannot use (a 404, a body that is not JSON).

`userErrors` are data, not exceptions: read them with `mutation_result(data, "fulfillmentCreate")`.

Calls are paced per shop by `clients.rate_limit.CostLimiter` from `extensions.cost`, so a shop
pushing steadily never trips `THROTTLED` and one throttled shop never slows another.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import structlog

from clients.rate_limit import CostLimiter, ThrottleStatus
from clients.shopify_documents import Document, document_for
from core.errors import RemoteError, RemoteRejected, RemoteThrottled, RemoteUnavailable

__all__ = [
    "MutationResult",
    "RetryPolicy",
    "ShopifyAccessError",
    "ShopifyAmbiguousError",
    "ShopifyAuthError",
    "ShopifyClient",
    "ShopifyDocumentError",
    "ShopifyError",
    "ShopifyRequestError",
    "ShopifyShopError",
    "ShopifyThrottledError",
    "ShopifyTransientError",
    "UserError",
    "mutation_result",
]

log = structlog.get_logger()

# Before Shopify has answered a document once, reserve this much: Shopify's default cost of a
# mutation, and a middling query. The reported requested cost replaces it afterwards.
_FIRST_GUESS_MUTATION_COST = 10.0
_FIRST_GUESS_QUERY_COST = 50.0


class ShopifyError(RemoteError):
    """Base of every error the Shopify client raises (core's RemoteError family)."""

    def __init__(self, message: str, *, shop: str) -> None:
        super().__init__(message)
        self.shop = shop


class ShopifyTransientError(ShopifyError, RemoteUnavailable):
    """A failure that may pass: retried by the client, raised when attempts are spent."""

    def __init__(self, message: str, *, shop: str, retry_after: float | None = None) -> None:
        RemoteUnavailable.__init__(self, message, retry_after=retry_after)
        self.shop = shop


class ShopifyThrottledError(ShopifyTransientError, RemoteThrottled):
    """`THROTTLED` or HTTP 429: Shopify did not run the call."""


class ShopifyAmbiguousError(ShopifyError):
    """A mutation may or may not have been applied; re-read before deciding to send it again."""


class ShopifyShopError(ShopifyError):
    """The shop cannot be called until someone acts: mark it needs_attention."""


class ShopifyAuthError(ShopifyShopError):
    """HTTP 401: the access token is invalid or revoked."""


class ShopifyAccessError(ShopifyShopError):
    """HTTP 402/403/423 or `ACCESS_DENIED`: a scope is missing or the store is unavailable."""


class ShopifyDocumentError(ShopifyError, RemoteRejected):
    """Shopify refused the document itself (top-level `errors`); a bug on our side."""

    def __init__(self, message: str, *, shop: str, errors: list[dict[str, Any]]) -> None:
        RemoteRejected.__init__(self, message)
        self.shop = shop
        self.errors = errors


class ShopifyRequestError(ShopifyError):
    """An answer that is neither data nor a documented error (404, a non-JSON body, ...)."""

    def __init__(self, message: str, *, shop: str, status_code: int | None = None) -> None:
        super().__init__(message, shop=shop)
        self.status_code = status_code


@dataclass(frozen=True, slots=True, kw_only=True)
class UserError:
    """One entry of a mutation's `userErrors`."""

    field: tuple[str, ...]
    message: str
    code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MutationResult:
    """A mutation payload split into its object (None on failure) and its userErrors."""

    payload: Mapping[str, Any]
    user_errors: tuple[UserError, ...]


def mutation_result(data: Mapping[str, Any], mutation: str) -> MutationResult:
    """Split `data[mutation]` into the payload and its `userErrors`."""
    payload = data.get(mutation)
    if not isinstance(payload, Mapping):
        return MutationResult(
            payload={}, user_errors=(UserError(field=(), message=f"{mutation} returned null"),)
        )
    errors = tuple(
        UserError(
            field=tuple(str(part) for part in (entry.get("field") or [])),
            message=str(entry.get("message") or ""),
            code=entry.get("code"),
        )
        for entry in payload.get("userErrors") or []
        if isinstance(entry, Mapping)
    )
    return MutationResult(payload=payload, user_errors=errors)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**attempt))."""

    max_attempts: int = 6
    base_seconds: float = 0.2
    cap_seconds: float = 20.0
    # A Retry-After above this is not waited for inside one call; the error is raised instead
    # and the job is re-run later.
    max_retry_after_seconds: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap_seconds, self.base_seconds * 2**attempt))


@dataclass(slots=True, kw_only=True)
class _Answer:
    data: dict[str, Any]
    requested_cost: float | None


@dataclass(kw_only=True)
class ShopifyClient:
    """The Admin GraphQL client; one per process (it owns the per-shop cost limiters).

    `http` is the process's shared httpx client (its transport decides where requests go:
    tests inject the simulator's ASGI app). `url_template` has `{shop}` and `{version}`.
    """

    http: httpx.AsyncClient
    url_template: str = "https://{shop}/admin/api/{version}/graphql.json"
    api_version: str = "2026-10"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limiter: CostLimiter = field(default_factory=CostLimiter)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    _costs: dict[str, float] = field(default_factory=dict)

    def url(self, shop: str) -> str:
        return self.url_template.format(shop=shop, version=self.api_version)

    async def execute(
        self,
        shop: str,
        access_token: str,
        document: Document | str,
        variables: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run `document` for `shop` and return its `data`; see the module docstring for errors."""
        doc = document if isinstance(document, Document) else document_for(document)
        attempt = 0
        while True:
            try:
                answer = await self._call_once(shop, access_token, doc, variables)
            except ShopifyTransientError as error:
                attempt += 1
                wait = self._retry_wait(error, attempt)
                if wait is None:
                    raise
                log.info(
                    "shopify.retrying",
                    shop=shop,
                    document=doc.name,
                    attempt=attempt,
                    wait_seconds=round(wait, 3),
                    error=str(error),
                )
                await self.sleep(wait)
                continue
            if answer.requested_cost is not None:
                self._costs[doc.text] = answer.requested_cost
            return answer.data

    def _retry_wait(self, error: ShopifyTransientError, attempt: int) -> float | None:
        if attempt >= self.retry.max_attempts:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.retry.max_retry_after_seconds:
                return None
            return error.retry_after
        if isinstance(error, ShopifyThrottledError):
            # The limiter already knows the bucket from the throttled answer and will wait
            # for it to refill; a small jitter spreads the shop's waiting callers.
            return self.rng.uniform(0.0, self.retry.base_seconds)
        return self.retry.delay(attempt, self.rng)

    def _estimated_cost(self, document: Document) -> float:
        known = self._costs.get(document.text)
        if known is not None:
            return known
        if document.is_mutation:
            return _FIRST_GUESS_MUTATION_COST
        return _FIRST_GUESS_QUERY_COST

    async def _call_once(
        self,
        shop: str,
        access_token: str,
        document: Document,
        variables: Mapping[str, Any] | None,
    ) -> _Answer:
        cost = self._estimated_cost(document)
        await self.limiter.acquire(shop, cost)
        status: ThrottleStatus | None = None
        try:
            response = await self._send(shop, access_token, document, variables)
            body = self._decode(shop, document, response)
            status = _throttle_status(body)
            return self._answer(shop, document, response, body)
        finally:
            self.limiter.release(shop, cost, status)

    async def _send(
        self,
        shop: str,
        access_token: str,
        document: Document,
        variables: Mapping[str, Any] | None,
    ) -> httpx.Response:
        content = orjson.dumps({"query": document.text, "variables": dict(variables or {})})
        headers = {
            "X-Shopify-Access-Token": access_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        try:
            return await self.http.post(self.url(shop), content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Never left this process: safe to retry, mutation or not.
            raise ShopifyTransientError(f"connection failed: {error!r}", shop=shop) from error
        except httpx.TransportError as error:
            message = f"transport error after sending: {error!r}"
            if document.is_mutation:
                raise ShopifyAmbiguousError(message, shop=shop) from error
            raise ShopifyTransientError(message, shop=shop) from error

    def _decode(
        self, shop: str, document: Document, response: httpx.Response
    ) -> dict[str, Any] | None:
        """The JSON body when there is one; raises for statuses that carry no usable body."""
        deprecated = response.headers.get("X-Shopify-API-Deprecated-Reason")
        if deprecated:
            log.warning("shopify.deprecated", shop=shop, document=document.name, reason=deprecated)
        code = response.status_code
        retry_after = _retry_after(response)
        if code == 429:
            if retry_after is not None:
                self.limiter.penalise(shop, retry_after)
            raise ShopifyThrottledError("HTTP 429", shop=shop, retry_after=retry_after)
        if code >= 500:
            message = f"HTTP {code}"
            if document.is_mutation:
                raise ShopifyAmbiguousError(message, shop=shop)
            raise ShopifyTransientError(message, shop=shop, retry_after=retry_after)
        if code == 401:
            raise ShopifyAuthError("HTTP 401: access token rejected", shop=shop)
        if code in {402, 403, 423}:
            raise ShopifyAccessError(f"HTTP {code}: shop unavailable or scope missing", shop=shop)
        if code != 200:
            raise ShopifyRequestError(f"HTTP {code}", shop=shop, status_code=code)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as error:
            raise ShopifyRequestError(
                "response is not JSON", shop=shop, status_code=code
            ) from error
        if not isinstance(body, dict):
            raise ShopifyRequestError("response is not a JSON object", shop=shop, status_code=code)
        return body

    def _answer(
        self,
        shop: str,
        document: Document,
        response: httpx.Response,
        body: dict[str, Any] | None,
    ) -> _Answer:
        assert body is not None  # noqa: S101  (_decode raised otherwise)
        requested = _requested_cost(body)
        errors = body.get("errors")
        if errors:
            entries = _error_entries(errors)
            codes = {str((entry.get("extensions") or {}).get("code") or "") for entry in entries}
            message = "; ".join(str(entry.get("message") or "") for entry in entries)
            if "THROTTLED" in codes:
                raise ShopifyThrottledError(f"THROTTLED: {message}", shop=shop)
            if "INTERNAL_SERVER_ERROR" in codes:
                if document.is_mutation:
                    raise ShopifyAmbiguousError(f"INTERNAL_SERVER_ERROR: {message}", shop=shop)
                raise ShopifyTransientError(f"INTERNAL_SERVER_ERROR: {message}", shop=shop)
            if "ACCESS_DENIED" in codes:
                raise ShopifyAccessError(f"ACCESS_DENIED: {message}", shop=shop)
            raise ShopifyDocumentError(message or "GraphQL errors", shop=shop, errors=entries)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ShopifyRequestError(
                "response has no data", shop=shop, status_code=response.status_code
            )
        return _Answer(data=data, requested_cost=requested)


def _error_entries(errors: object) -> list[dict[str, Any]]:
    if isinstance(errors, list):
        return [entry if isinstance(entry, dict) else {"message": str(entry)} for entry in errors]
    # REST-style `{"errors": "..."}` bodies turn up on some error pages.
    return [{"message": str(errors)}]


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return max(0.0, seconds)


def _cost(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    extensions = body.get("extensions")
    if not isinstance(extensions, Mapping):
        return None
    cost = extensions.get("cost")
    return cost if isinstance(cost, Mapping) else None


def _requested_cost(body: Mapping[str, Any]) -> float | None:
    cost = _cost(body)
    if cost is None:
        return None
    value = cost.get("requestedQueryCost")
    return float(value) if isinstance(value, int | float) else None


def _throttle_status(body: Mapping[str, Any] | None) -> ThrottleStatus | None:
    cost = None if body is None else _cost(body)
    status = None if cost is None else cost.get("throttleStatus")
    if not isinstance(status, Mapping):
        return None
    try:
        return ThrottleStatus(
            maximum_available=float(status["maximumAvailable"]),
            currently_available=float(status["currentlyAvailable"]),
            restore_rate=float(status["restoreRate"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
