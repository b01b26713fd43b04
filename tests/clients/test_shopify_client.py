"""The Shopify client against an httpx.MockTransport answering as Shopify documents it."""

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clients.rate_limit import CostLimiter
from clients.shopify import (
    RetryPolicy,
    ShopifyAccessError,
    ShopifyAmbiguousError,
    ShopifyAuthError,
    ShopifyClient,
    ShopifyDocumentError,
    ShopifyRequestError,
    ShopifyThrottledError,
    ShopifyTransientError,
    mutation_result,
)
from clients.shopify_documents import FULFILLMENT_CREATE, ORDER_FULFILLMENT_STATE

Handler = Callable[[httpx.Request], httpx.Response]

SHOP = "alpha.myshopify.com"


def _cost(available: float = 1990.0, requested: int = 11) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": 100.0,
            },
        }
    }


def ok(data: dict[str, Any], **cost: Any) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "extensions": _cost(**cost)})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_client(handler: Handler, clock: FakeClock | None = None) -> ShopifyClient:
    clock = clock or FakeClock()
    return ShopifyClient(
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        url_template="https://{shop}/admin/api/{version}/graphql.json",
        api_version="2026-10",
        retry=RetryPolicy(max_attempts=4, base_seconds=0.1, cap_seconds=1.0),
        limiter=CostLimiter(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        rng=random.Random(7),
    )


class Sequence:
    """Answers each request with the next response (or raises the next exception)."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_execute_posts_to_templated_url_with_token_header() -> None:
    handler = Sequence(ok({"order": None}))
    client = make_client(handler)
    data = await client.execute(
        SHOP, "shpat_x", ORDER_FULFILLMENT_STATE, {"id": "gid://shopify/Order/1"}
    )
    assert data == {"order": None}
    request = handler.requests[0]
    assert str(request.url) == "https://alpha.myshopify.com/admin/api/2026-10/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == "shpat_x"
    body = json.loads(request.content)
    assert body["variables"] == {"id": "gid://shopify/Order/1"}
    assert "DropsyncOrderFulfillmentState" in body["query"]


async def test_execute_retries_5xx_and_429_for_queries_honouring_retry_after() -> None:
    clock = FakeClock()
    handler = Sequence(
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "2.5"}),
        ok({"order": None}),
    )
    client = make_client(handler, clock)
    assert await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"}) == {"order": None}
    assert len(handler.requests) == 3
    assert 2.5 in clock.slept


async def test_execute_retries_throttled_after_waiting_for_the_bucket() -> None:
    clock = FakeClock()
    throttled = httpx.Response(
        200,
        json={
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            "extensions": _cost(available=5.0, requested=55),
        },
    )
    handler = Sequence(throttled, ok({"order": None}))
    client = make_client(handler, clock)
    await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    # 5 points left, the next call reserves 50 (first guess): at least 0.45 s of restoration
    assert clock.now >= 0.45
    assert len(handler.requests) == 2


async def test_execute_raises_transient_after_spending_attempts() -> None:
    handler = Sequence(*[httpx.Response(502) for _ in range(4)])
    client = make_client(handler)
    with pytest.raises(ShopifyTransientError):
        await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    assert len(handler.requests) == 4


async def test_mutation_5xx_is_ambiguous_and_not_retried() -> None:
    handler = Sequence(httpx.Response(500), ok({}))
    client = make_client(handler)
    with pytest.raises(ShopifyAmbiguousError):
        await client.execute(SHOP, "t", FULFILLMENT_CREATE, {"fulfillment": {}})
    assert len(handler.requests) == 1


async def test_mutation_read_timeout_is_ambiguous() -> None:
    handler = Sequence(httpx.ReadTimeout("slow"))
    client = make_client(handler)
    with pytest.raises(ShopifyAmbiguousError):
        await client.execute(SHOP, "t", FULFILLMENT_CREATE, {"fulfillment": {}})


async def test_mutation_connect_error_and_429_are_retried_as_never_sent() -> None:
    handler = Sequence(
        httpx.ConnectError("refused"),
        httpx.Response(429, headers={"Retry-After": "1"}),
        ok(
            {
                "fulfillmentCreate": {
                    "fulfillment": {"id": "gid://shopify/Fulfillment/9"},
                    "userErrors": [],
                }
            }
        ),
    )
    client = make_client(handler)
    data = await client.execute(SHOP, "t", FULFILLMENT_CREATE, {"fulfillment": {}})
    result = mutation_result(data, "fulfillmentCreate")
    assert result.user_errors == ()
    assert result.payload["fulfillment"]["id"] == "gid://shopify/Fulfillment/9"


async def test_401_raises_auth_error_and_403_access_error() -> None:
    client = make_client(Sequence(httpx.Response(401, json={"errors": "Invalid API key"})))
    with pytest.raises(ShopifyAuthError):
        await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    client = make_client(Sequence(httpx.Response(403)))
    with pytest.raises(ShopifyAccessError):
        await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})


async def test_top_level_errors_raise_document_error_with_entries() -> None:
    body = {
        "errors": [{"message": "Field 'x' doesn't exist", "extensions": {"code": "undefinedField"}}]
    }
    client = make_client(Sequence(httpx.Response(200, json=body)))
    with pytest.raises(ShopifyDocumentError) as caught:
        await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    assert caught.value.errors[0]["extensions"]["code"] == "undefinedField"


async def test_non_json_body_raises_request_error() -> None:
    client = make_client(Sequence(httpx.Response(200, content=b"<html>")))
    with pytest.raises(ShopifyRequestError):
        await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})


async def test_user_errors_are_returned_not_raised() -> None:
    payload = {
        "fulfillmentCreate": {
            "fulfillment": None,
            "userErrors": [
                {
                    "field": ["fulfillment", "lineItemsByFulfillmentOrder"],
                    "message": "Invalid quantity",
                }
            ],
        }
    }
    client = make_client(Sequence(ok(payload)))
    data = await client.execute(SHOP, "t", FULFILLMENT_CREATE, {"fulfillment": {}})
    result = mutation_result(data, "fulfillmentCreate")
    assert result.user_errors[0].message == "Invalid quantity"
    assert result.user_errors[0].field == ("fulfillment", "lineItemsByFulfillmentOrder")


async def test_limiter_waits_before_a_call_the_reported_bucket_cannot_cover() -> None:
    clock = FakeClock()
    handler = Sequence(ok({"order": None}, available=3.0, requested=40), ok({"order": None}))
    client = make_client(handler, clock)
    await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    assert clock.now == 0.0
    await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    # 3 points left, 40 requested last time, 100 points/s: 0.37 s
    assert clock.now == pytest.approx(0.37)


async def test_one_throttled_shop_does_not_slow_another() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        available = 0.0 if request.url.host == "slow.myshopify.com" else 1990.0
        return ok({"order": None}, available=available, requested=50)

    client = make_client(handler, clock)
    await client.execute("slow.myshopify.com", "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    await client.execute("fast.myshopify.com", "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    await client.execute("fast.myshopify.com", "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    assert clock.now == 0.0
    await client.execute("slow.myshopify.com", "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
    assert clock.now == pytest.approx(0.5)


async def test_throttled_every_time_raises_throttled_error() -> None:
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    client = make_client(Sequence(*[httpx.Response(200, json=throttled) for _ in range(4)]))
    with pytest.raises(ShopifyThrottledError):
        await client.execute(SHOP, "t", ORDER_FULFILLMENT_STATE, {"id": "x"})
