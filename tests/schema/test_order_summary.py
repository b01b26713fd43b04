"""The order summary the full pass screens on stays true, and the screen misses nothing.

The summary (migration 0006) is kept by triggers in the writing transaction. These tests write
to both sides in random mixes and check that (1) the maintained rows equal a recomputation
from scratch, and (2) a full pass (screened through the summary) finds exactly what the
classifier finds when it is run on every order unscreened (an incremental pass with every
order marked dirty).
"""

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import hypothesis
from hypothesis import strategies as st

from core.report_classes import Thresholds
from schema.classify.passes import run_full_pass, run_incremental_pass
from schema.db import Connection, asyncpg_dsn, init_connection
from service.runtime import Runtime
from tests.seed import (
    NOW,
    seed_account,
    seed_order,
    seed_package,
    seed_planted_store,
    seed_shop,
    seed_supplier_order,
)

_ORDERS = list(range(1, 19))
_NUMBERS = ["YT1", "YT2", "YT3", "YT4", "YT4B", "YT9", "WRONG3", "X5", "NEW1", "NEW2"]
_COMPANIES = ["YunExpress", "Speedy Local", "4PX", None]

# One write each: (kind, order, a number, a company, a small integer). Every kind is one SQL
# statement on one of the tables the summary reads, so the triggers see every shape of change.
_WRITE = st.tuples(
    st.sampled_from(
        [
            "add_package",
            "supersede_package",
            "move_package",
            "stall_package",
            "drop_package",
            "add_fulfilment",
            "cancel_fulfilment",
            "drop_fulfilment",
            "over_fulfil",
            "hold",
            "close_fulfillment_orders",
            "cancel_order",
            "unpay_order",
            "archive_order",
            "add_supplier_order",
            "cancel_supplier_order",
            "relink_supplier_order",
            "fail_push",
            "settle_pushes",
        ]
    ),
    st.sampled_from(_ORDERS),
    st.sampled_from(_NUMBERS),
    st.sampled_from(_COMPANIES),
    st.integers(min_value=0, max_value=3),
)

_STATEMENTS: dict[str, str] = {
    "add_package": """
        INSERT INTO package (shop_id, supplier_order_id, tracking_number, tracking_number_norm,
                             carrier, shipped_at, stored_at)
        SELECT s.shop_id, s.supplier_order_id, $3, $3, $4, $6, $6 FROM supplier_order s
        WHERE s.shop_id = $1 AND s.shopify_order_id = $2
        ON CONFLICT DO NOTHING""",
    "supersede_package": """
        UPDATE package p SET superseded_at = $6 FROM supplier_order s
        WHERE s.shop_id = $1 AND s.shopify_order_id = $2 AND p.shop_id = s.shop_id
          AND p.supplier_order_id = s.supplier_order_id AND p.tracking_number_norm = $3""",
    "move_package": """
        UPDATE package p SET last_event_at = $6, tracking_status = 'in_transit'
        FROM supplier_order s
        WHERE s.shop_id = $1 AND s.shopify_order_id = $2 AND p.shop_id = s.shop_id
          AND p.supplier_order_id = s.supplier_order_id""",
    "stall_package": """
        UPDATE package p SET last_event_at = $6 - interval '9 days', tracking_status = NULL
        FROM supplier_order s
        WHERE s.shop_id = $1 AND s.shopify_order_id = $2 AND p.shop_id = s.shop_id
          AND p.supplier_order_id = s.supplier_order_id""",
    "drop_package": """
        DELETE FROM package p USING supplier_order s
        WHERE s.shop_id = $1 AND s.shopify_order_id = $2 AND p.shop_id = s.shop_id
          AND p.supplier_order_id = s.supplier_order_id AND p.tracking_number_norm = $3""",
    "add_fulfilment": """
        INSERT INTO shopify_fulfillment (shop_id, fulfillment_id, order_id, status,
                                         tracking_company, tracking_numbers,
                                         tracking_numbers_norm, created_at, updated_at)
        SELECT $1, $2 * 1000 + coalesce(max(f.fulfillment_id) % 1000, 0) + 1, $2, 'success', $4,
               ARRAY(SELECT $3::text FROM generate_series(1, $5 % 3)),
               ARRAY(SELECT $3::text FROM generate_series(1, $5 % 3)), $6, $6
        FROM shopify_order o
        LEFT JOIN shopify_fulfillment f ON f.shop_id = o.shop_id AND f.order_id = o.order_id
        WHERE o.shop_id = $1 AND o.order_id = $2
        GROUP BY o.order_id""",
    "cancel_fulfilment": """
        UPDATE shopify_fulfillment SET status = 'cancelled'
        WHERE shop_id = $1 AND order_id = $2 AND $3 = ANY (tracking_numbers_norm)""",
    "drop_fulfilment": """
        DELETE FROM shopify_fulfillment
        WHERE shop_id = $1 AND order_id = $2 AND ($5 = 0 OR $3 = ANY (tracking_numbers_norm))""",
    "over_fulfil": """
        INSERT INTO shopify_fulfillment_line (shop_id, fulfillment_id, line_item_id, order_id,
                                              quantity)
        SELECT f.shop_id, f.fulfillment_id, f.order_id * 100, f.order_id, 1 + $5
        FROM shopify_fulfillment f WHERE f.shop_id = $1 AND f.order_id = $2
        ON CONFLICT DO NOTHING""",
    "hold": """
        UPDATE shopify_fulfillment_order SET status = CASE WHEN $5 % 2 = 0 THEN 'on_hold'
                                                           ELSE 'open' END
        WHERE shop_id = $1 AND order_id = $2""",
    "close_fulfillment_orders": """
        UPDATE shopify_fulfillment_order SET status = 'closed'
        WHERE shop_id = $1 AND order_id = $2""",
    "cancel_order": """
        UPDATE shopify_order SET cancelled_at = CASE WHEN $5 > 1 THEN NULL ELSE $6 END
        WHERE shop_id = $1 AND order_id = $2""",
    "unpay_order": """
        UPDATE shopify_order SET financial_status = CASE WHEN $5 > 1 THEN 'paid'
                                                         ELSE 'pending' END
        WHERE shop_id = $1 AND order_id = $2""",
    "archive_order": """
        UPDATE shopify_order SET closed_at = CASE WHEN $5 > 1 THEN NULL ELSE $6 END,
                                 test = ($5 = 3)
        WHERE shop_id = $1 AND order_id = $2""",
    "add_supplier_order": """
        INSERT INTO supplier_order (shop_id, account_id, external_id, external_id_norm, reference,
                                    shopify_order_id, status, placed_at, updated_at, stored_at)
        SELECT $1, min(account_id), 'R' || $2 || '-' || $3, 'R' || $2 || '-' || $3, '#' || $2, $2,
               (ARRAY['placed', 'shipped', 'delivered', 'split'])[1 + $5], $6, $6, $6
        FROM supplier_account
        ON CONFLICT DO NOTHING""",
    "cancel_supplier_order": """
        UPDATE supplier_order SET status = 'cancelled', updated_at = $6
        WHERE shop_id = $1 AND shopify_order_id = $2""",
    "relink_supplier_order": """
        UPDATE supplier_order SET shopify_order_id = CASE WHEN $5 = 0 THEN NULL
                                                          ELSE $2 % 17 + $5 END
        WHERE shop_id = $1 AND supplier_order_id = (
            SELECT min(supplier_order_id) FROM supplier_order
            WHERE shop_id = $1 AND shopify_order_id = $2)""",
    "fail_push": """
        INSERT INTO push (shop_id, order_id, package_ids, idempotency_key, kind, status,
                          attempts, last_error, created_at, updated_at)
        VALUES ($1, $2, '{}', 'h-' || $2 || '-' || $3 || '-' || $5, 'create', 'failed', 1,
                'refused', $6, $6)
        ON CONFLICT DO NOTHING""",
    "settle_pushes": """
        UPDATE push SET status = 'succeeded', completed_at = $6
        WHERE shop_id = $1 AND order_id = $2 AND status = 'failed'""",
}

# Every statement takes the same six parameters; this fixes their types whichever it uses.
_TYPED = "WITH _ AS (SELECT $1::bigint, $2::bigint, $3::text, $4::text, $5::int, $6::timestamptz)"

_COLUMNS = (
    "shop_id, order_id, test, order_attention, supplier_orders, supplier_orders_cancelled,"
    " packages_unmatched, numbers_unmatched, carriers_differ, fulfilments_odd,"
    " numbers_duplicated, lines_over_fulfilled, companies, fulfillment_orders_open,"
    " pushes_failed, stalled_from"
)


async def _summary(connection: Connection) -> list[tuple[Any, ...]]:
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM order_summary ORDER BY shop_id, order_id"
    )
    return [
        tuple(sorted(value, key=str) if isinstance(value, list) else value for value in row)
        for row in rows
    ]


async def _recomputed(connection: Connection) -> list[tuple[Any, ...]]:
    """The summary rebuilt from scratch (as migration 0006 backfills it), then rolled back."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute("DELETE FROM order_summary")
        await connection.execute(
            "SELECT order_summary_refresh(array_agg(shop_id), array_agg(order_id))"
            " FROM shopify_order"
        )
        return await _summary(connection)
    finally:
        await transaction.rollback()


def _evidence(detail: dict[str, Any]) -> str:
    """A row's detail with its arrays sorted: array_agg's order depends on the plan."""
    return str(
        sorted(
            (key, sorted(map(str, value)) if isinstance(value, list) else value)
            for key, value in detail.items()
        )
    )


async def _open_rows(connection: Connection) -> set[tuple[Any, ...]]:
    rows = await connection.fetch(
        "SELECT subject_kind, subject_key, class, outcome, since, breaks_at, detail"
        " FROM mismatch WHERE resolved_at IS NULL"
    )
    return {
        (
            r["subject_kind"],
            r["subject_key"],
            r["class"],
            r["outcome"],
            r["since"],
            r["breaks_at"],
            _evidence(r["detail"]),
        )
        for r in rows
    }


async def _empty(connection: Connection) -> None:
    tables = await connection.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'alembic_version'"
    )
    names = ", ".join(f'"{row["tablename"]}"' for row in tables)
    await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


async def _writes_then_check(url: str, writes: list[tuple[str, int, str, str | None, int]]) -> None:
    raw: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(asyncpg_dsn(url))
    await init_connection(raw)
    connection: Connection = raw
    try:
        await _empty(connection)
        shop, _ = await seed_planted_store(connection)
        # a line item to over-fulfil on every order
        await connection.execute(
            "INSERT INTO shopify_line_item (shop_id, line_item_id, order_id, quantity,"
            " fulfillable_quantity) SELECT shop_id, order_id * 100, order_id, 1, 1"
            " FROM shopify_order"
        )
        for kind, order_id, number, company, small in writes:
            await connection.execute(
                _TYPED + _STATEMENTS[kind],
                shop,
                order_id,
                number,
                company,
                small,
                NOW - timedelta(hours=3),
            )
        assert await _summary(connection) == await _recomputed(connection)

        thresholds = Thresholds()
        await run_full_pass(connection, now=NOW, thresholds=thresholds)
        screened = await _open_rows(connection)
        # the classifier on every order, unscreened: mark every order dirty
        await connection.execute(
            "INSERT INTO classify_dirty (shop_id, subject_kind, subject_key)"
            " SELECT shop_id, 'order', order_id FROM shopify_order"
            " UNION SELECT shop_id, 'supplier_order', supplier_order_id FROM supplier_order"
        )
        unscreened = await run_incremental_pass(connection, now=NOW, thresholds=thresholds)
        assert (unscreened.opened, unscreened.resolved) == (0, 0)
        assert await _open_rows(connection) == screened
    finally:
        await connection.close()


@hypothesis.settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(writes=st.lists(_WRITE, min_size=1, max_size=12))
# Orders in sync that one write breaks in a way only one screen test sees:
@hypothesis.example(writes=[("add_fulfilment", 1, "NEW1", "YunExpress", 1)])  # foreign number
@hypothesis.example(  # same number, another carrier
    writes=[("drop_fulfilment", 1, "YT1", None, 1), ("add_fulfilment", 1, "YT1", "4PX", 1)]
)
@hypothesis.example(writes=[("add_fulfilment", 1, "YT1", "YunExpress", 1)])  # on two fulfilments
@hypothesis.example(writes=[("over_fulfil", 1, "YT1", None, 1)])  # beyond the line's quantity
@hypothesis.example(writes=[("stall_package", 1, "YT1", None, 0)])  # stalled
@hypothesis.example(writes=[("add_fulfilment", 1, "YT1", "Speedy Local", 1)])  # unknown company
@hypothesis.example(writes=[("add_fulfilment", 10, "YT10", "Speedy Local", 0)])  # no number
def test_summary_stays_true_and_the_screen_misses_nothing(
    runtime: Runtime, writes: list[tuple[str, int, str, str | None, int]]
) -> None:
    asyncio.run(_writes_then_check(runtime.database_url, writes))


async def test_every_planted_class_is_a_candidate_after_a_fresh_backfill(
    pool: asyncpg.Pool,
) -> None:
    """The migration's backfill (one refresh of every order) gives the same full pass."""
    async with pool.acquire() as connection:
        await seed_planted_store(connection)
        maintained = await _summary(connection)
        await connection.execute("DELETE FROM order_summary")
        await connection.execute(
            "SELECT order_summary_refresh(array_agg(shop_id), array_agg(order_id))"
            " FROM shopify_order"
        )
        assert await _summary(connection) == maintained
        assert len(maintained) == await connection.fetchval("SELECT count(*) FROM shopify_order")


async def test_a_stall_that_becomes_due_without_any_write_is_found_by_the_full_pass(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop = await seed_shop(connection, domain="stall.myshopify.com")
        account = await seed_account(connection, name="cj-stall")
        await seed_order(connection, shop_id=shop, order_id=1)
        so = await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id="SO1",
            shopify_order_id=1,
            status="shipped",
        )
        await seed_package(
            connection,
            shop_id=shop,
            supplier_order_id=so,
            tracking="ST1",
            shipped_at=NOW - timedelta(days=6),
            tracking_status="in_transit",
        )
        await connection.execute(
            "INSERT INTO shopify_fulfillment (shop_id, fulfillment_id, order_id, status,"
            " tracking_company, tracking_numbers, tracking_numbers_norm, created_at, updated_at)"
            " VALUES ($1, 10, 1, 'success', 'YunExpress', '{ST1}', '{ST1}', $2, $2)",
            shop,
            NOW - timedelta(days=6),
        )
        await connection.execute("UPDATE shopify_fulfillment_order SET status = 'closed'")
        first = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        later = await run_full_pass(
            connection, now=NOW + timedelta(days=2), thresholds=Thresholds()
        )
        classes = await connection.fetch(
            "SELECT class FROM mismatch WHERE shop_id = $1 AND resolved_at IS NULL", shop
        )
    assert first.found == 0
    assert later.opened == 1
    assert [row["class"] for row in classes] == ["tracking_stalled"]


async def test_two_writers_of_one_order_leave_the_summary_true(pool: asyncpg.Pool) -> None:
    """A package and the fulfilment carrying its number, written by two transactions at once:
    the second waits on the first's summary row and recomputes from what it committed."""
    async with pool.acquire() as first, pool.acquire() as second:
        shop = await seed_shop(first, domain="race.myshopify.com")
        account = await seed_account(first, name="cj-race")
        await seed_order(first, shop_id=shop, order_id=1)
        so = await seed_supplier_order(
            first,
            shop_id=shop,
            account_id=account,
            external_id="SO1",
            shopify_order_id=1,
            status="shipped",
        )
        package_tx = first.transaction()
        await package_tx.start()
        await seed_package(first, shop_id=shop, supplier_order_id=so, tracking="RACE1")

        async def fulfil() -> None:
            async with second.transaction():
                await second.execute(
                    "INSERT INTO shopify_fulfillment (shop_id, fulfillment_id, order_id, status,"
                    " tracking_company, tracking_numbers, tracking_numbers_norm, created_at,"
                    " updated_at) VALUES ($1, 10, 1, 'success', 'YunExpress', '{RACE1}',"
                    " '{RACE1}', now(), now())",
                    shop,
                )

        fulfilling = asyncio.create_task(fulfil())
        await asyncio.sleep(0.3)
        assert not fulfilling.done()  # waiting on the order's summary row
        await package_tx.commit()
        await fulfilling
        row = await first.fetchrow(
            "SELECT packages_unmatched, numbers_unmatched FROM order_summary"
            " WHERE shop_id = $1 AND order_id = 1",
            shop,
        )
    assert row is not None
    assert (row["packages_unmatched"], row["numbers_unmatched"]) == (0, 0)
