"""The full pass: its screen misses nothing the classifier finds, it writes only rows whose class
data changed, and readers derive "last seen" and `new`/`persisting` from the latest full run."""

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from core.report_classes import Thresholds
from schema.classify import passes
from schema.classify.passes import run_full_pass, run_incremental_pass
from schema.db import Connection
from schema.queries.report import SEEN_SQL
from tests.seed import (
    NOW,
    BulkShape,
    seed_account,
    seed_bulk,
    seed_fulfillment,
    seed_fulfillment_order,
    seed_order,
    seed_package,
    seed_planted_store,
    seed_shop,
    seed_supplier_order,
)

# Every order and every supplier order, with the screen's columns and parameters.
_EVERYTHING = """
SELECT shop_id, order_id, NULL::bigint AS orphan_id FROM shopify_order
WHERE $1::timestamptz IS NOT NULL AND $2::text[] IS NOT NULL AND shop_id BETWEEN $3 AND $4
UNION ALL
SELECT shop_id, shopify_order_id, supplier_order_id FROM supplier_order
WHERE shop_id BETWEEN $3 AND $4
"""

_OPEN_ROWS = f"""
SELECT m.subject_kind, m.subject_key, m.class, m.outcome, m.since, m.breaks_at, m.detail,
       m.account_ids, m.carriers, m.xmin::text AS version,
       {SEEN_SQL["lifecycle"]} AS lifecycle, {SEEN_SQL["last_seen_at"]} AS last_seen_at,
       {SEEN_SQL["last_run_id"]} AS last_run_id, m.first_run_id
FROM mismatch m LEFT JOIN ({SEEN_SQL["last_full_runs"]}) lr ON lr.shop_id = m.shop_id
WHERE m.resolved_at IS NULL
"""


async def _open_rows(connection: Connection) -> dict[tuple[str, int, str], dict[str, Any]]:
    return {
        (row["subject_kind"], row["subject_key"], row["class"]): dict(row)
        for row in await connection.fetch(_OPEN_ROWS)
    }


def _class_data(rows: dict[tuple[str, int, str], dict[str, Any]]) -> dict[Any, tuple[Any, ...]]:
    columns = ("outcome", "since", "breaks_at", "detail", "account_ids", "carriers")
    return {key: tuple(row[column] for column in columns) for key, row in rows.items()}


async def _seed_edge_cases(connection: Connection) -> None:
    """Orders the screen must still see: a fulfilment with two numbers, one without any, a
    fulfilment pairing with a cancelled supplier order's package, the supplier's one number
    fulfilled twice, a supplier order pointing at an order never stored, one without a
    reference; and one it may flag needlessly (delivered at the supplier, not on the package's
    tracking)."""
    shop = await seed_shop(connection, domain="edges.myshopify.com")
    account = await seed_account(connection, name="cj-edges")
    for order_id in range(1, 7):
        await seed_order(connection, shop_id=shop, order_id=order_id)
        await seed_fulfillment_order(
            connection,
            shop_id=shop,
            order_id=order_id,
            fulfillment_order_id=order_id * 10,
            status="closed",
        )
    # 1, 2, 5, 6: one shipped supplier order with one package each
    for order_id in (1, 2, 5, 6):
        so = await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id=f"E{order_id}",
            shopify_order_id=order_id,
            status="shipped",
        )
        await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking=f"A{order_id}")
    # 1: both numbers on one fulfilment, one of them the supplier's: Shopify has one too many
    await seed_fulfillment(
        connection, shop_id=shop, order_id=1, fulfillment_id=11, tracking=["A1", "B1"]
    )
    # 2: a fulfilment without a number next to the synced one: fulfilled twice
    await seed_fulfillment(connection, shop_id=shop, order_id=2, fulfillment_id=21, tracking=["A2"])
    await seed_fulfillment(connection, shop_id=shop, order_id=2, fulfillment_id=22, tracking=[])
    # 5: the supplier's number on two live fulfilments: every package pairs, carriers agree
    for fulfillment_id in (51, 52):
        await seed_fulfillment(
            connection, shop_id=shop, order_id=5, fulfillment_id=fulfillment_id, tracking=["A5"]
        )
    # 6: the same, but one of the two was cancelled: no duplicate
    await seed_fulfillment(connection, shop_id=shop, order_id=6, fulfillment_id=61, tracking=["A6"])
    await seed_fulfillment(
        connection, shop_id=shop, order_id=6, fulfillment_id=62, tracking=["A6"], status="cancelled"
    )
    # 3 and 4: packages are screened without their supplier order's status
    # (`package.shopify_order_id`)
    # 3: a fulfilment carrying the number of a cancelled supplier order's package pairs with
    # it on the screen, but the classifier ignores that package: Shopify has a foreign number
    live = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="E3",
        shopify_order_id=3,
        status="shipped",
    )
    await seed_package(connection, shop_id=shop, supplier_order_id=live, tracking="A3")
    await seed_fulfillment(connection, shop_id=shop, order_id=3, fulfillment_id=31, tracking=["A3"])
    cancelled = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="E3X",
        shopify_order_id=3,
        status="cancelled",
    )
    await seed_package(connection, shop_id=shop, supplier_order_id=cancelled, tracking="C3")
    await seed_fulfillment(connection, shop_id=shop, order_id=3, fulfillment_id=32, tracking=["C3"])
    # 4: delivered says the supplier order, not the package's own tracking, long quiet: the
    # screen flags it as maybe stalled, the classifier does not
    delivered = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="E4",
        shopify_order_id=4,
        status="delivered",
    )
    await seed_package(
        connection,
        shop_id=shop,
        supplier_order_id=delivered,
        tracking="A4",
        last_event_at=NOW - timedelta(days=30),
        tracking_status="in_transit",
    )
    await seed_fulfillment(connection, shop_id=shop, order_id=4, fulfillment_id=41, tracking=["A4"])
    for external_id, reference in (("E-LOST", 999), ("E-NOREF", None)):
        await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id=external_id,
            shopify_order_id=reference,
            stored_at=NOW - timedelta(days=1),
        )


async def test_the_screen_misses_nothing_the_classifier_finds_on_every_order(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pool.acquire() as connection:
        await seed_planted_store(connection)
        await _seed_edge_cases(connection)
        shops = [await seed_shop(connection, domain=f"bulk{i}.myshopify.com") for i in range(2)]
        await seed_bulk(
            connection,
            shape=BulkShape(orders=2400),
            shop_ids=shops,
            account_ids=[await seed_account(connection, name="bulk-cj")],
        )
        screened = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        found = _class_data(await _open_rows(connection))
        # the same pass with every order and supplier order as a candidate
        monkeypatch.setattr(passes, "candidate_orders_sql", lambda: _EVERYTHING)
        everything = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        found_again = _class_data(await _open_rows(connection))
        edges = await connection.fetch(
            "SELECT m.order_id, m.class FROM mismatch m JOIN shop s ON s.shop_id = m.shop_id"
            " WHERE s.domain = 'edges.myshopify.com' AND m.resolved_at IS NULL"
            " AND m.order_id IN (3, 4, 5, 6)"
        )
    assert (everything.opened, everything.resolved) == (0, 0)
    assert everything.found == screened.found
    assert found_again == found
    edge_classes = {key[2] for key in found if key[0] == "supplier_order"}
    assert edge_classes == {"supplier_order_without_shopify_order"}
    assert sum(1 for key in found if key[0] == "supplier_order") == 3  # planted + two edges
    # 6's second fulfilment is cancelled: no duplicate
    assert {(row["order_id"], row["class"]) for row in edges} == {
        (3, "tracking_mismatch"),
        (5, "duplicate_fulfilment"),
    }


async def test_a_full_pass_rewrites_no_unchanged_row_and_readers_see_it_persisting(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        await seed_planted_store(connection)
        first = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        before = await _open_rows(connection)
        later = NOW + timedelta(hours=1)
        second = await run_full_pass(connection, now=later, thresholds=Thresholds())
        after = await _open_rows(connection)
        run = await connection.fetchrow(
            "SELECT as_of FROM classify_run WHERE run_id = $1 LIMIT 1", second.run_id
        )
    assert {row["lifecycle"] for row in before.values()} == {"new"}
    assert {row["last_run_id"] for row in before.values()} == {first.run_id}
    # order 17's package left its grace window in between: only that row was written
    rewritten = {key for key in after if after[key]["version"] != before[key]["version"]}
    assert rewritten == {("order", 17, "shipped_not_synced")}
    assert before[("order", 17, "shipped_not_synced")]["outcome"] == "pending"
    assert after[("order", 17, "shipped_not_synced")]["outcome"] == "break"
    assert {row["lifecycle"] for row in after.values()} == {"persisting"}
    assert {row["last_run_id"] for row in after.values()} == {second.run_id}
    assert run is not None
    assert {row["last_seen_at"] for row in after.values()} == {later} == {run["as_of"]}
    assert {row["first_run_id"] for row in after.values()} == {first.run_id}


async def test_a_row_whose_evidence_changes_is_updated_and_keeps_its_lifecycle(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        await run_full_pass(connection, now=NOW + timedelta(minutes=1), thresholds=Thresholds())
        # a second unsynced parcel for order 2, written with the triggers off: only the
        # full pass can see it
        async with connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            so2 = await connection.fetchval(
                "SELECT supplier_order_id FROM supplier_order WHERE shop_id = $1"
                " AND shopify_order_id = 2",
                shop,
            )
            await seed_package(connection, shop_id=shop, supplier_order_id=so2, tracking="YT2B")
        third = await run_full_pass(
            connection, now=NOW + timedelta(minutes=2), thresholds=Thresholds()
        )
        row = (await _open_rows(connection))[("order", 2, "shipped_not_synced")]
    assert (third.opened, third.resolved) == (0, 0)
    assert sorted(row["detail"]["unsynced_tracking"]) == ["YT2", "YT2B"]
    assert row["lifecycle"] == "persisting"
    assert row["last_run_id"] == third.run_id


async def test_a_row_an_incremental_pass_opened_becomes_persisting_after_two_full_runs(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        await connection.execute(
            "UPDATE shopify_order SET financial_status = 'pending' WHERE shop_id = $1"
            " AND order_id = 16",
            shop,
        )
        at = NOW + timedelta(minutes=1)
        await run_incremental_pass(connection, now=at, thresholds=Thresholds())
        opened = (await _open_rows(connection))[("order", 16, "payment_pending")]
        first_full = await run_full_pass(
            connection, now=NOW + timedelta(minutes=2), thresholds=Thresholds()
        )
        seen_once = (await _open_rows(connection))[("order", 16, "payment_pending")]
        await run_full_pass(connection, now=NOW + timedelta(minutes=3), thresholds=Thresholds())
        seen_twice = (await _open_rows(connection))[("order", 16, "payment_pending")]
    # opened between full runs: not seen by the earlier run, so its own time and no run
    assert (opened["lifecycle"], opened["first_run_id"]) == ("new", None)
    assert (opened["last_seen_at"], opened["last_run_id"]) == (at, None)
    assert (seen_once["lifecycle"], seen_once["first_run_id"]) == ("new", first_full.run_id)
    assert seen_twice["lifecycle"] == "persisting"


async def test_a_resolved_row_keeps_when_it_was_last_seen(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        seen = await run_full_pass(
            connection, now=NOW + timedelta(minutes=1), thresholds=Thresholds()
        )
        await connection.execute(
            "UPDATE shopify_order SET financial_status = 'paid' WHERE shop_id = $1"
            " AND order_id = 13",
            shop,
        )
        await run_full_pass(connection, now=NOW + timedelta(minutes=2), thresholds=Thresholds())
        resolved = await connection.fetchrow(
            "SELECT * FROM mismatch WHERE shop_id = $1 AND order_id = 13", shop
        )
    assert resolved is not None
    assert resolved["lifecycle"] == "resolved"
    assert resolved["last_run_id"] == seen.run_id
    assert resolved["last_seen_at"] == NOW + timedelta(minutes=1)


async def test_a_pass_that_opens_many_rows_refreshes_the_planners_statistics(
    pool: asyncpg.Pool,
) -> None:
    """The report read right after a new store's first full pass must not be planned for an
    empty `mismatch` table; a pass that changes nothing leaves the statistics alone."""
    async with pool.acquire() as connection:
        shop = await seed_shop(connection, domain="stats.myshopify.com")
        await seed_bulk(
            connection,
            shape=BulkShape(orders=2400),
            shop_ids=[shop],
            account_ids=[await seed_account(connection, name="stats-cj")],
        )
        await connection.execute("ANALYZE mismatch")  # empty, as after a bulk load
        first = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        known = await connection.fetchval(
            "SELECT reltuples FROM pg_class WHERE oid = 'mismatch'::regclass"
        )
        # a stale figure again: the next pass opens nothing, so it must not analyse
        await connection.execute(
            "UPDATE pg_class SET reltuples = 1 WHERE oid = 'mismatch'::regclass"
        )
        second = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        after_second = await connection.fetchval(
            "SELECT reltuples FROM pg_class WHERE oid = 'mismatch'::regclass"
        )
    assert first.opened > 50
    assert known == first.opened
    assert (second.opened, second.resolved) == (0, 0)
    assert after_second == 1
