"""Helpers for supplier ingest tests: accounts and CJ / AliExpress / generic messages."""

import time
import uuid
from typing import Any

import asyncpg
import orjson

from core.signatures import sign_standard_webhook
from schema.secrets import SecretBox
from service.suppliers import (
    NewSupplierAccount,
    SupplierAccountRegistration,
    SupplierKind,
    register_supplier_account,
)

__all__ = [
    "ae_push",
    "cj_message",
    "create_account",
    "generic_event",
    "standard_headers",
]


async def create_account(
    pool: asyncpg.Pool,
    box: SecretBox,
    *,
    kind: SupplierKind,
    shop_ids: list[int],
    name: str | None = None,
    note_attributes: list[str] | None = None,
) -> NewSupplierAccount:
    async with pool.acquire() as connection:
        return await register_supplier_account(
            connection,
            box,
            SupplierAccountRegistration(
                kind=kind,
                name=name or f"{kind}-{uuid.uuid4().hex[:6]}",
                shop_ids=shop_ids,
                note_attributes=note_attributes or [],
            ),
        )


def cj_message(kind: str, params: dict[str, Any], *, message_id: str | None = None) -> bytes:
    return orjson.dumps(
        {
            "messageId": message_id or uuid.uuid4().hex,
            "type": kind,
            "messageType": "UPDATE",
            "openId": 123,
            "params": params,
        }
    )


def ae_push(order_id: int, status: str = "OrderShipped", *, sent_at: int = 1719389200) -> bytes:
    return orjson.dumps(
        {
            "data": {"buyerId": 1861703697, "orderId": order_id, "orderStatus": status},
            "message_type": 53,
            "seller_id": "1234",
            "site": "ae_global",
            "timestamp": sent_at,
        }
    )


def generic_event(kind: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "timestamp": "2026-11-27T10:00:00Z", "data": data})


def standard_headers(body: bytes, secret: str, *, msg_id: str | None = None) -> dict[str, str]:
    message = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "webhook-id": message,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign_standard_webhook(
            secret=secret, msg_id=message, timestamp=stamp, body=body
        ),
    }
