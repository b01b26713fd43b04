"""The report classifier finds each planted break with the right class, outcome and lifecycle."""

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from core.report_classes import Thresholds
from schema.classify.passes import run_full_pass, run_incremental_pass
from schema.db import Connection
from schema.queries.push import pushable_orders
from schema.queries.report import SEEN_SQL
from tests.seed import (
    EXPECTED,
    NOW,
    BulkShape,
    seed_account,
    seed_bulk,
    seed_fulfillment,
    seed_fulfillment_order,
    seed_line_item,
    seed_order,
    seed_package,
    seed_planted_store,
    seed_push,
    seed_shop,
    seed_supplier_order,
)

DAY = timedelta(days=1)


# Open rows as readers see them: lifecycle and "last seen" are derived from the latest full run.
_SEEN_ROWS = f"""
SELECT m.*, {SEEN_SQL["lifecycle"]} AS seen_lifecycle,
       {SEEN_SQL["last_seen_at"]} AS seen_last_seen_at,
       {SEEN_SQL["last_run_id"]} AS seen_last_run_id
FROM mismatch m LEFT JOIN ({SEEN_SQL["last_full_runs"]}) lr ON lr.shop_id = m.shop_id
WHERE m.shop_id = $1 AND m.resolved_at IS NULL
"""


async def _rows(connection: Connection, shop_id: int) -> dict[tuple[int, str], dict[str, Any]]:
    found = {}
    for record in await connection.fetch(_SEEN_ROWS, shop_id):
        row = dict(record)
        for column in ("lifecycle", "last_seen_at", "last_run_id"):
            row[column] = row.pop(f"seen_{column}")
        found[(row["subject_key"], row["class"])] = row
    return found


async def test_full_pass_finds_every_planted_class_and_nothing_else(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, orphan = await seed_planted_store(connection)
        result = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        rows = await _rows(connection, shop)
    assert set(rows) == EXPECTED | {(orphan, "supplier_order_without_shopify_order")}
    assert result.opened == len(rows)
    assert rows[(17, "shipped_not_synced")]["outcome"] == "pending"
    assert rows[(17, "shipped_not_synced")]["breaks_at"] == NOW - timedelta(minutes=20) + (
        timedelta(hours=1)
    )
    assert rows[(2, "shipped_not_synced")]["outcome"] == "break"
    assert rows[(11, "push_failed")]["detail"]["message"] == "Fulfillment order is on hold"
    assert rows[(12, "held_in_shopify")]["outcome"] == "break"
    assert rows[(3, "tracking_mismatch")]["detail"]["shopify_only"] == ["WRONG3"]
    assert all(row["lifecycle"] == "new" for row in rows.values())


async def test_second_full_pass_marks_rows_persisting_and_resolves_fixed_ones(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        await seed_fulfillment(
            connection, shop_id=shop, order_id=2, fulfillment_id=20, tracking=["YT2"]
        )
        await connection.execute(
            "UPDATE shopify_fulfillment_order SET status = 'closed' WHERE order_id = 2"
        )
        await seed_push(
            connection,
            shop_id=shop,
            order_id=2,
            status="succeeded",
            updated_at=NOW + timedelta(minutes=1),
            completed_at=NOW + timedelta(minutes=1),
        )
        second = await run_full_pass(
            connection, now=NOW + timedelta(minutes=5), thresholds=Thresholds()
        )
        resolved = await connection.fetchrow(
            "SELECT * FROM mismatch WHERE shop_id = $1 AND order_id = 2", shop
        )
        rows = await _rows(connection, shop)
        run = await connection.fetchrow(
            "SELECT * FROM classify_run WHERE shop_id = $1 AND run_id = $2", shop, second.run_id
        )
        events = await connection.fetch(
            "SELECT kind, actor FROM order_event WHERE shop_id = $1 AND order_id = 2 ORDER BY at",
            shop,
        )
    assert resolved is not None
    assert resolved["lifecycle"] == "resolved"
    assert resolved["resolution"] == "auto_pushed"
    assert {row["lifecycle"] for row in rows.values()} == {"persisting"}
    assert run is not None
    assert run["open_before"] + run["opened"] - run["resolved"] == run["open_after"]
    assert run["resolved"] == 1
    assert [event["kind"] for event in events] == ["report.opened", "report.resolved"]


async def test_incremental_pass_reclassifies_only_changed_orders(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        assert await connection.fetchval("SELECT count(*) FROM classify_dirty") == 0
        # the supplier ships order 6 (was paid_not_placed): a trigger marks it dirty
        so6 = await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=await connection.fetchval("SELECT min(account_id) FROM supplier_account"),
            external_id="SO6",
            shopify_order_id=6,
            status="shipped",
        )
        await seed_package(connection, shop_id=shop, supplier_order_id=so6, tracking="YT6")
        assert await connection.fetchval("SELECT count(*) FROM classify_dirty") == 1
        result = await run_incremental_pass(
            connection, now=NOW + timedelta(minutes=1), thresholds=Thresholds()
        )
        rows = await _rows(connection, shop)
    assert (6, "paid_not_placed") not in rows
    assert rows[(6, "shipped_not_synced")]["lifecycle"] == "new"
    assert result.opened == 1
    assert result.resolved == 1


async def test_incremental_pass_reclassifies_the_order_a_supplier_order_left(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        assert (2, "shipped_not_synced") in await _rows(connection, shop)
        # a corrected reference moves order 2's supplier order (and its package) to order 6
        await connection.execute(
            "UPDATE supplier_order SET shopify_order_id = 6"
            " WHERE shop_id = $1 AND shopify_order_id = 2",
            shop,
        )
        marked = await connection.fetch(
            "SELECT subject_kind, subject_key FROM classify_dirty WHERE shop_id = $1", shop
        )
        await run_incremental_pass(
            connection, now=NOW + timedelta(minutes=1), thresholds=Thresholds()
        )
        rows = await _rows(connection, shop)
    assert ("order", 2) in {(row["subject_kind"], row["subject_key"]) for row in marked}
    # order 2 has nothing shipped left to sync; order 6 now has the package
    assert (2, "shipped_not_synced") not in rows
    assert (6, "paid_not_placed") not in rows
    assert (6, "shipped_not_synced") in rows


async def test_a_pass_at_the_same_instant_opens_nothing_new(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await seed_planted_store(connection)
        first = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        second = await run_full_pass(connection, now=NOW, thresholds=Thresholds())
    assert first.opened == first.found
    assert (second.opened, second.resolved, second.found) == (0, 0, first.found)


async def test_a_resolved_row_that_breaks_again_reopens_as_new(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        await connection.execute(
            "UPDATE shopify_order SET financial_status = 'paid' WHERE shop_id = $1"
            " AND order_id = 13",
            shop,
        )
        resolved = await run_incremental_pass(
            connection, now=NOW + timedelta(minutes=1), thresholds=Thresholds()
        )
        await connection.execute(
            "UPDATE shopify_order SET financial_status = 'pending' WHERE shop_id = $1"
            " AND order_id = 13",
            shop,
        )
        reopened = await run_incremental_pass(
            connection, now=NOW + timedelta(minutes=2), thresholds=Thresholds()
        )
        rows = await _rows(connection, shop)
    assert (resolved.resolved, reopened.opened) == (1, 1)
    assert rows[(13, "payment_pending")]["lifecycle"] == "new"


async def test_incremental_pass_turns_expired_pending_rows_into_breaks(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        await run_incremental_pass(
            connection, now=NOW + timedelta(hours=2), thresholds=Thresholds()
        )
        rows = await _rows(connection, shop)
    assert rows[(17, "shipped_not_synced")]["outcome"] == "break"


async def test_shop_override_widens_a_grace_window(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, _ = await seed_planted_store(connection)
        await connection.execute(
            "UPDATE shop SET settings = $2 WHERE shop_id = $1",
            shop,
            {"report": {"paid_not_placed_after": "72h"}},
        )
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        rows = await _rows(connection, shop)
    assert rows[(6, "paid_not_placed")]["outcome"] == "pending"


async def test_shop_needing_attention_gets_a_shop_row(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop = await seed_shop(
            connection,
            domain="broken.myshopify.com",
            status="needs_attention",
            attention_reason="access token rejected (401)",
        )
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        rows = await _rows(connection, shop)
    assert set(rows) == {(shop, "shop_needs_attention")}


@pytest.mark.parametrize("orders", [2400])
async def test_bulk_seed_plants_breaks_of_every_kind(pool: asyncpg.Pool, orders: int) -> None:
    async with pool.acquire() as connection:
        shops = [await seed_shop(connection, domain=f"bulk{i}.myshopify.com") for i in range(2)]
        accounts = [await seed_account(connection, name="bulk-cj")]
        await seed_bulk(
            connection, shape=BulkShape(orders=orders), shop_ids=shops, account_ids=accounts
        )
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        counts: dict[str, int] = dict(
            await connection.fetch(  # type: ignore[arg-type]
                "SELECT class, count(*) FROM mismatch WHERE resolved_at IS NULL GROUP BY class"
            )
        )
        dirty = await connection.fetchval("SELECT count(*) FROM classify_dirty")
    per_kind = orders // 20 // 12
    assert dirty == 0
    for name in (
        "shipped_not_synced",
        "tracking_mismatch",
        "fulfilled_without_supplier_shipment",
        "paid_not_placed",
        "cancelled_in_shopify_active_at_supplier",
        "duplicate_fulfilment",
        "carrier_not_recognised",
        "push_failed",
        "payment_pending",
        "archived_unfulfilled",
        "tracking_stalled",
        "held_in_shopify",
    ):
        assert counts.get(name) == per_kind, name
    assert sum(counts.values()) == 12 * per_kind


async def test_packages_before_the_cutover_are_reported_at_once_but_not_pushable(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop = await seed_shop(
            connection,
            domain="cutover.myshopify.com",
            settings={"push_shipped_since": (NOW - timedelta(minutes=10)).isoformat()},
        )
        account = await seed_account(connection, name="cj-cutover")
        for order_id, shipped_at in ((1, NOW - 3 * DAY), (2, NOW - timedelta(minutes=30))):
            await seed_order(connection, shop_id=shop, order_id=order_id)
            so = await seed_supplier_order(
                connection,
                shop_id=shop,
                account_id=account,
                external_id=f"SO{order_id}",
                shopify_order_id=order_id,
                status="shipped",
            )
            await seed_package(
                connection,
                shop_id=shop,
                supplier_order_id=so,
                tracking=f"OLD{order_id}",
                shipped_at=shipped_at,
            )
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        rows = await _rows(connection, shop)
        pushable = await pushable_orders(connection, shop_id=shop, grace=timedelta(0), limit=10)
    assert set(rows) == {(1, "shipped_not_synced"), (2, "shipped_not_synced")}
    # inside the sync grace, yet a break: dropsync will not push it, a person must choose
    assert rows[(2, "shipped_not_synced")]["outcome"] == "break"
    assert rows[(2, "shipped_not_synced")]["detail"]["before_cutover"] is True
    assert rows[(2, "shipped_not_synced")]["detail"]["before_cutover_tracking"] == ["OLD2"]
    assert pushable == []


async def test_packages_after_the_cutover_keep_the_sync_grace(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop = await seed_shop(
            connection,
            domain="cutover-after.myshopify.com",
            settings={"push_shipped_since": (NOW - 2 * DAY).isoformat()},
        )
        account = await seed_account(connection, name="cj-after")
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
            tracking="NEW1",
            shipped_at=NOW - timedelta(minutes=30),
        )
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        rows = await _rows(connection, shop)
        pushable = await pushable_orders(connection, shop_id=shop, grace=timedelta(0), limit=10)
    assert rows[(1, "shipped_not_synced")]["outcome"] == "pending"
    assert rows[(1, "shipped_not_synced")]["detail"]["before_cutover"] is False
    assert pushable == [1]


async def test_a_split_supplier_order_counts_through_its_parts(pool: asyncpg.Pool) -> None:
    """Ingest stores a split order as status `split` and its parts as new supplier orders of
    the same Shopify order: the parts decide, the split order itself is neither active nor
    an orphan."""
    async with pool.acquire() as connection:
        shop = await seed_shop(connection, domain="split.myshopify.com")
        account = await seed_account(connection, name="cj-split")
        # order 1: both parts cancelled by the supplier while Shopify waits
        await seed_order(connection, shop_id=shop, order_id=1)
        await seed_fulfillment_order(connection, shop_id=shop, order_id=1, fulfillment_order_id=10)
        for external_id, status in (
            ("SP1", "split"),
            ("SP1-A", "cancelled"),
            ("SP1-B", "cancelled"),
        ):
            await seed_supplier_order(
                connection,
                shop_id=shop,
                account_id=account,
                external_id=external_id,
                shopify_order_id=1,
                status=status,
            )
        # order 2: both parts shipped and synced, yet Shopify still has items to fulfil
        await seed_order(connection, shop_id=shop, order_id=2)
        await seed_fulfillment_order(connection, shop_id=shop, order_id=2, fulfillment_order_id=20)
        await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id="SP2",
            shopify_order_id=2,
            status="split",
        )
        for part in ("A", "B"):
            so = await seed_supplier_order(
                connection,
                shop_id=shop,
                account_id=account,
                external_id=f"SP2-{part}",
                shopify_order_id=2,
                status="shipped",
            )
            await seed_package(
                connection, shop_id=shop, supplier_order_id=so, tracking=f"TR2{part}"
            )
            await seed_fulfillment(
                connection,
                shop_id=shop,
                order_id=2,
                fulfillment_id=200 + ord(part),
                tracking=[f"TR2{part}"],
            )
        # a split order no Shopify order claims: only its part is reported
        await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id="SP3",
            shopify_order_id=None,
            status="split",
            stored_at=NOW - DAY,
        )
        part3 = await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id="SP3-A",
            shopify_order_id=None,
            stored_at=NOW - DAY,
        )
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        rows = await _rows(connection, shop)
    assert set(rows) == {
        (1, "cancelled_at_supplier_open_in_shopify"),
        (2, "partially_synced"),
        (part3, "supplier_order_without_shopify_order"),
    }


async def test_a_line_fulfilled_twice_under_two_numbers_is_a_duplicate(pool: asyncpg.Pool) -> None:
    """Two live fulfilments of one line (quantity 1), each with its own supplier number, fulfil
    it twice; with one of them cancelled, or each on its own line, nothing is wrong."""
    async with pool.acquire() as connection:
        shop = await seed_shop(connection, domain="twice.myshopify.com")
        account = await seed_account(connection, name="cj-twice")
        for order_id in (1, 2, 3):
            await seed_order(connection, shop_id=shop, order_id=order_id)
            for line in (1, 2):
                await seed_line_item(
                    connection, shop_id=shop, order_id=order_id, line_item_id=order_id * 10 + line
                )
            await seed_fulfillment_order(
                connection,
                shop_id=shop,
                order_id=order_id,
                fulfillment_order_id=order_id * 10,
                status="closed",
            )
            so = await seed_supplier_order(
                connection,
                shop_id=shop,
                account_id=account,
                external_id=f"TW{order_id}",
                shopify_order_id=order_id,
                status="shipped",
            )
            for part in ("A", "B"):
                await seed_package(
                    connection, shop_id=shop, supplier_order_id=so, tracking=f"{part}{order_id}"
                )
        # 1: both fulfilments carry line 11; 2: the same, the second cancelled; 3: a line each
        for order_id, lines, status in (
            (1, (11, 11), "success"),
            (2, (21, 21), "cancelled"),
            (3, (31, 32), "success"),
        ):
            for index, (part, line) in enumerate(zip(("A", "B"), lines, strict=True)):
                await seed_fulfillment(
                    connection,
                    shop_id=shop,
                    order_id=order_id,
                    fulfillment_id=order_id * 10 + index,
                    tracking=[f"{part}{order_id}"],
                    status=status if index else "success",
                    lines=[(line, 1)],
                )
        await run_incremental_pass(connection, now=NOW, thresholds=Thresholds())
        rows = await _rows(connection, shop)
    duplicates = {
        order_id: row["detail"]
        for (order_id, mismatch_class), row in rows.items()
        if mismatch_class == "duplicate_fulfilment"
    }
    assert duplicates == {1: {"duplicate_tracking": None, "over_fulfilled_lines": 1}}
