"""Cut-over: packages shipped before the shop's cut-over date are reported, never pushed,
until the operator opts in with an earlier date."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from schema.classify.unsynced import unsynced_packages
from schema.queries.connect import set_shop_setting
from service.connect import CUTOVER_SETTING
from service.runtime import Runtime
from tests.workers.pushkit import Kit, make_kit
from workers.jobs.push import run_push_shop


@pytest.fixture
async def kit(pool: asyncpg.Pool, runtime: Runtime) -> AsyncIterator[Kit]:
    made = await make_kit(pool, runtime.secrets)
    yield made
    await made.http.aclose()
    await made.sim.aclose()


async def test_package_shipped_before_cutover_is_reported_not_pushed(kit: Kit) -> None:
    connected_at = datetime.now(UTC)
    shop_id, domain = await kit.add_shop(settings={CUTOVER_SETTING: connected_at.isoformat()})
    order, package_id = await kit.shipped_order(shop_id, domain, tracking_number="YT100")
    # shipped_order ships five minutes ago: before the connection.
    summary = await run_push_shop(kit.push_deps(), shop_id=shop_id)
    assert kit.sim.fulfillments(domain, order.order_id) == []
    async with kit.pool.acquire() as connection:
        unsynced = await unsynced_packages(connection, grace=timedelta(0), shop_id=shop_id)
    assert [(p.package_id, p.before_cutover) for p in unsynced] == [(package_id, True)]
    assert not summary.orders


async def test_opting_in_with_an_earlier_date_pushes_the_package_once(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop(settings={CUTOVER_SETTING: datetime.now(UTC).isoformat()})
    await kit.shipped_order(shop_id, domain, tracking_number="YT200")
    async with kit.pool.acquire() as connection:
        await set_shop_setting(
            connection,
            shop_id=shop_id,
            key=CUTOVER_SETTING,
            value=(datetime.now(UTC) - timedelta(days=1)).isoformat(),
        )
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT200": 1}


async def test_package_shipped_after_cutover_is_pushed(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop(
        settings={CUTOVER_SETTING: (datetime.now(UTC) - timedelta(hours=1)).isoformat()}
    )
    await kit.shipped_order(shop_id, domain, tracking_number="YT300")
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT300": 1}
