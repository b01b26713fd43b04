"""order summary: per-order screen counts kept by triggers, backfilled

Revision ID: 0006_order_summary
Revises: 0005_report
Create Date: 2026-11-27 18:20:00

The full classification pass screens every order by reading one narrow row per order
(`order_summary`) instead of joining packages against fulfilment numbers over whole tables.
The rows are kept by statement-level triggers on both sides' tables, in the same transaction
as the change: the trigger locks the summary rows of the orders a statement touched (in key
order), then recomputes them from the source tables. Locking first makes two writers of one
order serialise; under READ COMMITTED each statement of the function takes a new snapshot, so
the later writer recomputes from what the earlier one committed. The triggers are ENABLE
ALWAYS: a bulk load with `session_replication_role = replica` (which silences the dirty-set
triggers) still keeps the summary true, so the full pass stays a safety net.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_order_summary"
down_revision: str | None = "0005_report"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The recomputation, for the orders (p_shop[i], p_order[i]). Every count mirrors one screen of
# the classifier (see schema.classify.report_sql.candidate_orders_sql) and is a superset test.
_REFRESH = """
CREATE FUNCTION order_summary_refresh(p_shop bigint[], p_order bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- 1. create missing rows and lock every row, in key order (no deadlock between two
    --    statements that touch the same orders); orders of a shop being erased are skipped
    INSERT INTO order_summary (shop_id, order_id)
    SELECT DISTINCT k.shop_id, k.order_id
    FROM unnest(p_shop, p_order) AS k(shop_id, order_id)
    WHERE k.order_id IS NOT NULL
      AND EXISTS (SELECT 1 FROM shop s WHERE s.shop_id = k.shop_id)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM order_summary os
    WHERE (os.shop_id, os.order_id) IN (
        SELECT k.shop_id, k.order_id FROM unnest(p_shop, p_order) AS k(shop_id, order_id))
    ORDER BY os.shop_id, os.order_id
    FOR UPDATE;
    -- 2. recompute (a new snapshot: it sees what writers we waited for committed); one
    --    index lookup per order and table, so a one-order statement costs one order's rows
    UPDATE order_summary os SET
        test = o.test,
        order_attention = o.cancelled_at IS NOT NULL
            OR lower(coalesce(o.financial_status, '')) <> 'paid'
            OR (o.closed_at IS NOT NULL
                AND lower(coalesce(o.fulfillment_status, '')) NOT IN ('fulfilled', 'restocked')),
        supplier_orders = so.n,
        supplier_orders_cancelled = so.cancelled,
        packages_unmatched = pairs.packages_unmatched,
        numbers_unmatched = pairs.numbers_unmatched,
        carriers_differ = pairs.carriers_differ,
        fulfilments_odd = fa.odd,
        numbers_duplicated = dup.n,
        lines_over_fulfilled = ovf.n,
        companies = fa.companies,
        fulfillment_orders_open = foa.n,
        pushes_failed = pua.n,
        stalled_from = pairs.stalled_from
    FROM (SELECT DISTINCT k.shop_id, k.order_id
          FROM unnest(p_shop, p_order) AS k(shop_id, order_id)) k
    JOIN shopify_order o ON o.shop_id = k.shop_id AND o.order_id = k.order_id
    CROSS JOIN LATERAL (
        SELECT count(*) AS n, count(*) FILTER (WHERE s.status = 'cancelled') AS cancelled
        FROM supplier_order s
        WHERE s.shop_id = k.shop_id AND s.shopify_order_id = k.order_id
    ) so
    CROSS JOIN LATERAL (
        -- current packages of live supplier orders against numbers on live fulfilments
        WITH pk AS (
            SELECT p.tracking_number_norm::text AS norm, p.carrier,
                   CASE WHEN s.status <> 'delivered'
                         AND coalesce(lower(p.tracking_status), '') NOT IN ('delivered', 'returned')
                        THEN coalesce(p.last_event_at, p.shipped_at, p.stored_at) END AS moved_at
            FROM supplier_order s
            JOIN package p ON p.shop_id = s.shop_id AND p.supplier_order_id = s.supplier_order_id
            WHERE s.shop_id = k.shop_id AND s.shopify_order_id = k.order_id
              AND s.status <> 'cancelled' AND p.superseded_at IS NULL
        ),
        ft AS (
            SELECT t.norm, f.tracking_company
            FROM shopify_fulfillment f
            CROSS JOIN LATERAL unnest(f.tracking_numbers_norm) AS t(norm)
            WHERE f.shop_id = k.shop_id AND f.order_id = k.order_id
              AND lower(f.status) NOT IN ('cancelled', 'error', 'failure')
        )
        SELECT count(*) FILTER (WHERE ft.norm IS NULL) AS packages_unmatched,
               count(*) FILTER (WHERE pk.norm IS NULL) AS numbers_unmatched,
               count(*) FILTER (WHERE pk.norm IS NOT NULL AND ft.norm IS NOT NULL
                                  AND pk.carrier IS DISTINCT FROM ft.tracking_company)
                   AS carriers_differ,
               min(pk.moved_at) AS stalled_from
        FROM pk FULL JOIN ft ON ft.norm = pk.norm
    ) pairs
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE cardinality(f.tracking_numbers_norm) <> 1) AS odd,
               coalesce(array_agg(DISTINCT coalesce(f.tracking_company, '')), '{}') AS companies
        FROM shopify_fulfillment f
        WHERE f.shop_id = k.shop_id AND f.order_id = k.order_id
          AND lower(f.status) NOT IN ('cancelled', 'error', 'failure')
    ) fa
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM (
            SELECT t.norm
            FROM shopify_fulfillment f
            CROSS JOIN LATERAL unnest(f.tracking_numbers_norm) AS t(norm)
            WHERE f.shop_id = k.shop_id AND f.order_id = k.order_id
              AND lower(f.status) NOT IN ('cancelled', 'error', 'failure')
            GROUP BY t.norm HAVING count(*) > 1
        ) d
    ) dup
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM (
            SELECT fl.line_item_id, sum(fl.quantity) AS fulfilled
            FROM shopify_fulfillment_line fl
            JOIN shopify_fulfillment f
              ON f.shop_id = fl.shop_id AND f.fulfillment_id = fl.fulfillment_id
             AND lower(f.status) NOT IN ('cancelled', 'error', 'failure')
            WHERE fl.shop_id = k.shop_id AND fl.order_id = k.order_id
            GROUP BY fl.line_item_id
        ) q
        JOIN shopify_line_item li ON li.shop_id = k.shop_id AND li.line_item_id = q.line_item_id
        WHERE q.fulfilled > li.quantity
    ) ovf
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM shopify_fulfillment_order fo
        WHERE fo.shop_id = k.shop_id AND fo.order_id = k.order_id
          AND lower(fo.status) IN ('open', 'in_progress', 'scheduled', 'on_hold')
    ) foa
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM push pu
        WHERE pu.shop_id = k.shop_id AND pu.order_id = k.order_id AND pu.status = 'failed'
    ) pua
    WHERE os.shop_id = k.shop_id AND os.order_id = k.order_id;
    -- 3. a summary exists only for a stored Shopify order
    DELETE FROM order_summary os
    USING unnest(p_shop, p_order) AS k(shop_id, order_id)
    WHERE os.shop_id = k.shop_id AND os.order_id = k.order_id
      AND NOT EXISTS (SELECT 1 FROM shopify_order o
                      WHERE o.shop_id = k.shop_id AND o.order_id = k.order_id);
END $$
"""

# Statement-level trigger functions: the orders a statement touched, from its transition
# tables (both old and new rows of an update: a row can move to another order).
_MARKERS = {
    # tables whose rows carry (shop_id, order_id)
    "order_summary_mark_orders": ("c.shop_id", "c.order_id", ""),
    # supplier orders carry (shop_id, shopify_order_id)
    "order_summary_mark_supplier_orders": ("c.shop_id", "c.shopify_order_id", ""),
    # packages reach their order through their supplier order
    "order_summary_mark_packages": (
        "s.shop_id",
        "s.shopify_order_id",
        "JOIN supplier_order s ON s.shop_id = c.shop_id"
        " AND s.supplier_order_id = c.supplier_order_id",
    ),
}


def _marker(name: str, shop: str, order: str, join: str) -> str:
    def keys(table: str) -> str:
        return f"SELECT {shop} AS shop_id, {order} AS order_id FROM {table} c {join}"

    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    shops bigint[];
    orders bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(x.shop_id), array_agg(x.order_id) INTO shops, orders
        FROM ({keys("new_rows")}) x;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(x.shop_id), array_agg(x.order_id) INTO shops, orders
        FROM ({keys("new_rows")} UNION {keys("old_rows")}) x;
    ELSE
        SELECT array_agg(x.shop_id), array_agg(x.order_id) INTO shops, orders
        FROM ({keys("old_rows")}) x;
    END IF;
    IF orders IS NOT NULL THEN
        PERFORM order_summary_refresh(shops, orders);
    END IF;
    RETURN NULL;
END $$
"""


_TABLES = {
    "shopify_order": "order_summary_mark_orders",
    "shopify_line_item": "order_summary_mark_orders",
    "shopify_fulfillment_order": "order_summary_mark_orders",
    "shopify_fulfillment": "order_summary_mark_orders",
    "shopify_fulfillment_line": "order_summary_mark_orders",
    "push": "order_summary_mark_orders",
    "supplier_order": "order_summary_mark_supplier_orders",
    "package": "order_summary_mark_packages",
}


def _triggers(table: str, function: str) -> list[str]:
    statements = []
    for event in ("INSERT", "UPDATE", "DELETE"):
        name = f"order_summary_{event.lower()}"
        tables = {
            "INSERT": "NEW TABLE AS new_rows",
            "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "DELETE": "OLD TABLE AS old_rows",
        }[event]
        statements.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
        # fire even under session_replication_role = replica (bulk loads)
        statements.append(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")
    return statements


def upgrade() -> None:
    op.create_table(
        "order_summary",
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("test", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("order_attention", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("supplier_orders", sa.Integer(), server_default="0", nullable=False),
        sa.Column("supplier_orders_cancelled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("packages_unmatched", sa.Integer(), server_default="0", nullable=False),
        sa.Column("numbers_unmatched", sa.Integer(), server_default="0", nullable=False),
        sa.Column("carriers_differ", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fulfilments_odd", sa.Integer(), server_default="0", nullable=False),
        sa.Column("numbers_duplicated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lines_over_fulfilled", sa.Integer(), server_default="0", nullable=False),
        sa.Column("companies", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("fulfillment_orders_open", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pushes_failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stalled_from", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.shop_id"],
            name=op.f("fk_order_summary_shop_id_shop"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", "order_id", name=op.f("pk_order_summary")),
    )
    op.execute(_REFRESH)
    for name, (shop, order, join) in _MARKERS.items():
        op.execute(_marker(name, shop, order, join))
    for table, function in _TABLES.items():
        for statement in _triggers(table, function):
            op.execute(statement)
    # Every full pass refreshes each open row's last_seen_at/last_run_id (no indexed column
    # changes): room on the page lets that be a HOT update, with no new index entries.
    op.execute("ALTER TABLE mismatch SET (fillfactor = 70)")
    # backfill every stored order, in one statement
    op.execute(
        "SELECT order_summary_refresh(array_agg(shop_id), array_agg(order_id)) FROM shopify_order"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE mismatch RESET (fillfactor)")
    for table in _TABLES:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS order_summary_{event} ON {table}")
    for name in _MARKERS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.execute("DROP FUNCTION IF EXISTS order_summary_refresh(bigint[], bigint[])")
    op.drop_table("order_summary")
