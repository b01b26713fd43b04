"""package.shopify_order_id: each package carries its Shopify order, kept by triggers

Revision ID: 0009_package_order
Revises: 0008_fulfilment_numbers_index
Create Date: 2026-11-27 23:45:00

The full pass's screen pairs packages with fulfilment numbers per Shopify order. A package knew
its order only through its supplier order, so the screen joined `supplier_order` (hashing every
supplier order, probing every package) for that one column, then hashed every package to
full-join the fulfilments. This copies the supplier order's `shopify_order_id` onto its
packages, keeps the copy exact in the database, whoever writes, and indexes the current
packages by (shop, order, number as a one-element array) with the carrier beside them:
`ix_package_by_order_numbers`, which the screen merge-joins, read index-only, with
`ix_shopify_fulfillment_by_order_numbers` (migration 0008). A tracking event (status, last
event) changes no indexed column, so its update can stay HOT. The triggers:

- `package_shopify_order` (BEFORE INSERT, or UPDATE of the key or the copy, FOR EACH ROW)
  reads it from the supplier order by primary key, the lookup the foreign key check makes
  anyway; a direct write of the copy is overwritten with the truth. It locks the supplier
  order row (FOR NO KEY UPDATE) so that a relink committing meanwhile cannot miss the new
  package: the relink waits for the package's transaction, or the package for the relink's;
- `package_shopify_order_relink` (AFTER UPDATE OF shopify_order_id ON supplier_order, FOR EACH
  ROW, only WHEN the value changes: status updates pay nothing) moves the packages along.

Both are ENABLE ALWAYS: they fire under `session_replication_role = replica` too, which bulk
loads use to switch the dirty-set triggers off. The backfill runs with the package dirty-set
trigger off (a copied column changes no class), with supplier orders locked against writes
until the triggers exist.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_package_order"
down_revision: str | None = "0008_fulfilment_numbers_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = (
    """
CREATE FUNCTION package_fill_shopify_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- no row: the foreign key check that follows rejects the package
    SELECT s.shopify_order_id INTO NEW.shopify_order_id
    FROM supplier_order s
    WHERE s.shop_id = NEW.shop_id AND s.supplier_order_id = NEW.supplier_order_id
    FOR NO KEY UPDATE;
    RETURN NEW;
END $$
""",
    """
CREATE FUNCTION supplier_order_relink_packages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE package p SET shopify_order_id = NEW.shopify_order_id
    WHERE p.shop_id = NEW.shop_id AND p.supplier_order_id = NEW.supplier_order_id;
    RETURN NULL;
END $$
""",
)

_TRIGGERS = (
    "CREATE TRIGGER package_shopify_order"
    " BEFORE INSERT OR UPDATE OF shop_id, supplier_order_id, shopify_order_id ON package"
    " FOR EACH ROW EXECUTE FUNCTION package_fill_shopify_order()",
    "ALTER TABLE package ENABLE ALWAYS TRIGGER package_shopify_order",
    "CREATE TRIGGER package_shopify_order_relink"
    " AFTER UPDATE OF shopify_order_id ON supplier_order FOR EACH ROW"
    " WHEN (OLD.shopify_order_id IS DISTINCT FROM NEW.shopify_order_id)"
    " EXECUTE FUNCTION supplier_order_relink_packages()",
    "ALTER TABLE supplier_order ENABLE ALWAYS TRIGGER package_shopify_order_relink",
)


def upgrade() -> None:
    op.add_column("package", sa.Column("shopify_order_id", sa.BigInteger(), nullable=True))
    # no supplier order relinks between the backfill and the triggers (the column's ADD
    # already holds package)
    op.execute("LOCK TABLE supplier_order IN SHARE MODE")
    op.execute("ALTER TABLE package DISABLE TRIGGER classify_dirty_update")
    op.execute(
        """
        UPDATE package p SET shopify_order_id = s.shopify_order_id
        FROM supplier_order s
        WHERE s.shop_id = p.shop_id AND s.supplier_order_id = p.supplier_order_id
          AND s.shopify_order_id IS NOT NULL
        """
    )
    op.execute("ALTER TABLE package ENABLE TRIGGER classify_dirty_update")
    for function in _FUNCTIONS:
        op.execute(function)
    for statement in _TRIGGERS:
        op.execute(statement)
    op.execute(
        "CREATE INDEX ix_package_by_order_numbers ON package"
        " (shop_id, shopify_order_id, (ARRAY[tracking_number_norm::text]))"
        " INCLUDE (tracking_number_norm, carrier) WHERE superseded_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_package_by_order_numbers")
    op.execute("DROP TRIGGER IF EXISTS package_shopify_order_relink ON supplier_order")
    op.execute("DROP TRIGGER IF EXISTS package_shopify_order ON package")
    op.execute("DROP FUNCTION IF EXISTS supplier_order_relink_packages()")
    op.execute("DROP FUNCTION IF EXISTS package_fill_shopify_order()")
    op.drop_column("package", "shopify_order_id")
