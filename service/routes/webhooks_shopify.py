"""`POST /webhooks/shopify`: verify, store durably, then acknowledge.

Order of checks: a body over the cap is refused (413) before the rest is read; a delivery whose
signature is missing or matches none of the shop's app secrets, or whose shop we do not know
(nothing to verify against), is refused (401) and nothing is stored. Everything authentic is
stored as received and answered 200 only after the commit, even when it will not apply (odd
content type, no topic): it is parked as failed, visible in the deliveries API, because a
refusal only earns retries and, eventually, a deleted subscription. A repeat (same webhook id,
or same event id and topic) answers 200 and stores nothing new. If the database is down or
slower than `db_timeout`, the answer is 503 so that Shopify retries. Redis plays no part in the
answer.
"""

import asyncio
import base64
import binascii
import hashlib
import hmac

import structlog
from fastapi import APIRouter, Request
from starlette.responses import Response

from schema.queries.inbox import DeliveryStatus, NewShopifyDelivery
from service.errors import error_response
from service.ingest.body import read_body_or_error
from service.ingest.edge import ingest_edge
from service.ingest.shopify_headers import (
    KEPT_HEADERS,
    delivery_fingerprint,
    parse_triggered_at,
    shopify_header,
)
from service.runtime import Resources

__all__ = ["header_map", "router", "signature_matches", "verified_shop"]

log = structlog.get_logger()

router = APIRouter(tags=["webhooks"])

_ACCEPTED = Response(content=b'{"ok":true}', media_type="application/json")


def signature_matches(body: bytes, signature: str, secrets: tuple[bytes, ...]) -> bool:
    """True when `signature` (base64 HMAC-SHA256 of the raw body) matches any secret."""
    try:
        expected = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    matched = False
    for secret in secrets:
        digest = hmac.new(secret, body, hashlib.sha256).digest()
        # No early exit: the time taken does not say which secret matched.
        matched |= hmac.compare_digest(digest, expected)
    return matched


def _content_type_problem(content_type: str | None) -> str | None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return None
    return f"unexpected content type {content_type or '(none)'!r}; expected application/json"


def header_map(request: Request) -> dict[str, str]:
    """The request's headers as a plain dict, lower-case names, read once.

    Starlette's `Headers.get` scans and decodes every header on each call; a delivery reads a
    dozen of them, so one pass is cheaper. Repeated headers keep their last value.
    """
    return {
        # PostgreSQL text cannot hold NUL; headers are not signed, so never trust them to.
        name.decode("latin-1").lower(): value.decode("latin-1").replace("\x00", "")
        for name, value in request.scope["headers"]
    }


async def verified_shop(
    request: Request, resources: Resources, body: bytes, headers: dict[str, str]
) -> int | Response:
    """The shop id of an authentic delivery, or the 401 to answer."""
    signature = shopify_header(headers, "hmac-sha256")
    domain = shopify_header(headers, "shop-domain")
    if signature is None:
        return error_response(401, "missing_signature", "X-Shopify-Hmac-Sha256 header is required")
    if domain is None:
        return error_response(
            401, "missing_shop_domain", "X-Shopify-Shop-Domain header is required"
        )
    edge = ingest_edge(request.app.state, resources)
    shop = await edge.secrets.lookup(domain)
    if shop is None:
        log.info("webhook.unknown_shop", shop_domain=domain)
        return error_response(
            401, "unknown_shop", f"no shop {domain!r} is registered; cannot verify"
        )
    if not signature_matches(body, signature, shop.secrets):
        log.info("webhook.bad_signature", shop_id=shop.shop_id)
        return error_response(401, "invalid_signature", "the HMAC does not match the body")
    return shop.shop_id


def _delivery(headers: dict[str, str], shop_id: int, body: bytes) -> NewShopifyDelivery:
    topic = shopify_header(headers, "topic")
    kept = {name: value for name in KEPT_HEADERS if (value := shopify_header(headers, name))}
    content_type = headers.get("content-type")
    if content_type:
        kept["content-type"] = content_type
    problem = _content_type_problem(content_type)
    if topic is None:
        problem = "missing X-Shopify-Topic header: cannot tell what the body is"
    return NewShopifyDelivery(
        shop_id=shop_id,
        webhook_id=shopify_header(headers, "webhook-id") or delivery_fingerprint(topic, body),
        event_id=shopify_header(headers, "event-id"),
        topic=(topic or "").lower(),
        api_version=shopify_header(headers, "api-version"),
        triggered_at=parse_triggered_at(shopify_header(headers, "triggered-at")),
        headers=kept,
        body=body,
        status=DeliveryStatus.FAILED if problem else DeliveryStatus.PENDING,
        error=problem,
    )


@router.post(
    "/webhooks/shopify",
    summary="Receive a Shopify webhook (HMAC-verified, stored before the 200)",
    response_class=Response,
)
async def receive_shopify_webhook(request: Request) -> Response:
    resources: Resources = request.app.state.resources
    settings = resources.runtime.settings
    body = await read_body_or_error(request, limit=settings.webhook_max_body_bytes)
    if isinstance(body, Response):
        return body
    try:
        async with asyncio.timeout(settings.db_timeout.total_seconds()):
            headers = header_map(request)
            verified = await verified_shop(request, resources, body, headers)
            if isinstance(verified, Response):
                return verified
            delivery = _delivery(headers, verified, body)
            await ingest_edge(request.app.state, resources).shopify_inbox.write(delivery)
    except Exception as error:  # noqa: BLE001  (storage trouble of any kind: make Shopify retry)
        log.warning("webhook.store_failed", error=repr(error))
        return error_response(
            503,
            "storage_unavailable",
            "the delivery could not be stored right now; retry later",
            headers={"Retry-After": "5"},
        )
    return _ACCEPTED
