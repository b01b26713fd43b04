"""The refresh job re-reads orders marked by fulfillment_orders/* webhooks."""

from schema.queries.fulfillment_orders import clear_refresh_flag, orders_needing_refresh
from tests.workers.pushkit import Kit, gid_number
from workers.jobs.push import run_push_shop
from workers.jobs.refresh import run_refresh_orders


async def test_refresh_stores_fulfillment_orders_and_clears_the_flag(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(
        shop_id,
        domain,
        line_items=[
            {"sku": "SKU-A", "quantity": 2},
            {"sku": "SKU-B", "quantity": 1, "location": "Depot"},
        ],
    )
    fo = kit.sim.fulfillment_orders(domain, order.order_id)[0]
    kit.sim.hold_fulfillment_order(domain, fo["id"], reason="AWAITING_PAYMENT")
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order.order_id
    )

    summary = await run_refresh_orders(kit.refresh_deps(), shop_id=shop_id)

    assert summary.refreshed == 1
    rows = await kit.fetch(
        "SELECT fulfillment_order_id, status, supported_actions, holds"
        " FROM shopify_fulfillment_order ORDER BY fulfillment_order_id"
    )
    expected = {
        gid_number(f["id"]): f["status"] for f in kit.sim.fulfillment_orders(domain, order.order_id)
    }
    assert {r["fulfillment_order_id"]: r["status"] for r in rows} == expected
    held = next(r for r in rows if r["status"] == "ON_HOLD")
    assert "CREATE_FULFILLMENT" not in held["supported_actions"]
    assert held["holds"][0]["reason"] == "AWAITING_PAYMENT"
    lines = await kit.fetch(
        "SELECT line_item_id, remaining_quantity FROM shopify_fulfillment_order_line"
    )
    assert sorted((r["line_item_id"], r["remaining_quantity"]) for r in lines) == sorted(
        [(order.line_item_id("SKU-A"), 2), (order.line_item_id("SKU-B"), 1)]
    )
    flag = await kit.fetchval(
        "SELECT needs_refresh FROM shopify_order WHERE order_id = $1", order.order_id
    )
    assert flag is False


async def test_refresh_replaces_fulfillment_orders_that_moved(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(shop_id, domain, line_items=[{"sku": "SKU-A", "quantity": 1}])
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order.order_id
    )
    await run_refresh_orders(kit.refresh_deps(), shop_id=shop_id)
    old = kit.sim.fulfillment_orders(domain, order.order_id)[0]["id"]
    kit.sim.add_location(domain, "Elsewhere")
    new = kit.sim.move_fulfillment_order(domain, old, location="Elsewhere")
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order.order_id
    )

    await run_refresh_orders(kit.refresh_deps(), shop_id=shop_id)

    rows = await kit.fetch("SELECT fulfillment_order_id, status FROM shopify_fulfillment_order")
    live = {r["fulfillment_order_id"] for r in rows if r["status"] in {"OPEN", "IN_PROGRESS"}}
    assert live == {gid_number(new)}


async def test_refresh_records_fulfilments_made_outside_dropsync(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(shop_id, domain, line_items=[{"sku": "SKU-A", "quantity": 1}])
    fo = kit.sim.fulfillment_orders(domain, order.order_id)[0]
    kit.sim.create_fulfillment(
        domain, fulfillment_order_id=fo["id"], tracking_number="1Z999", tracking_company="UPS"
    )
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order.order_id
    )

    await run_refresh_orders(kit.refresh_deps(), shop_id=shop_id)

    rows = await kit.fetch(
        "SELECT tracking_company, tracking_numbers, status FROM shopify_fulfillment"
    )
    assert [(r["tracking_company"], r["tracking_numbers"], r["status"]) for r in rows] == [
        ("UPS", ["1Z999"], "success")
    ]
    lines = await kit.fetch("SELECT line_item_id, quantity FROM shopify_fulfillment_line")
    assert [(r["line_item_id"], r["quantity"]) for r in lines] == [(order.line_item_id("SKU-A"), 1)]


async def test_flag_set_again_during_a_read_is_not_cleared(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(shop_id, domain, line_items=[{"sku": "SKU-A", "quantity": 1}])
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order.order_id
    )
    async with kit.pool.acquire() as connection:
        [(order_id, version)] = await orders_needing_refresh(connection, shop_id=shop_id, limit=10)
        # A fulfillment_orders/* webhook marks the order again while the read is in flight.
        await connection.execute(
            "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order_id
        )
        cleared = await clear_refresh_flag(
            connection, shop_id=shop_id, order_id=order_id, version=version
        )
    assert cleared is False
    flag = await kit.fetchval(
        "SELECT needs_refresh FROM shopify_order WHERE order_id = $1", order.order_id
    )
    assert flag is True


async def test_refresh_reports_pushable_work_after_a_hold_is_released(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, _ = await kit.shipped_order(shop_id, domain, tracking_number="YT1000000000000001")
    fo = kit.sim.fulfillment_orders(domain, order.order_id)[0]
    kit.sim.hold_fulfillment_order(domain, fo["id"])
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    kit.sim.release_fulfillment_order(
        domain, kit.sim.fulfillment_orders(domain, order.order_id)[0]["id"]
    )
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true WHERE order_id = $1", order.order_id
    )

    summary = await run_refresh_orders(kit.refresh_deps(), shop_id=shop_id)

    assert summary.has_pushable is True
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT1000000000000001": 1}
