"""`package.shopify_order_id`: the database keeps each package's copy of its supplier order's
Shopify order exact, whoever writes (migration 0009), and the full pass reads it."""

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
from alembic import command

from core.report_classes import Thresholds
from core.supplier_model import ShippedPackage
from core.tracking import make_tracking_number
from schema.classify.passes import run_full_pass
from schema.db import Connection, init_connection
from schema.migrate import alembic_config
from schema.queries.supplier_poll import DueSupplierOrder, store_supplier_poll
from schema.queries.supplier_state import upsert_supplier_order
from tests.seed import (
    NOW,
    seed_account,
    seed_order,
    seed_package,
    seed_shop,
    seed_supplier_order,
)


async def _store(connection: Connection) -> tuple[int, int, int]:
    """(shop, account, supplier order linked to order 1): orders 1 and 2 exist."""
    shop = await seed_shop(connection, domain="copy.myshopify.com")
    account = await seed_account(connection, name="cj-copy")
    for order_id in (1, 2):
        await seed_order(connection, shop_id=shop, order_id=order_id)
    so = await seed_supplier_order(
        connection,
        shop_id=shop,
        account_id=account,
        external_id="SO1",
        shopify_order_id=1,
        status="shipped",
    )
    return shop, account, so


async def _copies(connection: Connection) -> dict[str, int | None]:
    """tracking number -> the package's shopify_order_id."""
    rows = await connection.fetch("SELECT tracking_number, shopify_order_id FROM package")
    return {row["tracking_number"]: row["shopify_order_id"] for row in rows}


async def _versions(connection: Connection) -> dict[str, str]:
    rows = await connection.fetch("SELECT tracking_number, xmin::text AS version FROM package")
    return {row["tracking_number"]: row["version"] for row in rows}


async def _dirty(connection: Connection) -> set[tuple[str, int]]:
    rows = await connection.fetch("SELECT subject_kind, subject_key FROM classify_dirty")
    return {(row["subject_kind"], row["subject_key"]) for row in rows}


async def test_a_package_gets_its_supplier_orders_shopify_order(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, account, linked = await _store(connection)
        unlinked = await seed_supplier_order(
            connection, shop_id=shop, account_id=account, external_id="SO2", shopify_order_id=None
        )
        await seed_package(connection, shop_id=shop, supplier_order_id=linked, tracking="A")
        await seed_package(connection, shop_id=shop, supplier_order_id=unlinked, tracking="B")
        # a writer cannot set it: the copy is always the supplier order's
        await connection.execute(
            "INSERT INTO package (shop_id, supplier_order_id, tracking_number,"
            " tracking_number_norm, shopify_order_id) VALUES ($1, $2, 'C', 'C', 999)",
            shop,
            linked,
        )
        await connection.execute(
            "UPDATE package SET shopify_order_id = 999 WHERE tracking_number = 'A'"
        )
        assert await _copies(connection) == {"A": 1, "B": None, "C": 1}


async def test_a_package_loaded_with_triggers_off_still_gets_it(pool: asyncpg.Pool) -> None:
    # bulk loads switch the dirty-set triggers off this way; the copy's triggers fire always
    async with pool.acquire() as connection:
        shop, _, so = await _store(connection)
        async with connection.transaction():
            await connection.execute("SET LOCAL session_replication_role = replica")
            await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="A")
            await connection.execute(
                "UPDATE supplier_order SET shopify_order_id = 2 WHERE supplier_order_id = $1", so
            )
            await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="B")
        assert await _copies(connection) == {"A": 2, "B": 2}


async def test_relinking_a_supplier_order_moves_its_packages(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, account, so = await _store(connection)
        late = await seed_supplier_order(
            connection, shop_id=shop, account_id=account, external_id="SO2", shopify_order_id=None
        )
        await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="A1")
        await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="A2")
        await seed_package(connection, shop_id=shop, supplier_order_id=late, tracking="B")
        # linked later, through the writers' upsert (COALESCE keeps a known link)
        await upsert_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id="SO2",
            external_id_norm="SO2",
            reference="#2",
            shopify_order_id=2,
            status=None,
            updated_at=NOW,
        )
        assert await _copies(connection) == {"A1": 1, "A2": 1, "B": 2}
        await connection.execute("DELETE FROM classify_dirty")
        # moved to another order
        await connection.execute(
            "UPDATE supplier_order SET shopify_order_id = 2 WHERE supplier_order_id = $1", so
        )
        assert await _copies(connection) == {"A1": 2, "A2": 2, "B": 2}
        # the dirty set is what the supplier order's own triggers mark: it, and the order left
        assert await _dirty(connection) == {("supplier_order", so), ("order", 1)}
        await connection.execute(
            "UPDATE supplier_order SET shopify_order_id = NULL WHERE supplier_order_id = $1", so
        )
        assert await _copies(connection) == {"A1": None, "A2": None, "B": 2}


async def test_other_supplier_order_updates_leave_packages_alone(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, account, so = await _store(connection)
        await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="A")
        before = await _versions(connection)
        await connection.execute(
            "UPDATE supplier_order SET status = 'delivered', updated_at = now()"
            " WHERE supplier_order_id = $1",
            so,
        )
        # the writers' upsert names shopify_order_id in its SET list, with the same value
        await upsert_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id="SO1",
            external_id_norm="SO1",
            reference="#1",
            shopify_order_id=1,
            status="delivered",
            updated_at=NOW + timedelta(hours=1),
        )
        await connection.execute(
            "UPDATE supplier_order SET shopify_order_id = 1 WHERE supplier_order_id = $1", so
        )
        assert await _versions(connection) == before


async def test_moving_a_package_to_another_supplier_order_refills_it(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shop, account, so = await _store(connection)
        other = await seed_supplier_order(
            connection, shop_id=shop, account_id=account, external_id="SO2", shopify_order_id=2
        )
        await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="A")
        await connection.execute(
            "UPDATE package SET supplier_order_id = $1 WHERE tracking_number = 'A'", other
        )
        assert await _copies(connection) == {"A": 2}


async def test_a_relink_and_a_new_package_in_concurrent_transactions(pool: asyncpg.Pool) -> None:
    """Neither order of commits leaves the new package with the order the relink left."""
    relink = "UPDATE supplier_order SET shopify_order_id = $2 WHERE supplier_order_id = $1"
    async with pool.acquire() as first, pool.acquire() as second:
        shop, _, so = await _store(first)
        # the relink first: the package waits for it, then reads the new link
        transaction = first.transaction()
        await transaction.start()
        await first.execute(relink, so, 2)
        insert = asyncio.create_task(
            seed_package(second, shop_id=shop, supplier_order_id=so, tracking="A")
        )
        await asyncio.sleep(0.3)
        assert not insert.done()
        await transaction.commit()
        await asyncio.wait_for(insert, 10)
        # the package first: the relink waits for it, then moves it
        transaction = second.transaction()
        await transaction.start()
        await seed_package(second, shop_id=shop, supplier_order_id=so, tracking="B")
        update = asyncio.create_task(first.execute(relink, so, 1))
        await asyncio.sleep(0.3)
        assert not update.done()
        await transaction.commit()
        await asyncio.wait_for(update, 10)
        assert await _copies(first) == {"A": 1, "B": 1}


async def _open_classes(connection: Connection) -> dict[tuple[int, str], Any]:
    rows = await connection.fetch(
        "SELECT subject_key, class, detail FROM mismatch"
        " WHERE resolved_at IS NULL AND subject_kind = 'order'"
    )
    return {(row["subject_key"], row["class"]): row["detail"] for row in rows}


async def test_a_full_pass_after_a_relink_finds_the_package_under_its_new_order(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as connection:
        shop, _, so = await _store(connection)
        await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="YT1")
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
        before = await _open_classes(connection)
        await connection.execute(
            "UPDATE supplier_order SET shopify_order_id = 2 WHERE supplier_order_id = $1", so
        )
        await run_full_pass(connection, now=NOW + timedelta(minutes=1), thresholds=Thresholds())
        after = await _open_classes(connection)
    assert before[(1, "shipped_not_synced")]["unsynced_tracking"] == ["YT1"]
    assert (2, "paid_not_placed") in before
    assert after[(2, "shipped_not_synced")]["unsynced_tracking"] == ["YT1"]
    assert (1, "paid_not_placed") in after
    assert (1, "shipped_not_synced") not in after
    assert (2, "paid_not_placed") not in after


def test_the_migration_fills_the_packages_already_stored(servers: tuple[str, str]) -> None:
    admin_url = servers[0]
    name = f"dropsync_test_{uuid.uuid4().hex[:10]}"
    base, _, query = admin_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def seed() -> None:
        connection = await asyncpg.connect(url)
        await init_connection(connection)
        try:
            shop, account, so = await _store(connection)
            unlinked = await seed_supplier_order(
                connection,
                shop_id=shop,
                account_id=account,
                external_id="SO2",
                shopify_order_id=None,
            )
            for number in ("A1", "A2"):
                await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking=number)
            await seed_package(connection, shop_id=shop, supplier_order_id=unlinked, tracking="B")
            await connection.execute("DELETE FROM classify_dirty")
        finally:
            await connection.close()

    async def check() -> tuple[dict[str, int | None], set[tuple[str, int]], dict[str, int | None]]:
        connection = await asyncpg.connect(url)
        try:
            filled = await _copies(connection)
            dirty = await _dirty(connection)
            await connection.execute("UPDATE supplier_order SET shopify_order_id = 2")
            return filled, dirty, await _copies(connection)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        config = alembic_config(url)
        command.upgrade(config, "0008_fulfilment_numbers_index")
        asyncio.run(seed())
        command.upgrade(config, "0009_package_order")
        filled, dirty, relinked = asyncio.run(check())
        command.downgrade(config, "0008_fulfilment_numbers_index")
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert filled == {"A1": 1, "A2": 1, "B": None}
    assert dirty == set()  # a copied column changes no class
    assert relinked == {"A1": 2, "A2": 2, "B": 2}


async def test_a_poll_locks_its_supplier_order_before_its_packages(pool: asyncpg.Pool) -> None:
    """Writers lock a supplier order, then its packages (a package insert locks its order): a
    poll taking the packages first would deadlock with a message for the same order."""
    async with pool.acquire() as connection:
        shop, _, so = await _store(connection)
        await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="A1")
    order = DueSupplierOrder(
        shop_id=shop,
        supplier_order_id=so,
        external_id="SO1",
        shopify_order_id=1,
        poll_failures=0,
        needs_refresh=False,
    )
    shipped = ShippedPackage(
        tracking=make_tracking_number("B1"),
        carrier="YunExpress",
        tracking_url=None,
        items=(),
        status=None,
        events=(),
    )
    async with pool.acquire() as message, pool.acquire() as poller:
        message_tx = message.transaction()
        await message_tx.start()
        # a supplier message for this order holds it, as `upsert_supplier_order` does
        await message.execute(
            "UPDATE supplier_order SET updated_at = updated_at WHERE supplier_order_id = $1", so
        )

        async def poll() -> None:
            async with poller.transaction():
                await store_supplier_poll(
                    poller,
                    order=order,
                    cancelled=False,
                    packages=[shipped, replace(shipped, tracking=make_tracking_number("A1"))],
                    now=NOW,
                    base_backoff=timedelta(minutes=5),
                    max_backoff=timedelta(hours=1),
                )

        polling = asyncio.create_task(poll())
        poller_pid = poller.get_server_pid()
        for _ in range(200):  # until the poll waits on a lock
            waiting = await message.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", poller_pid
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting
        # the poll waits for the order and holds none of its packages: the message can go on
        locked = await message.fetch(
            "SELECT package_id FROM package WHERE supplier_order_id = $1 FOR UPDATE NOWAIT", so
        )
        assert len(locked) == 1
        await message_tx.commit()
        await asyncio.wait_for(polling, timeout=10)
    async with pool.acquire() as connection:
        assert await _copies(connection) == {"A1": 1, "B1": 1}
