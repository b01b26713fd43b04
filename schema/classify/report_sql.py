"""The report classifier as composable, set-based SQL fragments.

One statement classifies every order in scope: each child table (supplier orders, packages,
fulfilments, fulfillment orders, the push ledger) is aggregated once per order, the aggregates
are joined to the orders, and each class is a predicate over that one row (`ORDER_CLASSES`).
The orders in scope are the temp table `classify_scope`: the screened candidates of a full pass
(`candidate_orders_sql`) or the dirty orders of an incremental one; their rows are read through
the indexes, once, into copies (`gather_sql`).

Parameters of every statement built here:
  $1 jsonb        per-shop thresholds, in seconds (see `schema.classify.passes`)
  $2 timestamptz  the pass's "now"
  $3 jsonb        carrier -> accepted Shopify company keys (see `carrier_keys`)
  $4 text[]       Shopify's tracking company names
"""

from dataclasses import dataclass

from core.report_classes import CLASS_SPECS, MismatchClass
from schema.classify.unsynced import LIVE_FULFILLMENT_STATUSES_SQL, unsynced_cte

__all__ = [
    "GATHERED",
    "ORDER_CLASSES",
    "ClassFragment",
    "candidate_orders_sql",
    "classified_orders_sql",
    "duplicated_sql",
    "gather_sql",
    "orphan_supplier_orders_sql",
    "shop_attention_sql",
    "unclaimed_sql",
    "unsynced_in_scope_sql",
    "unsynced_packages_sql",
]


def _key(expression: str) -> str:
    """SQL for a carrier's lookup key: upper-case ASCII letters and digits only."""
    return f"upper(regexp_replace({expression}, '[^0-9A-Za-z]+', '', 'g'))"


def _scoped_rows(table: str, alias: str, order_column: str = "order_id") -> str:
    """FROM-clause text: the rows of `table` belonging to the orders in `classify_scope`, read
    through the table's (shop_id, order) index once per order in scope (LATERAL, OFFSET 0 so
    the planner keeps it a lookup). The scope is a few percent of the orders on a full pass and
    a handful on an incremental one; a hash join would scan the whole table instead.
    """
    return (
        f"classify_scope sc CROSS JOIN LATERAL (SELECT * FROM {table} {alias}"
        f" WHERE {alias}.shop_id = sc.shop_id AND {alias}.{order_column} = sc.order_id"
        f" OFFSET 0) {alias}"
    )


# The rows of the orders in scope that more than one statement of a pass reads (the carriers,
# the unsynced packages and the classifier), copied once into temp tables by `gather_sql`:
# each is then read from the copy, not looked up again in the (much larger) table.
GATHERED = {
    "shopify_order": "classify_order",
    "supplier_order": "classify_supplier_order",
    "package": "classify_package",
    "shopify_fulfillment": "classify_fulfillment",
    "push": "classify_push",
}


# The columns copied: what the classifier and `unsynced_cte` read (a package is copied whole:
# the unsynced fragment returns most of it). Narrow copies keep wide columns (an order's
# addresses, a push's request) out of the temp tables.
_GATHERED_COLUMNS = {
    "shopify_order": "shop_id, order_id, created_at, financial_status, fulfillment_status,"
    " cancelled_at, closed_at, test",
    "supplier_order": "shop_id, supplier_order_id, shopify_order_id, status, updated_at,"
    " account_id",
    "package": "*",
    "shopify_fulfillment": "shop_id, order_id, fulfillment_id, status, tracking_company,"
    " tracking_numbers_norm, created_at",
    "push": "shop_id, order_id, push_id, status, package_ids, updated_at, last_error",
}


def gather_sql() -> list[str]:
    """Statements creating the `GATHERED` temp tables from `classify_scope` (index lookups)."""
    package_rows = (
        "classify_supplier_order s CROSS JOIN LATERAL (SELECT * FROM package p"
        " WHERE p.shop_id = s.shop_id AND p.supplier_order_id = s.supplier_order_id OFFSET 0) p"
    )
    sources = {
        "shopify_order": ("o", _scoped_rows("shopify_order", "o")),
        "supplier_order": ("s", _scoped_rows("supplier_order", "s", "shopify_order_id")),
        "package": ("p", package_rows),
        "shopify_fulfillment": ("f", _scoped_rows("shopify_fulfillment", "f")),
        "push": ("pu", _scoped_rows("push", "pu")),
    }
    statements = []
    for table, (alias, rows) in sources.items():
        copy = GATHERED[table]
        columns = ", ".join(
            f"{alias}.{column.strip()}" for column in _GATHERED_COLUMNS[table].split(",")
        )
        statements.append(
            f"CREATE TEMP TABLE {copy} ON COMMIT DROP AS SELECT {columns} FROM {rows}"
        )
        # row counts and the join keys' spread are what the planner needs from a copy
        statements.append(f"ANALYZE {copy} (shop_id)")
    return statements


_THRESHOLDS = """
th AS (
    SELECT t.shop_id,
           make_interval(secs => t.sync_grace) AS sync_grace,
           make_interval(secs => t.paid_not_placed_after) AS paid_not_placed_after,
           make_interval(secs => t.payment_pending_after) AS payment_pending_after,
           make_interval(secs => t.cancel_grace) AS cancel_grace,
           make_interval(secs => t.orphan_grace) AS orphan_grace,
           make_interval(secs => t.hold_grace) AS hold_grace,
           make_interval(secs => t.tracking_stalled_after) AS tracking_stalled_after
    FROM jsonb_to_recordset($1::jsonb) AS t(
        shop_id bigint, sync_grace float8, paid_not_placed_after float8,
        payment_pending_after float8, cancel_grace float8, orphan_grace float8,
        hold_grace float8, tracking_stalled_after float8)
)"""


def unsynced_in_scope_sql() -> str:
    """The shipped-but-not-synced packages of the orders in `classify_scope`, from the ONE
    shared fragment (`schema.classify.unsynced`, grace 0: the report's grace makes them
    pending). The pass stores them in the temp table `classify_unsynced` (analysed, so the
    planner knows its size) before classifying.
    """
    return f"""
SELECT u.shop_id, u.package_id, u.before_cutover
FROM ({unsynced_cte(grace="'0 seconds'", shop_id=None, sources=GATHERED)}) u
"""


def unsynced_packages_sql() -> str:
    """CTEs `sos` (supplier orders linked to an order in scope) and `lf` (live Shopify
    fulfilments in scope), each read once; `pk` (current packages of live supplier orders,
    per Shopify order), `uns` (those of them shipped but not synced: `classify_unsynced`, see
    `unsynced_in_scope_sql`) and `ftn` (tracking numbers on live Shopify fulfilments, per
    order, for mismatches, duplicates and carriers).
    """
    # `sos`, `lf` and `pk` are read once (MATERIALIZED) from the copies of the rows in scope
    # (`gather_sql`) and shared by the CTEs below and in `_aggregates`.
    sos_from = f"{GATHERED['supplier_order']} s"
    lf_from = f"{GATHERED['shopify_fulfillment']} f"
    pk_from = (
        f"{GATHERED['package']} p JOIN sos s"
        " ON s.shop_id = p.shop_id AND s.supplier_order_id = p.supplier_order_id"
    )
    return f"""
sos AS MATERIALIZED (
    SELECT s.shop_id, s.supplier_order_id, s.shopify_order_id, s.status, s.updated_at,
           s.account_id
    FROM {sos_from}
    WHERE s.shopify_order_id IS NOT NULL
),
lf AS MATERIALIZED (
    SELECT f.shop_id, f.order_id, f.tracking_numbers_norm, f.tracking_company, f.created_at
    FROM {lf_from}
    WHERE {LIVE_FULFILLMENT_STATUSES_SQL}
),
pk AS MATERIALIZED (
    SELECT s.shop_id, s.shopify_order_id AS order_id, s.status AS supplier_status,
           p.package_id, p.tracking_number, p.tracking_number_norm AS norm, p.carrier,
           coalesce(p.shipped_at, p.stored_at) AS shipped_at, p.last_event_at, p.tracking_status
    FROM {pk_from}
    WHERE p.superseded_at IS NULL AND s.status <> 'cancelled'
),
uns AS (
    SELECT shop_id, package_id, before_cutover FROM classify_unsynced
),
ftn AS (
    SELECT f.shop_id, f.order_id, t.norm, count(*) AS copies,
           min(f.tracking_company) AS company, max(f.created_at) AS created_at
    FROM lf f
    CROSS JOIN LATERAL unnest(f.tracking_numbers_norm) AS t(norm)
    GROUP BY 1, 2, 3
)"""


def _aggregates() -> str:
    # The fulfilment lines of the orders with several live fulfilments (`fta`): one index
    # lookup per such order (a few percent of those in scope), not one per order.
    fulfilled_lines = (
        "(SELECT shop_id, order_id FROM fta WHERE n_ful > 1) m"
        " CROSS JOIN LATERAL (SELECT * FROM shopify_fulfillment_line fl"
        " WHERE fl.shop_id = m.shop_id AND fl.order_id = m.order_id OFFSET 0) fl"
    )

    carrier_differs = (
        f"pk.carrier IS NOT NULL AND ftn.company IS NOT NULL AND pk.carrier <> ftn.company"
        f" AND NOT (coalesce($3::jsonb -> pk.carrier, jsonb_build_array({_key('pk.carrier')}))"
        f" ? {_key('ftn.company')})"
    )
    return f"""
so AS (
    SELECT s.shop_id, s.shopify_order_id AS order_id,
           count(*) AS n_so,
           -- a split order lives on in its parts (same Shopify order): only they count
           count(*) FILTER (WHERE s.status NOT IN ('cancelled', 'split')) AS n_active,
           count(*) FILTER (
               WHERE s.status NOT IN ('cancelled', 'split', 'shipped', 'delivered')
           ) AS n_unshipped,
           max(s.updated_at) FILTER (WHERE s.status = 'cancelled') AS supplier_cancelled_at,
           array_agg(DISTINCT s.account_id) AS account_ids
    FROM sos s
    GROUP BY 1, 2
),
pka AS (
    SELECT pk.shop_id, pk.order_id,
           count(*) AS n_pkg,
           count(*) FILTER (WHERE uns.package_id IS NOT NULL) AS n_unsynced,
           min(pk.shipped_at) FILTER (WHERE uns.package_id IS NOT NULL) AS unsynced_since,
           array_agg(pk.tracking_number ORDER BY pk.tracking_number)
               FILTER (WHERE uns.package_id IS NOT NULL)
               AS unsynced_numbers,
           count(*) FILTER (WHERE uns.before_cutover) AS n_before_cutover,
           array_agg(pk.tracking_number ORDER BY pk.tracking_number)
               FILTER (WHERE uns.before_cutover)
               AS before_cutover_numbers,
           max(pk.shipped_at) AS last_shipped_at,
           array_agg(pk.carrier || ' / ' || ftn.company ORDER BY pk.tracking_number, ftn.company)
               FILTER (WHERE {carrier_differs})
               AS carrier_mismatches,
           min(coalesce(pk.last_event_at, pk.shipped_at)) FILTER (
               WHERE pk.supplier_status <> 'delivered'
                 AND coalesce(lower(pk.tracking_status), '') NOT IN ('delivered', 'returned')
           ) AS last_movement_at,
           array_agg(DISTINCT pk.carrier) FILTER (WHERE pk.carrier IS NOT NULL) AS carriers
    FROM pk
    LEFT JOIN uns ON uns.shop_id = pk.shop_id AND uns.package_id = pk.package_id
    LEFT JOIN ftn ON ftn.shop_id = pk.shop_id AND ftn.order_id = pk.order_id
                 AND ftn.norm = pk.norm
    GROUP BY 1, 2
),
ftx AS (
    SELECT ftn.shop_id, ftn.order_id,
           array_agg(ftn.norm ORDER BY ftn.norm) FILTER (WHERE pn.norm IS NULL) AS foreign_numbers,
           array_agg(ftn.norm ORDER BY ftn.norm) FILTER (WHERE ftn.copies > 1)
               AS duplicate_numbers,
           max(ftn.created_at) FILTER (WHERE pn.norm IS NULL) AS foreign_since
    FROM ftn
    LEFT JOIN (SELECT DISTINCT shop_id, order_id, norm FROM pk) pn
           ON pn.shop_id = ftn.shop_id AND pn.order_id = ftn.order_id AND pn.norm = ftn.norm
    GROUP BY 1, 2
),
fta AS (
    SELECT f.shop_id, f.order_id,
           count(*) AS n_ful,
           min(f.created_at) AS first_ful_at,
           max(f.created_at) AS last_ful_at,
           array_agg(DISTINCT coalesce(f.tracking_company, '')) FILTER (
               WHERE cardinality(f.tracking_numbers_norm) > 0
                 AND NOT (coalesce(f.tracking_company, '') = ANY ($4::text[]))
           ) AS unknown_companies,
           array_agg(DISTINCT f.tracking_company) FILTER (WHERE f.tracking_company IS NOT NULL)
               AS companies
    FROM lf f
    GROUP BY 1, 2
),
ovf AS (
    -- Lines fulfilled beyond their quantity. Shopify refuses one fulfilment for more than a
    -- line's open quantity, so only lines in two or more live fulfilments (of orders with
    -- several) are looked up.
    SELECT q.shop_id, q.order_id, count(*) AS n_over
    FROM (
        SELECT fl.shop_id, fl.order_id, fl.line_item_id, sum(fl.quantity) AS fulfilled
        FROM {fulfilled_lines}
        JOIN classify_fulfillment f
          ON f.shop_id = fl.shop_id AND f.fulfillment_id = fl.fulfillment_id
         AND lower(f.status) NOT IN ('cancelled', 'error', 'failure')
        GROUP BY 1, 2, 3
        HAVING count(*) > 1
    ) q
    JOIN shopify_line_item li ON li.shop_id = q.shop_id AND li.line_item_id = q.line_item_id
    WHERE q.fulfilled > li.quantity
    GROUP BY 1, 2
),
foa AS (
    SELECT fo.shop_id, fo.order_id,
           count(*) AS n_fo,
           count(*) FILTER (
               WHERE lower(fo.status) IN ('open', 'in_progress', 'scheduled', 'on_hold')
           ) AS n_open_fo,
           count(*) FILTER (WHERE lower(fo.status) = 'on_hold') AS n_held,
           min(fo.updated_at) FILTER (WHERE lower(fo.status) = 'on_hold') AS held_since,
           jsonb_agg(jsonb_build_object('fulfillment_order_id', fo.fulfillment_order_id,
                                        'holds', fo.holds) ORDER BY fo.fulfillment_order_id)
               FILTER (WHERE lower(fo.status) = 'on_hold') AS holds
    FROM {_scoped_rows("shopify_fulfillment_order", "fo")}
    GROUP BY 1, 2
),
pua AS (
    SELECT pu.shop_id, pu.order_id,
           count(*) AS n_failed,
           max(pu.updated_at) AS failed_at,
           (array_agg(pu.last_error ORDER BY pu.updated_at DESC))[1] AS last_error,
           array_agg(pu.push_id ORDER BY pu.push_id) AS push_ids
    FROM classify_push pu
    WHERE pu.status = 'failed'
    GROUP BY 1, 2
)"""


_BASE = """
base AS (
    SELECT o.shop_id, o.order_id, o.created_at,
           lower(coalesce(o.financial_status, '')) AS fin,
           lower(coalesce(o.fulfillment_status, '')) AS ful_status,
           o.cancelled_at, o.closed_at, o.cancelled_at IS NOT NULL AS cancelled,
           th.sync_grace, th.paid_not_placed_after, th.payment_pending_after, th.cancel_grace,
           th.hold_grace, th.tracking_stalled_after,
           coalesce(so.n_so, 0) AS n_so, coalesce(so.n_active, 0) AS n_active,
           coalesce(so.n_unshipped, 0) AS n_unshipped, so.supplier_cancelled_at,
           coalesce(so.account_ids, '{}') AS account_ids,
           coalesce(pka.n_pkg, 0) AS n_pkg, coalesce(pka.n_unsynced, 0) AS n_unsynced,
           coalesce(pka.n_pkg, 0) - coalesce(pka.n_unsynced, 0) AS n_synced,
           pka.unsynced_since, pka.unsynced_numbers, pka.last_shipped_at,
           coalesce(pka.n_unsynced, 0) > 0
               AND coalesce(pka.n_before_cutover, 0) = coalesce(pka.n_unsynced, 0)
               AS all_before_cutover,
           pka.before_cutover_numbers,
           pka.carrier_mismatches, pka.last_movement_at,
           coalesce(pka.carriers, '{}') || coalesce(fta.companies, '{}') AS carriers,
           coalesce(cardinality(ftx.foreign_numbers), 0) > 0 AS has_foreign,
           ftx.foreign_numbers, ftx.duplicate_numbers, ftx.foreign_since,
           coalesce(fta.n_ful, 0) AS n_ful, fta.first_ful_at, fta.last_ful_at,
           fta.unknown_companies, coalesce(ovf.n_over, 0) AS n_over,
           coalesce(foa.n_fo, 0) AS n_fo, coalesce(foa.n_open_fo, 0) AS n_open_fo,
           coalesce(foa.n_held, 0) > 0 AS held, foa.held_since, foa.holds,
           coalesce(pua.n_failed, 0) > 0 AS push_failed, pua.failed_at, pua.last_error,
           pua.push_ids
    FROM {orders}
    JOIN th ON th.shop_id = o.shop_id
    LEFT JOIN so ON so.shop_id = o.shop_id AND so.order_id = o.order_id
    LEFT JOIN pka ON pka.shop_id = o.shop_id AND pka.order_id = o.order_id
    LEFT JOIN ftx ON ftx.shop_id = o.shop_id AND ftx.order_id = o.order_id
    LEFT JOIN fta ON fta.shop_id = o.shop_id AND fta.order_id = o.order_id
    LEFT JOIN ovf ON ovf.shop_id = o.shop_id AND ovf.order_id = o.order_id
    LEFT JOIN foa ON foa.shop_id = o.shop_id AND foa.order_id = o.order_id
    LEFT JOIN pua ON pua.shop_id = o.shop_id AND pua.order_id = o.order_id
    WHERE NOT o.test
),
flags AS MATERIALIZED (
    SELECT b.*,
           b.cancelled OR b.held OR b.push_failed AS sync_blocked,
           NOT b.cancelled AND b.ful_status NOT IN ('fulfilled', 'restocked')
               AND (b.n_open_fo > 0 OR b.n_fo = 0) AS open_in_shopify,
           b.fin IN ('pending', 'authorized', 'partially_paid', 'unpaid', 'expired') AS unpaid
    FROM base b
)"""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassFragment:
    """One order-level class: when it applies, since when, when it breaks, and its evidence."""

    mismatch_class: MismatchClass
    when: str
    since: str
    breaks_at: str
    detail: str


_C = MismatchClass
ORDER_CLASSES: tuple[ClassFragment, ...] = (
    ClassFragment(
        mismatch_class=_C.SHIPPED_NOT_SYNCED,
        when="f.n_unsynced > 0 AND f.n_synced = 0 AND NOT f.has_foreign AND NOT f.sync_blocked",
        since="f.unsynced_since",
        breaks_at="CASE WHEN f.all_before_cutover THEN f.unsynced_since"
        " ELSE f.unsynced_since + f.sync_grace END",
        detail="jsonb_build_object('unsynced_tracking', f.unsynced_numbers,"
        " 'before_cutover', f.all_before_cutover,"
        " 'before_cutover_tracking', f.before_cutover_numbers)",
    ),
    ClassFragment(
        mismatch_class=_C.TRACKING_MISMATCH,
        when="f.n_pkg > 0 AND NOT f.sync_blocked"
        " AND (f.has_foreign OR f.carrier_mismatches IS NOT NULL)",
        since="coalesce(f.unsynced_since, f.foreign_since, f.last_ful_at, f.created_at)",
        breaks_at="coalesce(f.unsynced_since, f.foreign_since, f.last_ful_at, f.created_at)"
        " + f.sync_grace",
        detail="jsonb_build_object('shopify_only', f.foreign_numbers, 'supplier_only',"
        " f.unsynced_numbers, 'carrier_mismatches', f.carrier_mismatches)",
    ),
    ClassFragment(
        mismatch_class=_C.PARTIALLY_SYNCED,
        when="NOT f.sync_blocked AND NOT f.has_foreign AND ("
        "(f.n_unsynced > 0 AND f.n_synced > 0)"
        " OR (f.n_pkg > 0 AND f.n_unsynced = 0 AND f.n_active > 0 AND f.n_unshipped = 0"
        " AND f.n_open_fo > 0))",
        since="coalesce(f.unsynced_since, f.last_shipped_at, f.created_at)",
        breaks_at="CASE WHEN f.all_before_cutover THEN f.unsynced_since"
        " ELSE coalesce(f.unsynced_since, f.last_shipped_at, f.created_at) + f.sync_grace END",
        detail="jsonb_build_object('synced_packages', f.n_synced, 'unsynced_tracking',"
        " f.unsynced_numbers, 'open_fulfillment_orders', f.n_open_fo,"
        " 'before_cutover', f.all_before_cutover,"
        " 'before_cutover_tracking', f.before_cutover_numbers)",
    ),
    ClassFragment(
        mismatch_class=_C.FULFILLED_WITHOUT_SUPPLIER_SHIPMENT,
        when="f.n_ful > 0 AND f.n_pkg = 0 AND NOT f.cancelled",
        since="coalesce(f.first_ful_at, f.created_at)",
        breaks_at="coalesce(f.first_ful_at, f.created_at)",
        detail="jsonb_build_object('fulfilments', f.n_ful, 'supplier_orders', f.n_so)",
    ),
    ClassFragment(
        mismatch_class=_C.PAID_NOT_PLACED,
        when="f.fin = 'paid' AND NOT f.cancelled AND f.closed_at IS NULL AND f.n_so = 0"
        " AND NOT f.held AND f.n_ful = 0 AND f.open_in_shopify",
        since="f.created_at",
        breaks_at="f.created_at + f.paid_not_placed_after",
        detail="jsonb_build_object('financial_status', f.fin)",
    ),
    ClassFragment(
        mismatch_class=_C.CANCELLED_AT_SUPPLIER_OPEN_IN_SHOPIFY,
        when="f.n_so > 0 AND f.n_active = 0 AND f.open_in_shopify",
        since="coalesce(f.supplier_cancelled_at, f.created_at)",
        breaks_at="coalesce(f.supplier_cancelled_at, f.created_at) + f.cancel_grace",
        detail="jsonb_build_object('cancelled_supplier_orders', f.n_so)",
    ),
    ClassFragment(
        mismatch_class=_C.CANCELLED_IN_SHOPIFY_ACTIVE_AT_SUPPLIER,
        when="f.cancelled AND f.n_active > 0",
        since="f.cancelled_at",
        breaks_at="f.cancelled_at + f.cancel_grace",
        detail="jsonb_build_object('active_supplier_orders', f.n_active, 'shipped_packages',"
        " f.n_pkg)",
    ),
    ClassFragment(
        mismatch_class=_C.DUPLICATE_FULFILMENT,
        when="NOT f.cancelled AND (f.duplicate_numbers IS NOT NULL OR f.n_over > 0)",
        since="coalesce(f.last_ful_at, f.created_at)",
        breaks_at="coalesce(f.last_ful_at, f.created_at)",
        detail="jsonb_build_object('duplicate_tracking', f.duplicate_numbers,"
        " 'over_fulfilled_lines', f.n_over)",
    ),
    ClassFragment(
        mismatch_class=_C.CARRIER_NOT_RECOGNISED,
        when="NOT f.cancelled AND f.unknown_companies IS NOT NULL",
        since="coalesce(f.last_ful_at, f.created_at)",
        breaks_at="coalesce(f.last_ful_at, f.created_at)",
        detail="jsonb_build_object('companies', f.unknown_companies)",
    ),
    ClassFragment(
        mismatch_class=_C.PUSH_FAILED,
        when="f.push_failed AND NOT f.cancelled AND (f.n_unsynced > 0 OR f.has_foreign)",
        since="coalesce(f.failed_at, f.created_at)",
        breaks_at="coalesce(f.failed_at, f.created_at)",
        detail="jsonb_build_object('message', f.last_error, 'push_ids', f.push_ids)",
    ),
    ClassFragment(
        mismatch_class=_C.HELD_IN_SHOPIFY,
        when="f.held AND NOT f.cancelled AND f.n_active > 0",
        since="coalesce(f.held_since, f.created_at)",
        breaks_at="CASE WHEN f.n_unsynced > 0 THEN coalesce(f.held_since, f.created_at)"
        " ELSE coalesce(f.held_since, f.created_at) + f.hold_grace END",
        detail="jsonb_build_object('holds', f.holds, 'unsynced_tracking', f.unsynced_numbers)",
    ),
    ClassFragment(
        mismatch_class=_C.PAYMENT_PENDING,
        when="f.unpaid AND NOT f.cancelled",
        since="f.created_at",
        breaks_at="CASE WHEN f.n_active > 0 THEN f.created_at"
        " ELSE f.created_at + f.payment_pending_after END",
        detail="jsonb_build_object('financial_status', f.fin, 'supplier_order_placed',"
        " f.n_active > 0)",
    ),
    ClassFragment(
        mismatch_class=_C.ARCHIVED_UNFULFILLED,
        when="f.closed_at IS NOT NULL AND NOT f.cancelled"
        " AND (f.n_open_fo > 0 OR (f.n_fo = 0 AND f.ful_status NOT IN ('fulfilled', 'restocked')))",
        since="f.closed_at",
        breaks_at="f.closed_at",
        detail="jsonb_build_object('closed_at', f.closed_at, 'fulfillment_status', f.ful_status)",
    ),
    ClassFragment(
        mismatch_class=_C.TRACKING_STALLED,
        when="NOT f.cancelled AND f.last_movement_at < $2::timestamptz - f.tracking_stalled_after",
        since="f.last_movement_at",
        breaks_at="f.last_movement_at + f.tracking_stalled_after",
        detail="jsonb_build_object('last_movement_at', f.last_movement_at)",
    ),
)

_COLUMNS = (
    "shop_id, subject_kind, subject_key, order_id, supplier_order_id, class, base_priority,"
    " since, breaks_at, detail, account_ids, carriers"
)


def classified_orders_sql() -> str:
    """SELECT of every order-level class row (columns `_COLUMNS`) for the orders in scope.

    `flags` is computed once (MATERIALIZED) and each class is one branch of a UNION ALL that
    filters it by the class's predicate, so a class's evidence is built only for its hits.
    """
    orders = f"{GATHERED['shopify_order']} o"
    branches = "\nUNION ALL\n".join(
        f"""SELECT f.shop_id, 'order' AS subject_kind, f.order_id AS subject_key, f.order_id,
       NULL::bigint AS supplier_order_id, '{fragment.mismatch_class.value}' AS class,
       {CLASS_SPECS[fragment.mismatch_class].base_priority} AS base_priority,
       {fragment.since} AS since, {fragment.breaks_at} AS breaks_at,
       {fragment.detail} AS detail, f.account_ids, f.carriers
FROM flags f
WHERE {fragment.when}"""
        for fragment in ORDER_CLASSES
    )
    return f"""
WITH {_THRESHOLDS},
{unsynced_packages_sql()},
{_aggregates()},
{_BASE.replace("{orders}", orders)}
{branches}
"""


def orphan_supplier_orders_sql() -> str:
    """Supplier orders in `classify_scope_subjects` that no Shopify order claims (the
    supplier_order subject)."""
    spec = CLASS_SPECS[_C.SUPPLIER_ORDER_WITHOUT_SHOPIFY_ORDER]
    return f"""
WITH {_THRESHOLDS}
SELECT s.shop_id, 'supplier_order' AS subject_kind, s.supplier_order_id AS subject_key,
       NULL::bigint AS order_id, s.supplier_order_id,
       '{_C.SUPPLIER_ORDER_WITHOUT_SHOPIFY_ORDER.value}' AS class,
       {spec.base_priority} AS base_priority, s.stored_at AS since,
       s.stored_at + th.orphan_grace AS breaks_at,
       jsonb_build_object('external_id', s.external_id, 'reference', s.reference,
                          'status', s.status, 'shopify_order_id', s.shopify_order_id) AS detail,
       ARRAY[s.account_id] AS account_ids,
       coalesce((SELECT array_agg(DISTINCT p.carrier) FROM package p
                 WHERE p.shop_id = s.shop_id AND p.supplier_order_id = s.supplier_order_id
                   AND p.carrier IS NOT NULL), '{{}}') AS carriers
FROM supplier_order s
JOIN classify_scope_subjects ss ON ss.shop_id = s.shop_id
 AND ss.subject_kind = 'supplier_order' AND ss.subject_key = s.supplier_order_id
JOIN th ON th.shop_id = s.shop_id
WHERE s.status NOT IN ('cancelled', 'split')
  AND (s.shopify_order_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM shopify_order o
        WHERE o.shop_id = s.shop_id AND o.order_id = s.shopify_order_id))
"""


def shop_attention_sql() -> str:
    """Shops whose connection needs a person (credentials rejected, subscriptions missing)."""
    spec = CLASS_SPECS[_C.SHOP_NEEDS_ATTENTION]
    return f"""
WITH {_THRESHOLDS}
SELECT s.shop_id, 'shop' AS subject_kind, s.shop_id AS subject_key, NULL::bigint AS order_id,
       NULL::bigint AS supplier_order_id, '{_C.SHOP_NEEDS_ATTENTION.value}' AS class,
       {spec.base_priority} AS base_priority, $2::timestamptz AS since,
       $2::timestamptz AS breaks_at,
       jsonb_build_object('status', s.status, 'reason', s.attention_reason) AS detail,
       '{{}}'::bigint[] AS account_ids, '{{}}'::text[] AS carriers
FROM shop s JOIN th ON th.shop_id = s.shop_id
WHERE s.status = 'needs_attention'
"""


def unclaimed_sql() -> str:
    """(shop_id, order_id, orphan): orders no supplier order claims (orphan false) and the
    references of supplier orders that no stored order matches (orphan true; order_id NULL
    for supplier orders without a reference), for the screen (`candidate_orders_sql`).

    Only the keys are needed, and both sides have a (shop_id, order) index: the planner can
    merge-join the two indexes read index-only (no heap, no hash of a million rows), which
    costs a fraction of a hash full join of the tables. Run with merge joins enabled.
    Parameters: $1, $2 bigint, the batch's shop ids (inclusive bounds, `ShopBatch`).
    """
    return """
SELECT coalesce(o.shop_id, s.shop_id) AS shop_id, coalesce(o.order_id, s.shopify_order_id)
       AS order_id, o.order_id IS NULL AS orphan
FROM (SELECT o.shop_id, o.order_id FROM shopify_order o WHERE o.shop_id BETWEEN $1 AND $2) o
FULL JOIN (SELECT s.shop_id, s.shopify_order_id FROM supplier_order s
           WHERE s.shop_id BETWEEN $1 AND $2) s
       ON s.shop_id = o.shop_id AND s.shopify_order_id = o.order_id
WHERE o.order_id IS NULL OR s.shop_id IS NULL
"""


def duplicated_sql() -> str:
    """(shop_id, order_id): orders with two live fulfilments carrying the same tracking numbers,
    for the screen (`candidate_orders_sql`, temp table `classify_duplicated`).

    The fulfilment index `ix_shopify_fulfillment_by_order_numbers` holds (shop, order, numbers)
    in order with the status beside them, so this is one index-only scan and a streaming group
    count (run with hash aggregation off: a hash over a million groups costs twice as much, and
    a self-join of the table three times). Whole arrays are compared: a fulfilment with one
    number equals another on its first number exactly when their arrays are equal, and one with
    no number or several is a candidate by itself (`candidate_orders_sql`), so nothing is missed.
    The `success` short-cut spares `lower()` on most rows. Parameters: $1, $2 bigint, the
    batch's shop ids (inclusive bounds, `ShopBatch`).
    """
    return f"""
SELECT f.shop_id, f.order_id
FROM shopify_fulfillment f
WHERE f.shop_id BETWEEN $1 AND $2
  AND (f.status IN ('success', 'SUCCESS') OR {LIVE_FULFILLMENT_STATUSES_SQL})
GROUP BY f.shop_id, f.order_id, f.tracking_numbers_norm
HAVING count(*) > 1
"""


def candidate_orders_sql() -> str:
    """The full pass's screen: every order any class could apply to, and every supplier order
    that may be an orphan, in one statement over each table (full pass).

    Rows (shop_id, order_id, orphan_id): an order candidate has orphan_id NULL; an orphan
    candidate (a live supplier order no stored Shopify order claims) has its supplier order id
    there. Each branch is a superset of the orders one or more classes can match; the detailed
    classifier then runs on these candidates only (as `classify_scope`), and the orphan class on
    the orphan candidates. Parameters: $1 timestamptz (now minus the smallest stalled
    threshold), $2 text[] (Shopify's companies), $3 and $4 bigint (the batch's shop ids,
    inclusive bounds: a pass screens each batch of shops in its own transaction, see
    `schema.classify.batches`; `classify_unclaimed` holds the batch's rows only).

    It is built for a whole-table pass: the pairing below merges two indexes read in the same
    order (no hash of a million rows, no sort), no hash aggregation over whole tables (a hash
    aggregate over a million groups costs several hash joins), each table read once or twice,
    and cheap exact short-cuts before `lower()` for the common status values. A package's
    Shopify order is its own column (`package.shopify_order_id`, kept by triggers), so no
    supplier order is read here: packages of cancelled or delivered supplier orders take part
    too, which can only add candidates. The branches, by the classes they stand for:
    - packages and live fulfilments that do not pair up on (order, numbers: a package's one
      number against a fulfilment's array), or pair with different carriers
      (shipped_not_synced, tracking_mismatch, partially_synced,
      fulfilled_without_supplier_shipment, push_failed); a fulfilment with no number, several
      numbers or an unknown company is a candidate by itself (carrier_not_recognised, and the
      classifier looks closer at the rest); `ix_package_by_order_numbers` and
      `ix_shopify_fulfillment_by_order_numbers` hold every column this reads;
    - packages without movement since the smallest stalled threshold (tracking_stalled);
    - from `classify_duplicated` (`duplicated_sql`): two live fulfilments of one order with the
      same numbers (duplicate_fulfilment; an over-fulfilled line with distinct numbers is found
      when its order changes, by the incremental pass, or when another branch names the order);
    - open, scheduled or held fulfillment orders (partially_synced, held_in_shopify,
      archived_unfulfilled, cancelled_at_supplier_open_in_shopify);
    - orders cancelled, not paid, or archived unfulfilled (cancelled_in_shopify_active_at_supplier,
      payment_pending, archived_unfulfilled), and cancelled supplier orders;
    - from `classify_unclaimed` (`unclaimed_sql`): orders without a supplier order
      (paid_not_placed), and the supplier orders whose reference no stored order matches
      (orphans; the orphan class then checks their status);
    - every order with an open mismatch row (what the screen cannot see stays classified).
    A parked push needs no branch: push_failed also needs an unsynced package or a foreign
    number, which the pairing finds.
    """
    return f"""
-- Packages and live fulfilments paired on (order, numbers): a merge full join of two indexes
-- read index-only in the same order (run with hash joins off). The rows stay whole table rows
-- (`SELECT *`) and the flags are computed above the join: an expression computed below a full
-- join would hide the index order from the planner.
SELECT coalesce(p.shop_id, f.shop_id) AS shop_id,
       coalesce(p.shopify_order_id, f.order_id) AS order_id, NULL::bigint AS orphan_id
FROM (SELECT * FROM package p
      WHERE p.shop_id BETWEEN $3 AND $4 AND p.shopify_order_id IS NOT NULL
        AND p.superseded_at IS NULL) p
FULL JOIN (SELECT * FROM shopify_fulfillment f
           WHERE f.shop_id BETWEEN $3 AND $4
             AND (f.status IN ('success', 'SUCCESS') OR {LIVE_FULFILLMENT_STATUSES_SQL})) f
       ON f.shop_id = p.shop_id AND f.order_id = p.shopify_order_id
      AND f.tracking_numbers_norm = ARRAY[p.tracking_number_norm::text]
WHERE p.shop_id IS NULL OR f.shop_id IS NULL
   OR cardinality(f.tracking_numbers_norm) <> 1
   OR NOT (coalesce(f.tracking_company, '') = ANY ($2::text[]))
   OR p.carrier IS DISTINCT FROM f.tracking_company
UNION ALL
SELECT p.shop_id, p.shopify_order_id, NULL FROM package p
WHERE p.shop_id BETWEEN $3 AND $4 AND p.shopify_order_id IS NOT NULL
  AND p.superseded_at IS NULL
  AND coalesce(p.last_event_at, p.shipped_at, p.stored_at) < $1::timestamptz
  AND coalesce(lower(p.tracking_status), '') NOT IN ('delivered', 'returned')
UNION ALL
SELECT d.shop_id, d.order_id, NULL FROM classify_duplicated d
UNION ALL
SELECT fo.shop_id, fo.order_id, NULL FROM shopify_fulfillment_order fo
WHERE fo.shop_id BETWEEN $3 AND $4 AND fo.status NOT IN ('closed', 'CLOSED')
  AND lower(fo.status) IN ('open', 'in_progress', 'scheduled', 'on_hold')
UNION ALL
SELECT o.shop_id, o.order_id, NULL FROM shopify_order o
WHERE o.shop_id BETWEEN $3 AND $4
  AND (o.cancelled_at IS NOT NULL
       OR (o.financial_status IS DISTINCT FROM 'paid'
           AND lower(coalesce(o.financial_status, '')) <> 'paid')
       OR (o.closed_at IS NOT NULL
           AND lower(coalesce(o.fulfillment_status, '')) NOT IN ('fulfilled', 'restocked')))
UNION ALL
SELECT s.shop_id, s.shopify_order_id, NULL FROM supplier_order s
WHERE s.shop_id BETWEEN $3 AND $4 AND s.status = 'cancelled' AND s.shopify_order_id IS NOT NULL
UNION ALL
SELECT u.shop_id, u.order_id, NULL FROM classify_unclaimed u WHERE NOT u.orphan
UNION ALL
SELECT s.shop_id, s.shopify_order_id, s.supplier_order_id
FROM classify_unclaimed u
JOIN supplier_order s ON s.shop_id = u.shop_id AND s.shopify_order_id = u.order_id
WHERE u.orphan
UNION ALL
SELECT s.shop_id, NULL, s.supplier_order_id
FROM (SELECT DISTINCT shop_id FROM classify_unclaimed WHERE orphan AND order_id IS NULL) u
JOIN supplier_order s ON s.shop_id = u.shop_id AND s.shopify_order_id IS NULL
UNION ALL
SELECT m.shop_id, m.order_id, NULL FROM mismatch m
WHERE m.shop_id BETWEEN $3 AND $4 AND m.resolved_at IS NULL AND m.subject_kind = 'order'
"""
