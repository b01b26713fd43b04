"""The supplier side: accounts, supplier orders and the packages they ship.

Supplier ids and tracking numbers are text, each with a normalised copy (upper case, no spaces
or dashes) used for matching.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from schema.base import SQLModel, bigint_id, created_at_field, jsonb_field, shop_key

__all__ = ["Package", "SupplierAccount", "SupplierAccountShop", "SupplierOrder"]


class SupplierAccount(SQLModel, table=True):
    """A merchant's account at one supplier; it may serve several shops.

    `webhook_token_hash` authenticates suppliers that sign nothing (CJ): the account's webhook URL
    carries a random token, stored here hashed. `secrets_enc` holds API credentials and webhook
    signing secrets, encrypted.
    """

    __tablename__ = "supplier_account"

    account_id: int | None = bigint_id(generated=True)
    # cj, aliexpress or generic
    kind: str
    name: str = Field(unique=True)
    webhook_token_hash: str | None = None
    secrets_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    # CJ sends dates without a zone; this says which one they are in.
    timezone: str = Field(
        default="Asia/Shanghai", sa_column_kwargs={"server_default": "Asia/Shanghai"}
    )
    # Unmatched supplier orders are kept under this shop so they can be reported.
    default_shop_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("shop.shop_id", ondelete="SET NULL")),
    )
    settings: dict[str, object] = jsonb_field()
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    last_delivery_at: datetime | None = None
    created_at: datetime = created_at_field()


class SupplierAccountShop(SQLModel, table=True):
    __tablename__ = "supplier_account_shop"

    shop_id: int = shop_key()
    account_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("supplier_account.account_id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        )
    )


class SupplierOrder(SQLModel, table=True):
    """An order the merchant placed with a supplier, linked to its Shopify order when known."""

    __tablename__ = "supplier_order"
    __table_args__ = (
        Index(
            "uq_supplier_order_account_external",
            "shop_id",
            "account_id",
            "external_id_norm",
            unique=True,
        ),
        Index("ix_supplier_order_shopify_order", "shop_id", "shopify_order_id"),
    )

    shop_id: int = shop_key()
    supplier_order_id: int | None = bigint_id(generated=True)
    account_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("supplier_account.account_id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    external_id: str
    external_id_norm: str
    # The merchant's reference to the Shopify order (CJ orderNumber, AliExpress out_order_id).
    reference: str | None = None
    shopify_order_id: int | None = Field(default=None, sa_type=BigInteger)
    parent_external_id: str | None = None
    # placed, shipped, delivered, cancelled, or split (its parts are supplier orders of their own)
    status: str
    lines: list[dict[str, object]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default="[]"),
    )
    placed_at: datetime | None = None
    updated_at: datetime
    needs_refresh: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    next_poll_at: datetime | None = None
    poll_failures: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    stored_at: datetime = created_at_field()


class Package(SQLModel, table=True):
    """One shipped parcel: identified by (supplier order, normalised tracking number).

    `shopify_order_id` is a copy of its supplier order's, kept exact by triggers (migration
    0009: filled on insert and on a change of supplier order, moved when the supplier order is
    relinked); writers never set it. It lets the report's screen read packages alone: the
    current packages in (shop, order, number) order, from `ix_package_by_order_numbers` alone,
    merged with the fulfilments' index of the same order. The index holds no column a tracking
    event changes, so those updates stay HOT.
    """

    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "supplier_order_id"],
            ["supplier_order.shop_id", "supplier_order.supplier_order_id"],
            ondelete="CASCADE",
            name="fk_package_supplier_order",
        ),
        Index(
            "uq_package_supplier_order_tracking",
            "shop_id",
            "supplier_order_id",
            "tracking_number_norm",
            unique=True,
        ),
        # Keyed like a fulfilment's `tracking_numbers_norm` (an array) so the two merge-join.
        Index(
            "ix_package_by_order_numbers",
            "shop_id",
            "shopify_order_id",
            text("ARRAY[tracking_number_norm::text]"),
            postgresql_include=["tracking_number_norm", "carrier"],
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    shop_id: int = shop_key()
    package_id: int | None = bigint_id(generated=True)
    supplier_order_id: int = Field(sa_type=BigInteger)
    # The supplier order's Shopify order (NULL while it has none); maintained by the database.
    shopify_order_id: int | None = Field(default=None, sa_type=BigInteger)
    tracking_number: str
    tracking_number_norm: str
    carrier: str | None = None
    tracking_url: str | None = None
    lines: list[dict[str, object]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default="[]"),
    )
    shipped_at: datetime | None = None
    tracking_status: str | None = None
    last_event_at: datetime | None = None
    last_event: str | None = None
    # Replaced by a newer tracking number for the same parcel (a tracking change).
    superseded_at: datetime | None = None
    stored_at: datetime = created_at_field()
