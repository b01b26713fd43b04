"""dirty set: a supplier order moved to another Shopify order marks the order it left

Revision ID: 0006_dirty_relink
Revises: 0005_report
Create Date: 2026-11-27 19:30:00

The dirty-set trigger on `supplier_order` records the supplier order, which the incremental
pass resolves to the Shopify order it links to now. When a correction relinks it (its
`shopify_order_id` changes), the order it left lost a supplier order and must be classified
again too (it may now be `paid_not_placed`, or its `shipped_not_synced` row is void); without
this it waited for the next full pass. The extra UPDATE trigger reads both transition tables
and marks only the orders that were left.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_dirty_relink"
down_revision: str | None = "0005_report"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = """
CREATE FUNCTION classify_mark_left_orders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO classify_dirty (shop_id, subject_kind, subject_key)
    SELECT DISTINCT o.shop_id, 'order', o.shopify_order_id
    FROM old_rows o
    JOIN new_rows n ON n.shop_id = o.shop_id AND n.supplier_order_id = o.supplier_order_id
    WHERE o.shopify_order_id IS NOT NULL
      AND n.shopify_order_id IS DISTINCT FROM o.shopify_order_id
      AND EXISTS (SELECT 1 FROM shop s WHERE s.shop_id = o.shop_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute(_FUNCTION)
    op.execute(
        "CREATE TRIGGER classify_dirty_relink AFTER UPDATE ON supplier_order "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION classify_mark_left_orders()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS classify_dirty_relink ON supplier_order")
    op.execute("DROP FUNCTION IF EXISTS classify_mark_left_orders()")
