"""What privacy law asks of the store: report a customer's data, erase it, erase a shop.

Personal data lives in three places: the order columns (`customer_id`, `email`,
`shipping_address`), the raw webhook bodies, and the order timeline's details. Redaction erases
all three for the customer's orders and stamps the orders `pii_redacted_at`, so that a later
delivery (Shopify retries carry the original payload) cannot bring the data back.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schema.db import Connection

__all__ = [
    "Redaction",
    "customer_data_report",
    "erase_delivery_bodies",
    "erase_shop_if_uninstalled",
    "mark_shop_uninstalled",
    "redact_customer",
]

# Keys of order_event.detail that may hold personal data.
_PII_DETAIL_KEYS = ["email", "phone", "customer", "shipping_address", "address", "name"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Redaction:
    order_ids: list[int]
    payloads_erased: int


def _needles(
    *, customer_id: int | None, email: str | None, phone: str | None, order_ids: Sequence[int]
) -> list[bytes]:
    values: list[str] = [str(order_id) for order_id in order_ids]
    values += [value for value in (email, phone) if value]
    if customer_id is not None:
        values.append(str(customer_id))
    return [value.encode() for value in values]


async def customer_data_report(
    connection: Connection,
    *,
    shop_id: int,
    customer_id: int | None,
    email: str | None,
    order_ids: Sequence[int],
) -> dict[str, Any]:
    """What dropsync holds about a customer: their orders, which personal fields are stored, and
    how many raw payloads name them. The report names fields, it does not copy their values, so
    it holds no personal data itself."""
    rows = await connection.fetch(
        """
        SELECT order_id, name, email, customer_id, shipping_address IS NOT NULL AS has_address,
               created_at
        FROM shopify_order
        WHERE shop_id = $1 AND (order_id = ANY($2::bigint[])
              OR ($3::bigint IS NOT NULL AND customer_id = $3)
              OR ($4::text IS NOT NULL AND lower(email) = lower($4)))
        ORDER BY order_id
        """,
        shop_id,
        list(order_ids),
        customer_id,
        email,
    )
    needles = _needles(customer_id=customer_id, email=email, phone=None, order_ids=order_ids)
    payloads = await connection.fetchval(
        """
        SELECT count(*) FROM webhook_delivery
        WHERE shop_id = $1 AND body IS NOT NULL
          AND EXISTS (SELECT 1 FROM unnest($2::bytea[]) n WHERE position(n IN body) > 0)
        """,
        shop_id,
        needles,
    )
    return {
        "customer_id": customer_id,
        "orders": [
            {
                "order_id": row["order_id"],
                "name": row["name"],
                "holds_email": row["email"] is not None,
                "holds_customer_id": row["customer_id"] is not None,
                "has_shipping_address": row["has_address"],
                "created_at": row["created_at"].isoformat(),
            }
            for row in rows
        ],
        "raw_payloads_naming_customer": payloads,
        "retention": "raw payloads are erased after the configured payload retention",
    }


async def redact_customer(
    connection: Connection,
    *,
    shop_id: int,
    customer_id: int | None,
    email: str | None,
    phone: str | None,
    order_ids: Sequence[int],
    keep_delivery_ids: Sequence[int] = (),
) -> Redaction:
    """Erase the customer's personal data from orders, stored payloads and timelines.

    `keep_delivery_ids` are deliveries whose bodies the caller erases itself (the redaction
    request being applied), so they are not counted twice.
    """
    rows = await connection.fetch(
        """
        UPDATE shopify_order SET customer_id = NULL, email = NULL, shipping_address = NULL,
            pii_redacted_at = COALESCE(pii_redacted_at, now())
        WHERE shop_id = $1 AND (order_id = ANY($2::bigint[])
              OR ($3::bigint IS NOT NULL AND customer_id = $3)
              OR ($4::text IS NOT NULL AND lower(email) = lower($4)))
        RETURNING order_id
        """,
        shop_id,
        list(order_ids),
        customer_id,
        email,
    )
    redacted_orders = sorted({row["order_id"] for row in rows} | set(order_ids))
    needles = _needles(customer_id=customer_id, email=email, phone=phone, order_ids=redacted_orders)
    status: str = await connection.execute(
        """
        UPDATE webhook_delivery
        SET body = NULL, headers = '{}'::jsonb, body_redacted_at = now(),
            status = CASE WHEN status = 'pending' THEN 'ignored' ELSE status END,
            error = CASE WHEN status = 'pending' THEN 'payload erased by customers/redact'
                         ELSE error END
        WHERE shop_id = $1 AND body IS NOT NULL AND NOT (delivery_id = ANY($3::bigint[]))
          AND EXISTS (SELECT 1 FROM unnest($2::bytea[]) n WHERE position(n IN body) > 0)
        """,
        shop_id,
        needles,
        list(keep_delivery_ids),
    )
    await connection.execute(
        """
        UPDATE order_event SET detail = detail - $3::text[]
        WHERE shop_id = $1 AND order_id = ANY($2::bigint[]) AND detail ?| $3::text[]
        """,
        shop_id,
        redacted_orders,
        _PII_DETAIL_KEYS,
    )
    return Redaction(
        order_ids=[row["order_id"] for row in rows],
        payloads_erased=int(status.rsplit(maxsplit=1)[-1]),
    )


async def erase_delivery_bodies(
    connection: Connection, *, shop_id: int, delivery_ids: Sequence[int]
) -> None:
    """Erase the bodies of compliance requests themselves: they name the customer too."""
    await connection.execute(
        """
        UPDATE webhook_delivery SET body = NULL, headers = '{}'::jsonb, body_redacted_at = now()
        WHERE shop_id = $1 AND delivery_id = ANY($2::bigint[])
        """,
        shop_id,
        list(delivery_ids),
    )


async def mark_shop_uninstalled(
    connection: Connection, *, shop_id: int, triggered_at: datetime
) -> bool:
    """Stop the shop (status uninstalled, tokens dropped) unless it was reinstalled since."""
    status: str = await connection.execute(
        """
        UPDATE shop SET status = 'uninstalled', uninstalled_at = now(),
            access_token_enc = NULL, refresh_token_enc = NULL, token_expires_at = NULL
        WHERE shop_id = $1 AND installed_at <= $2 AND status <> 'uninstalled'
        """,
        shop_id,
        triggered_at,
    )
    return status.endswith(" 1")


async def erase_shop_if_uninstalled(
    connection: Connection, *, shop_id: int, triggered_at: datetime
) -> bool:
    """Erase the shop and everything it owns, unless it was reinstalled after the request."""
    status: str = await connection.execute(
        """
        DELETE FROM shop
        WHERE shop_id = $1 AND (status = 'uninstalled' OR installed_at <= $2)
        """,
        shop_id,
        triggered_at,
    )
    return status.endswith(" 1")
