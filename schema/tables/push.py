"""The push ledger: one row per fulfilment dropsync creates or updates in Shopify.

The row is written, with its idempotency key, before the Admin API is called; that is what makes
a push exactly-once across crashes (see workers.jobs.push).
"""

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from schema.base import SQLModel, bigint_id, created_at_field, shop_key

__all__ = ["Push", "PushBlock"]


class Push(SQLModel, table=True):
    __table_args__ = (
        Index("uq_push_idempotency_key", "shop_id", "idempotency_key", unique=True),
        Index("ix_push_order", "shop_id", "order_id"),
    )

    shop_id: int = shop_key()
    push_id: int | None = bigint_id(generated=True)
    order_id: int = Field(sa_type=BigInteger)
    package_ids: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(BigInteger), nullable=False, server_default="{}"),
    )
    location_id: int | None = Field(default=None, sa_type=BigInteger)
    idempotency_key: str
    # create or update_tracking
    kind: str
    # pending, succeeded, adopted, failed (parked with Shopify's message), superseded (a
    # re-plan replaced it before it was sent)
    status: str = Field(default="pending", sa_column_kwargs={"server_default": "pending"})
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    next_attempt_at: datetime | None = None
    fulfillment_id: int | None = Field(default=None, sa_type=BigInteger)
    request: dict[str, object] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default="{}"),
    )
    last_error: str | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    completed_at: datetime | None = None


class PushBlock(SQLModel, table=True):
    """Why a package is not being pushed: a Blocked plan action or a parked (failed) push.

    One row per package, replaced each time the planner decides again and deleted once the
    package is synced. The worker skips a blocked package until its order changes (a webhook,
    a re-read) or, for plan blocks, until `recheck` passes; the report lists these rows.
    """

    __tablename__ = "push_block"
    __table_args__ = (Index("ix_push_block_order", "shop_id", "order_id"),)

    shop_id: int = shop_key()
    package_id: int = bigint_id()
    order_id: int = Field(sa_type=BigInteger)
    # a core.planner.BlockReason value, or push_failed for a parked ledger row
    reason: str
    message: str
    push_id: int | None = Field(default=None, sa_type=BigInteger)
    recorded_at: datetime = created_at_field()
