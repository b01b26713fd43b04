"""The report classifier finds each planted break with the right class, outcome and lifecycle."""

from datetime import timedelta

import asyncpg
import pytest

from core.report_classes import Thresholds
from schema.classify.passes import run_full_pass, run_incremental_pass
from tests.seed import (
    NOW,
    BulkShape,
    seed_account,
    seed_bulk,
    seed_fulfillment,
    seed_fulfillment_order,
    seed_line_item,
    seed_order,
    seed_package,
    seed_push,
    seed_shop,
    seed_supplier_order,
)

DAY = timedelta(days=1)


async def _rows(connection: asyncpg.Connection, shop_id: int) -> dict[tuple[int, str], dict]:  # type: ignore[type-arg]
    rows = await connection.fetch(
        "SELECT * FROM mismatch WHERE shop_id = $1 AND resolved_at IS NULL", shop_id
    )
    return {(row["subject_key"], row["class"]): dict(row) for row in rows}


async def _planted_store(connection: asyncpg.Connection) -> tuple[int, int]:  # type: ignore[type-arg]
    shop = await seed_shop(connection, domain="planted.myshopify.com")
    account = await seed_account(connection, name="cj-main")

    async def shipped_order(
        order_id: int, *, pushed: bool, carrier: str = "YunExpress", company: str = "YunExpress"
    ) -> int:
        await seed_order(connection, shop_id=shop, order_id=order_id)
        await seed_fulfillment_order(
            connection,
            shop_id=shop,
            order_id=order_id,
            fulfillment_order_id=order_id * 10,
            status="closed" if pushed else "open",
        )
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
            tracking=f"YT{order_id}",
            carrier=carrier,
            tracking_status="delivered",
        )
        if pushed:
            await seed_fulfillment(
                connection,
                shop_id=shop,
                order_id=order_id,
                fulfillment_id=order_id * 10,
                tracking=[f"YT{order_id}"],
                company=company,
            )
        return so

    # 1: in sync, no row
    await shipped_order(1, pushed=True)
    # 2: shipped, never pushed
    await shipped_order(2, pushed=False)
    # 3: Shopify carries another number
    await shipped_order(3, pushed=False)
    await seed_fulfillment(
        connection, shop_id=shop, order_id=3, fulfillment_id=31, tracking=["WRONG3"]
    )
    # 4: two packages, one pushed
    so4 = await shipped_order(4, pushed=True)
    await seed_package(connection, shop_id=shop, supplier_order_id=so4, tracking="YT4B")
    # 5: fulfilled in Shopify, nothing at the supplier
    await seed_order(connection, shop_id=shop, order_id=5, fulfillment_status="fulfilled")
    await seed_fulfillment(connection, shop_id=shop, order_id=5, fulfillment_id=50, tracking=["X5"])
    # 6: paid two days ago, never placed
    await seed_order(connection, shop_id=shop, order_id=6)
    await seed_fulfillment_order(connection, shop_id=shop, order_id=6, fulfillment_order_id=60)
    # 7: supplier cancelled, Shopify open
    await seed_order(connection, shop_id=shop, order_id=7)
    await seed_fulfillment_order(connection, shop_id=shop, order_id=7, fulfillment_order_id=70)
    await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO7",
        shopify_order_id=7,
        status="cancelled",
    )
    # 8: cancelled in Shopify, still placed at the supplier
    await seed_order(connection, shop_id=shop, order_id=8, cancelled_at=NOW - DAY)
    await seed_supplier_order(
        connection, shop_id=shop, account_id=account, external_id="SO8", shopify_order_id=8
    )
    # 9: the same tracking number on two fulfilments
    await shipped_order(9, pushed=True)
    await seed_fulfillment(connection, shop_id=shop, order_id=9, fulfillment_id=91, tracking=["YT9"])
    # 10: carrier not on Shopify's list, same on both sides
    await shipped_order(10, pushed=True, carrier="Speedy Local", company="Speedy Local")
    # 11: push parked as failed
    await shipped_order(11, pushed=False)
    await seed_push(
        connection, shop_id=shop, order_id=11, last_error="Fulfillment order is on hold"
    )
    # 12: held in Shopify while the supplier shipped
    await seed_order(connection, shop_id=shop, order_id=12)
    await seed_fulfillment_order(
        connection,
        shop_id=shop,
        order_id=12,
        fulfillment_order_id=120,
        status="ON_HOLD",
        holds=[{"reason": "HIGH_RISK_OF_FRAUD"}],
        updated_at=NOW - DAY,
    )
    so12 = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO12",
        shopify_order_id=12,
        status="shipped",
    )
    await seed_package(connection, shop_id=shop, supplier_order_id=so12, tracking="YT12")
    # 13: unpaid, but already placed with the supplier
    await seed_order(connection, shop_id=shop, order_id=13, financial_status="pending")
    await seed_supplier_order(
        connection, shop_id=shop, account_id=account, external_id="SO13", shopify_order_id=13
    )
    # 14: archived while unfulfilled
    await seed_order(connection, shop_id=shop, order_id=14, closed_at=NOW - DAY)
    await seed_fulfillment_order(connection, shop_id=shop, order_id=14, fulfillment_order_id=140)
    await seed_supplier_order(
        connection, shop_id=shop, account_id=account, external_id="SO14", shopify_order_id=14
    )
    # a supplier order nobody claims
    orphan = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO-ORPHAN",
        shopify_order_id=None,
        stored_at=NOW - DAY,
    )
    # 15: in transit, no scan for ten days
    await seed_order(connection, shop_id=shop, order_id=15, created_at=NOW - 12 * DAY)
    so15 = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO15",
        shopify_order_id=15,
        status="shipped",
    )
    await seed_package(
        connection,
        shop_id=shop,
        supplier_order_id=so15,
        tracking="YT15",
        shipped_at=NOW - 11 * DAY,
        last_event_at=NOW - 10 * DAY,
        tracking_status="in_transit",
    )
    await seed_fulfillment(
        connection, shop_id=shop, order_id=15, fulfillment_id=150, tracking=["YT15"]
    )
    # 16: shipped an hour ago in a carrier spelling that resolves to the Shopify company
    await seed_order(connection, shop_id=shop, order_id=16)
    so16 = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO16",
        shopify_order_id=16,
        status="shipped",
    )
    await seed_package(
        connection,
        shop_id=shop,
        supplier_order_id=so16,
        tracking="YT16",
        carrier="Yun Express Line",
        tracking_status="delivered",
    )
    await seed_fulfillment(
        connection, shop_id=shop, order_id=16, fulfillment_id=160, tracking=["yt-16"]
    )
    # 17: shipped twenty minutes ago: pending, inside the sync grace
    await seed_order(connection, shop_id=shop, order_id=17)
    so17 = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO17",
        shopify_order_id=17,
        status="shipped",
    )
    await seed_package(
        connection,
        shop_id=shop,
        supplier_order_id=so17,
        tracking="YT17",
        shipped_at=NOW - timedelta(minutes=20),
        tracking_status="delivered",
    )
    # 18: a test order is never classified
    await seed_order(connection, shop_id=shop, order_id=18, test=True)
    return shop, orphan


EXPECTED = {
    (2, "shipped_not_synced"),
    (3, "tracking_mismatch"),
    (4, "partially_synced"),
    (5, "fulfilled_without_supplier_shipment"),
    (6, "paid_not_placed"),
    (7, "cancelled_at_supplier_open_in_shopify"),
    (8, "cancelled_in_shopify_active_at_supplier"),
    (9, "duplicate_fulfilment"),
    (10, "carrier_not_recognised"),
    (11, "push_failed"),
    (12, "held_in_shopify"),
    (13, "payment_pending"),
    (14, "archived_unfulfilled"),
    (15, "tracking_stalled"),
    (17, "shipped_not_synced"),
}


async def test_full_pass_finds_every_planted_class_and_nothing_else(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, orphan = await _planted_store(connection)
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
        shop, _ = await _planted_store(connection)
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
        shop, _ = await _planted_store(connection)
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


async def test_incremental_pass_turns_expired_pending_rows_into_breaks(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop, _ = await _planted_store(connection)
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        await run_incremental_pass(connection, now=NOW + timedelta(hours=2), thresholds=Thresholds())
        rows = await _rows(connection, shop)
    assert rows[(17, "shipped_not_synced")]["outcome"] == "break"


async def test_shop_override_widens_a_grace_window(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, _ = await _planted_store(connection)
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
        counts = dict(
            await connection.fetch(
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
