"""Shopify's side of each order, as last read from a webhook, a poll or a re-read.

Shopify ids are bigints taken from the GraphQL id (`admin_graphql_api_id`), never from a JSON
float. Child rows point at their order by (shop_id, order_id) so a whole order is replaced
set-based.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from schema.base import SQLModel, bigint_id, jsonb_field, shop_key

__all__ = [
    "ShopifyFulfillment",
    "ShopifyFulfillmentLine",
    "ShopifyFulfillmentOrder",
    "ShopifyFulfillmentOrderLine",
    "ShopifyLineItem",
    "ShopifyOrder",
]


def _text_array() -> object:
    return Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"),
    )


def _order_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["shop_id", "order_id"],
        ["shopify_order.shop_id", "shopify_order.order_id"],
        ondelete="CASCADE",
        name=f"fk_{table}_order",
    )


class ShopifyOrder(SQLModel, table=True):
    __tablename__ = "shopify_order"
    __table_args__ = (
        Index("ix_shopify_order_shop_id_name", "shop_id", "name"),
        Index("ix_shopify_order_shop_id_updated_at", "shop_id", "updated_at"),
    )

    shop_id: int = shop_key()
    order_id: int = bigint_id()
    name: str
    order_number: int | None = Field(default=None, sa_type=BigInteger)
    financial_status: str | None = None
    fulfillment_status: str | None = None
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    test: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    created_at: datetime
    # Shopify's `updated_at` (one-second resolution) and the delivery's triggered-at that broke
    # the tie: together they decide whether a late delivery is older than what is stored.
    updated_at: datetime
    source_triggered_at: datetime | None = None
    note_attributes: dict[str, object] = jsonb_field()
    # Personal data, erased by customers/redact.
    customer_id: int | None = Field(default=None, sa_type=BigInteger)
    email: str | None = None
    shipping_address: dict[str, object] | None = Field(
        default=None, sa_column=Column(JSONB, nullable=True)
    )
    # Set by customers/redact: later deliveries (Shopify retries carry the original payload)
    # must not bring the erased personal data back.
    pii_redacted_at: datetime | None = None
    # Set by fulfillment_orders/* webhooks: the order must be re-read through the Admin API.
    needs_refresh: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    refreshed_at: datetime | None = None
    stored_at: datetime


class ShopifyLineItem(SQLModel, table=True):
    __tablename__ = "shopify_line_item"
    __table_args__ = (
        _order_fk("shopify_line_item"),
        Index("ix_shopify_line_item_by_order", "shop_id", "order_id"),
    )

    shop_id: int = shop_key()
    line_item_id: int = bigint_id()
    order_id: int = Field(sa_type=BigInteger)
    sku: str | None = None
    variant_id: int | None = Field(default=None, sa_type=BigInteger)
    product_id: int | None = Field(default=None, sa_type=BigInteger)
    title: str | None = None
    quantity: int
    fulfillable_quantity: int | None = None
    fulfillment_status: str | None = None


class ShopifyFulfillmentOrder(SQLModel, table=True):
    __tablename__ = "shopify_fulfillment_order"
    __table_args__ = (
        _order_fk("shopify_fulfillment_order"),
        Index("ix_shopify_fulfillment_order_by_order", "shop_id", "order_id"),
    )

    shop_id: int = shop_key()
    fulfillment_order_id: int = bigint_id()
    order_id: int = Field(sa_type=BigInteger)
    status: str
    request_status: str | None = None
    location_id: int | None = Field(default=None, sa_type=BigInteger)
    supported_actions: list[str] = _text_array()  # type: ignore[assignment]
    holds: list[dict[str, object]] = jsonb_field(default="'[]'::jsonb")
    fulfill_at: datetime | None = None
    updated_at: datetime | None = None


class ShopifyFulfillmentOrderLine(SQLModel, table=True):
    __tablename__ = "shopify_fulfillment_order_line"
    __table_args__ = (
        _order_fk("shopify_fulfillment_order_line"),
        Index("ix_shopify_fulfillment_order_line_by_order", "shop_id", "order_id"),
    )

    shop_id: int = shop_key()
    fulfillment_order_line_id: int = bigint_id()
    fulfillment_order_id: int = Field(sa_type=BigInteger)
    order_id: int = Field(sa_type=BigInteger)
    line_item_id: int = Field(sa_type=BigInteger)
    total_quantity: int
    remaining_quantity: int


class ShopifyFulfillment(SQLModel, table=True):
    __tablename__ = "shopify_fulfillment"
    __table_args__ = (
        _order_fk("shopify_fulfillment"),
        # An order's fulfilments sorted by their numbers, with their status and company: the
        # lookups by order, and the report's full pass (pairing with packages, duplicate check),
        # which reads this index alone, in order, with no sort and no hash.
        Index(
            "ix_shopify_fulfillment_by_order_numbers",
            "shop_id",
            "order_id",
            "tracking_numbers_norm",
            postgresql_include=["status", "tracking_company"],
        ),
    )

    shop_id: int = shop_key()
    fulfillment_id: int = bigint_id()
    order_id: int = Field(sa_type=BigInteger)
    status: str
    location_id: int | None = Field(default=None, sa_type=BigInteger)
    tracking_company: str | None = None
    tracking_numbers: list[str] = _text_array()  # type: ignore[assignment]
    tracking_numbers_norm: list[str] = _text_array()  # type: ignore[assignment]
    tracking_urls: list[str] = _text_array()  # type: ignore[assignment]
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ShopifyFulfillmentLine(SQLModel, table=True):
    __tablename__ = "shopify_fulfillment_line"
    __table_args__ = (
        _order_fk("shopify_fulfillment_line"),
        Index("ix_shopify_fulfillment_line_by_order", "shop_id", "order_id"),
    )

    shop_id: int = shop_key()
    fulfillment_id: int = bigint_id()
    line_item_id: int = bigint_id()
    order_id: int = Field(sa_type=BigInteger)
    quantity: int
