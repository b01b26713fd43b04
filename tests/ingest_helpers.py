"""Helpers for ingest tests: registered shops, signed Shopify deliveries, the docs' samples."""

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson

from schema.secrets import SecretBox
from service.shops import AppKind, ShopRegistration, register_shop

__all__ = [
    "SAMPLES",
    "TEST_SECRET",
    "order_body",
    "register_test_shop",
    "sample",
    "shopify_headers",
    "sign",
]

# Shopify's documented payloads, copied into the repository by the core tests.
SAMPLES = Path(__file__).parent / "core" / "samples" / "shopify"


def sample(name: str) -> bytes:
    """The raw bytes of one of Shopify's documented payloads (e.g. 'orders-create')."""
    matches = sorted(SAMPLES.glob(f"shopify-{name}*.json"))
    if not matches:
        raise FileNotFoundError(name)
    return matches[0].read_bytes()


TEST_SECRET = "shpss_test_secret"


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def register_test_shop(
    pool: asyncpg.Pool,
    box: SecretBox,
    *,
    domain: str = "acme.myshopify.com",
    secret: str = TEST_SECRET,
) -> int:
    async with pool.acquire() as connection:
        shop = await register_shop(
            connection,
            box,
            ShopRegistration(
                domain=domain, kind=AppKind.LEGACY, client_secret=secret, access_token="shpat_t"
            ),
        )
    return shop.shop_id


def shopify_headers(
    body: bytes,
    *,
    topic: str,
    secret: str = TEST_SECRET,
    domain: str = "acme.myshopify.com",
    webhook_id: str | None = None,
    event_id: str | None = None,
    triggered_at: str = "2026-01-01T00:00:00.000Z",
    prefix: str = "X-Shopify-",
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        f"{prefix}Topic": topic,
        f"{prefix}Hmac-Sha256": sign(body, secret),
        f"{prefix}Shop-Domain": domain,
        f"{prefix}API-Version": "2026-10",
        f"{prefix}Webhook-Id": webhook_id or str(uuid.uuid4()),
        f"{prefix}Triggered-At": triggered_at,
    }
    if event_id is not None:
        headers[f"{prefix}Event-Id"] = event_id
    return headers


def order_body(
    *,
    order_id: int = 820982911946154508,
    updated_at: str = "2026-01-01T10:00:00-05:00",
    email: str = "jon@example.com",
    financial_status: str = "paid",
    line_items: list[dict[str, object]] | None = None,
    created_at: str | None = None,
) -> bytes:
    """A small orders/* payload in Shopify's REST shape."""
    return orjson.dumps(
        {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": "#1001",
            "order_number": 1001,
            "email": email,
            "financial_status": financial_status,
            "fulfillment_status": None,
            "cancelled_at": None,
            "closed_at": None,
            "created_at": created_at or datetime.now(UTC).isoformat(),
            "updated_at": updated_at,
            "test": False,
            "note_attributes": [{"name": "cj_ref", "value": "CJ-1"}],
            "customer": {"id": 115310627314723954, "email": email},
            "shipping_address": {"name": "Jon Snow", "address1": "1 Wall St", "zip": "K1A"},
            "line_items": line_items
            if line_items is not None
            else [
                {
                    "id": 866550311766439020,
                    "admin_graphql_api_id": "gid://shopify/LineItem/866550311766439020",
                    "sku": "SKU-1",
                    "variant_id": 808950810,
                    "product_id": 632910392,
                    "title": "Widget",
                    "quantity": 2,
                    "fulfillable_quantity": 2,
                    "fulfillment_status": None,
                }
            ],
            "fulfillments": [],
        }
    )
