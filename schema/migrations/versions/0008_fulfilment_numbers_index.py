"""Fulfilments indexed by order and tracking numbers, with their status and company

Revision ID: 0008_fulfilment_numbers_index
Revises: 0007_run_as_of
Create Date: 2026-11-27 23:55:00

The report's full pass pairs packages with live fulfilments on (order, numbers) and looks
for two live fulfilments of one order with the same numbers (a duplicate fulfilment). Hash
joins of the whole fulfilment table (a full join with the packages, a self-join) cost about
half of the pass at a million orders. With the numbers in the order index, and the status and
company beside them so a scan needs no table page, both read this index alone, in order: the
pairing is a merge join, the duplicate check a streaming group count. The new index replaces
`ix_shopify_fulfillment_by_order`, whose lookups by (shop, order) it serves as well, so writes
still maintain one index for them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_fulfilment_numbers_index"
down_revision: str | None = "0007_run_as_of"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_shopify_fulfillment_by_order_numbers",
        "shopify_fulfillment",
        ["shop_id", "order_id", "tracking_numbers_norm"],
        unique=False,
        postgresql_include=["status", "tracking_company"],
    )
    op.drop_index("ix_shopify_fulfillment_by_order", table_name="shopify_fulfillment")


def downgrade() -> None:
    op.create_index(
        "ix_shopify_fulfillment_by_order",
        "shopify_fulfillment",
        ["shop_id", "order_id"],
        unique=False,
    )
    op.drop_index("ix_shopify_fulfillment_by_order_numbers", table_name="shopify_fulfillment")
