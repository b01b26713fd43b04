"""Each order's timeline: deliveries, polls, pushes and resolutions, with time and actor."""

from datetime import datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field

from schema.base import SQLModel, bigint_id, created_at_field, jsonb_field, shop_key

__all__ = ["OrderEvent"]


class OrderEvent(SQLModel, table=True):
    __tablename__ = "order_event"
    __table_args__ = (Index("ix_order_event_order", "shop_id", "order_id", "at"),)

    shop_id: int = shop_key()
    order_event_id: int | None = bigint_id(generated=True)
    order_id: int | None = Field(default=None, sa_type=BigInteger)
    supplier_order_id: int | None = Field(default=None, sa_type=BigInteger)
    # e.g. webhook.applied, poll.upserted, push.created, push.failed, report.acknowledged
    kind: str
    # who did it: webhook, poll, worker, or api-token:<id>
    actor: str
    detail: dict[str, object] = jsonb_field()
    at: datetime = created_at_field()
