"""The classifier's unsynced-packages rule, on rows seeded directly in SQL."""

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from schema.classify import shops_with_unsynced_packages, unsynced_cte, unsynced_packages
from service.runtime import Runtime
from tests.workers.pushkit import Kit, make_kit


@pytest.fixture
async def kit(pool: asyncpg.Pool, runtime: Runtime) -> AsyncIterator[Kit]:
    made = await make_kit(pool, runtime.secrets)
    yield made
    await made.http.aclose()
    await made.sim.aclose()


async def unsynced(kit: Kit, grace: timedelta = timedelta(0)) -> list[int]:
    async with kit.pool.acquire() as connection:
        return [p.package_id for p in await unsynced_packages(connection, grace=grace)]


async def add_fulfillment(
    kit: Kit, shop_id: int, order_id: int, numbers: list[str], status: str
) -> None:
    await kit.fetchval(
        """
        INSERT INTO shopify_fulfillment (shop_id, fulfillment_id, order_id, status,
                                         tracking_numbers, tracking_numbers_norm)
        VALUES ($1, (SELECT coalesce(max(fulfillment_id), 0) + 1 FROM shopify_fulfillment),
                $2, $3, $4, $4)
        """,
        shop_id,
        order_id,
        status,
        numbers,
    )


async def test_package_without_fulfilment_is_unsynced(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    _order, package_id = await kit.shipped_order(shop_id, domain, tracking_number="YT1")
    assert await unsynced(kit) == [package_id]
    async with kit.pool.acquire() as connection:
        assert await shops_with_unsynced_packages(connection, grace=timedelta(0)) == [shop_id]


async def test_fulfilment_with_the_normalised_number_syncs_the_package(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, _ = await kit.shipped_order(shop_id, domain, tracking_number="lp 0011-22 cn")
    await add_fulfillment(kit, shop_id, order.order_id, ["LP001122CN"], "success")
    assert await unsynced(kit) == []


async def test_cancelled_fulfilment_does_not_sync_the_package(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, package_id = await kit.shipped_order(shop_id, domain, tracking_number="YT2")
    await add_fulfillment(kit, shop_id, order.order_id, ["YT2"], "cancelled")
    assert await unsynced(kit) == [package_id]


async def test_fulfilment_of_another_order_does_not_count(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    _order, package_id = await kit.shipped_order(shop_id, domain, tracking_number="YT3")
    other = await kit.add_order(shop_id, domain, line_items=[{"sku": "X", "quantity": 1}])
    await add_fulfillment(kit, shop_id, other.order_id, ["YT3"], "success")
    assert await unsynced(kit) == [package_id]


async def test_succeeded_ledger_row_covers_the_package_before_the_next_read(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, package_id = await kit.shipped_order(shop_id, domain, tracking_number="YT4")
    await kit.fetchval(
        """
        INSERT INTO push (shop_id, order_id, package_ids, idempotency_key, kind, status)
        VALUES ($1, $2, $3, 'k', 'create', 'succeeded')
        """,
        shop_id,
        order.order_id,
        [package_id],
    )
    assert await unsynced(kit) == []


async def test_grace_period_and_superseded_packages_are_excluded(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    _order, package_id = await kit.shipped_order(shop_id, domain, tracking_number="YT5")
    assert await unsynced(kit, grace=timedelta(hours=1)) == []
    await kit.fetchval("UPDATE package SET superseded_at = now() WHERE package_id = $1", package_id)
    assert await unsynced(kit) == []


async def test_unlinked_supplier_order_is_not_in_this_class(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    _order, _ = await kit.shipped_order(shop_id, domain, tracking_number="YT6")
    await kit.fetchval("UPDATE supplier_order SET shopify_order_id = NULL")
    assert await unsynced(kit) == []


async def test_cte_embeds_in_a_larger_query_with_caller_numbering(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT7")
    count = await kit.fetchval(
        f"WITH unsynced AS ({unsynced_cte(grace='$2', shop_id='$1')})"
        " SELECT count(*) FROM unsynced",
        shop_id,
        timedelta(0),
    )
    assert count == 1
