"""The raw inboxes: every webhook delivery as received, before anything is applied."""

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, LargeBinary, text
from sqlmodel import Field

from schema.base import SQLModel, bigint_id, created_at_field, jsonb_field, shop_key

__all__ = ["SupplierDelivery", "WebhookDelivery"]


class WebhookDelivery(SQLModel, table=True):
    """One Shopify webhook delivery, stored before the 200 is sent.

    status: pending (not applied yet), applied, ignored (stored, nothing to apply), failed
    (parked after retries, with `error`), redacted (body erased for privacy law).
    """

    __tablename__ = "webhook_delivery"

    __table_args__ = (
        Index(
            "uq_webhook_delivery_shop_id_webhook_id",
            "shop_id",
            "webhook_id",
            unique=True,
        ),
        Index(
            "uq_webhook_delivery_shop_id_topic_event_id",
            "shop_id",
            "topic",
            "event_id",
            unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
        ),
        Index(
            "ix_webhook_delivery_pending",
            "shop_id",
            "delivery_id",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    shop_id: int = shop_key()
    delivery_id: int | None = bigint_id(generated=True)
    webhook_id: str
    event_id: str | None = None
    topic: str
    api_version: str | None = None
    triggered_at: datetime | None = None
    headers: dict[str, object] = jsonb_field()
    body: bytes | None = Field(default=None, sa_type=LargeBinary)
    status: str = Field(default="pending", sa_column_kwargs={"server_default": "pending"})
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    error: str | None = None
    received_at: datetime = created_at_field()
    applied_at: datetime | None = None
    next_attempt_at: datetime | None = None
    body_redacted_at: datetime | None = None


class SupplierDelivery(SQLModel, table=True):
    """One supplier webhook delivery, stored before the answer is sent.

    Keyed by supplier account rather than shop: one account may serve several shops, and the
    shop is only known once the delivery's order reference has been resolved.
    """

    __tablename__ = "supplier_delivery"

    __table_args__ = (
        Index(
            "uq_supplier_delivery_account_id_dedup_key",
            "account_id",
            "dedup_key",
            unique=True,
        ),
        Index(
            "ix_supplier_delivery_pending",
            "account_id",
            "delivery_id",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    account_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("supplier_account.account_id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        )
    )
    delivery_id: int | None = bigint_id(generated=True)
    dedup_key: str
    kind: str
    headers: dict[str, object] = jsonb_field()
    body: bytes | None = Field(default=None, sa_type=LargeBinary)
    status: str = Field(default="pending", sa_column_kwargs={"server_default": "pending"})
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    error: str | None = None
    shop_id: int | None = Field(default=None, sa_type=BigInteger)
    received_at: datetime = created_at_field()
    applied_at: datetime | None = None
    next_attempt_at: datetime | None = None
