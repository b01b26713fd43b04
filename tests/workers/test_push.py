"""The push job against the Shopify simulator: exactly one fulfilment per package."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from schema.classify.unsynced import unsynced_packages
from schema.queries.push import (
    pushable_orders,
    retire_settled_pending,
    shop_and_pushable_orders,
)
from simulator.shopify import FaultKind, FaultPlan
from tests.workers.pushkit import Kit, gid_number
from workers.jobs.push import OrderResult, lock_order, run_push_shop


async def test_push_creates_one_fulfilment_with_tracking_company_and_line_items(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, package_id = await kit.shipped_order(
        shop_id, domain, tracking_number="YT2412345678901234", skus=[("SKU-A", 2), ("SKU-B", 1)]
    )

    summary = await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert summary.results == {OrderResult.DONE: 1}
    fulfillments = kit.sim.fulfillments(domain, order.order_id)
    assert len(fulfillments) == 1
    fulfillment = fulfillments[0]
    assert [t["number"] for t in fulfillment["tracking"]] == ["YT2412345678901234"]
    assert fulfillment["tracking"][0]["company"] == "YunExpress"
    assert fulfillment["notify_customer"] is True
    assert sorted(
        (gid_number(i["line_item_id"]), i["quantity"]) for i in fulfillment["line_items"]
    ) == sorted([(order.line_item_id("SKU-A"), 2), (order.line_item_id("SKU-B"), 1)])
    ledger = await kit.fetch("SELECT status, fulfillment_id, package_ids FROM push")
    assert [(r["status"], r["package_ids"]) for r in ledger] == [("succeeded", [package_id])]
    assert ledger[0]["fulfillment_id"] == gid_number(fulfillment["id"])
    kinds = [
        r["kind"] for r in await kit.fetch("SELECT kind FROM order_event ORDER BY order_event_id")
    ]
    assert kinds == ["push.attempted", "push.created"]
    stored = await kit.fetch("SELECT tracking_numbers_norm FROM shopify_fulfillment")
    assert [r["tracking_numbers_norm"] for r in stored] == [["YT2412345678901234"]]


async def test_group_of_orders_gets_one_claim_and_one_result_per_order(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    numbers = ["YT0000000000000G1", "YT0000000000000G2", "YT0000000000000G3"]
    orders = [
        (await kit.shipped_order(shop_id, domain, tracking_number=number))[0] for number in numbers
    ]

    summary = await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert summary.results == {OrderResult.DONE: 3}
    assert kit.sim.fulfillment_count_by_tracking(domain) == dict.fromkeys(numbers, 1)
    ledger = await kit.fetch("SELECT order_id, status, attempts, fulfillment_id FROM push")
    assert sorted((r["order_id"], r["status"], r["attempts"]) for r in ledger) == sorted(
        (order.order_id, "succeeded", 1) for order in orders
    )
    for order in orders:
        [fulfillment] = kit.sim.fulfillments(domain, order.order_id)
        [row] = [r for r in ledger if r["order_id"] == order.order_id]
        assert row["fulfillment_id"] == gid_number(fulfillment["id"])
    events = await kit.fetch("SELECT order_id, kind FROM order_event ORDER BY order_event_id")
    for order in orders:
        kinds = [r["kind"] for r in events if r["order_id"] == order.order_id]
        assert kinds == ["push.attempted", "push.created"]
    stored = await kit.fetch("SELECT order_id, tracking_numbers FROM shopify_fulfillment")
    assert sorted((r["order_id"], r["tracking_numbers"]) for r in stored) == sorted(
        (order.order_id, [number]) for order, number in zip(orders, numbers, strict=True)
    )


async def test_push_twice_creates_nothing_more(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    _order, _ = await kit.shipped_order(shop_id, domain, tracking_number="LP00112233CN")

    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    second = await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert second.orders == 0
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"LP00112233CN": 1}


async def test_push_adopts_a_fulfilment_that_already_carries_the_number(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, package_id = await kit.shipped_order(shop_id, domain, tracking_number="LP 0011-2233 CN")
    fo = kit.sim.fulfillment_orders(domain, order.order_id)[0]
    merchant = kit.sim.create_fulfillment(
        domain,
        fulfillment_order_id=fo["id"],
        tracking_number="LP00112233CN",
        tracking_company="China Post",
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert len(kit.sim.fulfillments(domain, order.order_id)) == 1
    ledger = await kit.fetch("SELECT status, fulfillment_id, package_ids FROM push")
    assert [(r["status"], r["fulfillment_id"], r["package_ids"]) for r in ledger] == [
        ("adopted", gid_number(merchant), [package_id])
    ]


async def test_push_after_apply_then_timeout_adopts_instead_of_creating_twice(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    _order, _ = await kit.shipped_order(shop_id, domain, tracking_number="YT0000000000000001")
    kit.sim.set_faults(FaultPlan(hang_seconds=0.01), domain=domain)
    # The order read succeeds, then the mutation is applied but its answer is lost (504).
    kit.sim.queue_fault(FaultKind.NONE, domain=domain)
    kit.sim.queue_fault(FaultKind.APPLY_THEN_TIMEOUT, domain=domain)

    summary = await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert summary.results == {OrderResult.DONE: 1}
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT0000000000000001": 1}
    statuses = [r["status"] for r in await kit.fetch("SELECT status FROM push")]
    assert statuses == ["adopted"]
    kinds = [
        r["kind"] for r in await kit.fetch("SELECT kind FROM order_event ORDER BY order_event_id")
    ]
    assert kinds == ["push.attempted", "push.ambiguous", "push.adopted"]


async def test_push_retries_after_timeout_that_applied_nothing(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT0000000000000002")
    kit.sim.set_faults(FaultPlan(hang_seconds=0.01), domain=domain)
    kit.sim.queue_fault(FaultKind.NONE, domain=domain)
    kit.sim.queue_fault(FaultKind.TIMEOUT, domain=domain)

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT0000000000000002": 1}
    rows = await kit.fetch("SELECT status, attempts FROM push")
    assert [(r["status"], r["attempts"]) for r in rows] == [("succeeded", 2)]


async def test_push_blocks_package_on_held_fulfillment_order_and_pushes_after_release(
    kit: Kit,
) -> None:
    shop_id, domain = await kit.add_shop()
    order, package_id = await kit.shipped_order(
        shop_id, domain, tracking_number="YT0000000000000003"
    )
    fo = kit.sim.fulfillment_orders(domain, order.order_id)[0]
    kit.sim.hold_fulfillment_order(domain, fo["id"], reason="HIGH_RISK_OF_FRAUD")

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert kit.sim.fulfillments(domain, order.order_id) == []
    blocks = await kit.fetch("SELECT package_id, reason FROM push_block")
    assert [(r["package_id"], r["reason"]) for r in blocks] == [
        (package_id, "fulfillment_order_on_hold")
    ]
    # Blocked packages are not retried until the order changes.
    assert (await run_push_shop(kit.push_deps(), shop_id=shop_id)).orders == 0

    kit.sim.release_fulfillment_order(
        domain, kit.sim.fulfillment_orders(domain, order.order_id)[0]["id"]
    )
    await kit.fetchval(
        "UPDATE shopify_order SET needs_refresh = true, stored_at = now() WHERE order_id = $1",
        order.order_id,
    )
    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT0000000000000003": 1}
    assert await kit.fetch("SELECT * FROM push_block") == []


async def test_push_splits_a_package_across_two_locations_into_two_fulfilments(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(
        shop_id,
        domain,
        line_items=[
            {"sku": "SKU-A", "quantity": 1},
            {"sku": "SKU-B", "quantity": 1, "location": "Warehouse 2"},
        ],
    )
    supplier_order_id = await kit.add_supplier_order(order)
    await kit.add_package(
        order,
        supplier_order_id,
        tracking_number="YT0000000000000004",
        lines=[{"sku": "SKU-A", "quantity": 1}, {"sku": "SKU-B", "quantity": 1}],
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    fulfillments = kit.sim.fulfillments(domain, order.order_id)
    assert len(fulfillments) == 2
    assert len({f["location_id"] for f in fulfillments}) == 2
    assert all([t["number"] for t in f["tracking"]] == ["YT0000000000000004"] for f in fulfillments)
    assert [r["status"] for r in await kit.fetch("SELECT status FROM push")] == [
        "succeeded",
        "succeeded",
    ]


async def test_tracking_change_updates_the_fulfilment_instead_of_creating_one(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, old_package = await kit.shipped_order(
        shop_id, domain, tracking_number="YT0000000000000005"
    )
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    await kit.fetchval(
        "UPDATE package SET superseded_at = now() WHERE package_id = $1", old_package
    )
    await kit.add_package(
        order,
        order.supplier_order_ids[0],
        tracking_number="YT0000000000000006",
        lines=[{"line_item_id": order.line_item_id("SKU-A"), "quantity": 1}],
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    fulfillments = kit.sim.fulfillments(domain, order.order_id)
    assert len(fulfillments) == 1
    assert [t["number"] for t in fulfillments[0]["tracking"]] == ["YT0000000000000006"]
    kinds = [r["kind"] for r in await kit.fetch("SELECT kind FROM push ORDER BY push_id")]
    assert kinds == ["create", "update_tracking"]


async def test_notify_customer_and_carrier_follow_shop_settings(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop(
        settings={"notify_customer": False, "carrier_overrides": {"CJPacket Ordinary": "4PX"}}
    )
    order, _ = await kit.shipped_order(
        shop_id, domain, tracking_number="CJPKL7000000001", carrier="CJPacket Ordinary"
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    fulfillment = kit.sim.fulfillments(domain, order.order_id)[0]
    assert fulfillment["notify_customer"] is False
    assert fulfillment["tracking"][0]["company"] == "4PX"


async def test_unknown_carrier_sends_the_tracking_url(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(shop_id, domain, line_items=[{"sku": "SKU-A", "quantity": 1}])
    supplier_order_id = await kit.add_supplier_order(order)
    await kit.add_package(
        order,
        supplier_order_id,
        tracking_number="ZZ123",
        carrier="Tiny Courier",
        tracking_url="https://track.example/ZZ123",
        lines=[{"sku": "SKU-A", "quantity": 1}],
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    tracking = kit.sim.fulfillments(domain, order.order_id)[0]["tracking"][0]
    assert tracking == {
        "number": "ZZ123",
        "company": "Tiny Courier",
        "url": "https://track.example/ZZ123",
    }


async def test_revoked_token_marks_the_shop_needs_attention(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT0000000000000007")
    kit.sim.revoke_token(domain)

    summary = await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert summary.results == {OrderResult.SHOP_UNAVAILABLE: 1}
    row = (
        await kit.fetch("SELECT status, attention_reason FROM shop WHERE shop_id = $1", shop_id)
    )[0]
    assert row["status"] == "needs_attention"
    assert "401" in row["attention_reason"]


async def test_persistent_5xx_on_create_defers_the_ledger_row(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT0000000000000008")
    kit.sim.set_faults(FaultPlan(hang_seconds=0.01), domain=domain)
    # Every create answers 500 (ambiguous); every re-read succeeds.
    for _ in range(10):
        kit.sim.queue_fault(FaultKind.NONE, domain=domain)
        kit.sim.queue_fault(FaultKind.TIMEOUT, domain=domain)

    summary = await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert summary.results == {OrderResult.DEFERRED: 1}
    rows = await kit.fetch("SELECT status, next_attempt_at > now() AS later, last_error FROM push")
    assert [(r["status"], r["later"]) for r in rows] == [("pending", True)]
    assert kit.sim.fulfillment_count_by_tracking(domain) == {}
    # Deferred rows are not picked up again before their time.
    assert (await run_push_shop(kit.push_deps(), shop_id=shop_id)).orders == 0


async def test_user_errors_from_stale_state_replan_from_a_fresh_read(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, _ = await kit.shipped_order(shop_id, domain, tracking_number="YT0000000000000009")
    kit.sim.add_location(domain, "Overflow")
    moved = False

    class MoveBeforeCreate(httpx.AsyncBaseTransport):
        """Moves the fulfillment order between our read and our create, as a merchant might."""

        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal moved
            if b"fulfillmentCreate" in request.content and not moved:
                moved = True
                fo = kit.sim.fulfillment_orders(domain, order.order_id)[0]
                kit.sim.move_fulfillment_order(domain, fo["id"], location="Overflow")
            return await self.inner.handle_async_request(request)

    kit.shopify.http = httpx.AsyncClient(
        transport=MoveBeforeCreate(httpx.ASGITransport(app=kit.sim.app))
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert moved
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT0000000000000009": 1}
    kinds = [
        r["kind"] for r in await kit.fetch("SELECT kind FROM order_event ORDER BY order_event_id")
    ]
    assert kinds == ["push.attempted", "push.rejected", "push.attempted", "push.created"]
    await kit.shopify.http.aclose()


async def test_user_errors_twice_park_the_row_as_failed(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(shop_id, domain, line_items=[{"sku": "SKU-A", "quantity": 1}])
    supplier_order_id = await kit.add_supplier_order(order)
    package_id = await kit.add_package(
        order,
        supplier_order_id,
        tracking_number="YT000000000000000A",
        lines=[{"sku": "SKU-A", "quantity": 1}],
    )

    class RejectCreates(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if b"fulfillmentCreate" in request.content:
                return httpx.Response(
                    200,
                    json={
                        "data": {
                            "fulfillmentCreate": {
                                "fulfillment": None,
                                "userErrors": [
                                    {
                                        "field": ["fulfillment"],
                                        "message": "Tracking number is invalid",
                                    }
                                ],
                            }
                        }
                    },
                )
            return await httpx.ASGITransport(app=kit.sim.app).handle_async_request(request)

    kit.shopify.http = httpx.AsyncClient(transport=RejectCreates())

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    rows = await kit.fetch("SELECT status, last_error FROM push")
    assert [(r["status"], r["last_error"]) for r in rows] == [
        ("failed", "fulfillment: Tracking number is invalid")
    ]
    blocks = await kit.fetch("SELECT package_id, reason FROM push_block")
    assert [(r["package_id"], r["reason"]) for r in blocks] == [(package_id, "push_failed")]
    await kit.shopify.http.aclose()


async def test_concurrent_runs_for_one_order_push_once(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT000000000000000B")

    results = await asyncio.gather(
        *(run_push_shop(kit.push_deps(), shop_id=shop_id) for _ in range(4))
    )

    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT000000000000000B": 1}
    assert sum(r.results.get(OrderResult.DONE, 0) for r in results) >= 1


async def test_grace_period_holds_back_fresh_packages(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT000000000000000C")

    summary = await run_push_shop(kit.push_deps(grace=timedelta(hours=1)), shop_id=shop_id)

    assert summary.orders == 0
    async with kit.pool.acquire() as connection:
        assert await unsynced_packages(connection, grace=timedelta(hours=1)) == []


async def test_run_stops_starting_orders_after_its_time_budget(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT000000000000000D")

    summary = await run_push_shop(kit.push_deps(run_budget_seconds=-1.0), shop_id=shop_id)

    assert summary.results == {OrderResult.POSTPONED: 1}
    assert summary.needs_rerun
    assert kit.sim.fulfillment_count_by_tracking(domain) == {}


async def test_package_lines_in_ingest_format_match_by_shopify_line_item_id(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(
        shop_id,
        domain,
        line_items=[{"sku": "SKU-A", "quantity": 1}, {"sku": "SKU-B", "quantity": 1}],
    )
    supplier_order_id = await kit.add_supplier_order(order)
    await kit.add_package(
        order,
        supplier_order_id,
        tracking_number="YT000000000000000E",
        lines=[
            {
                "shopify_line_item_id": order.line_item_id("SKU-B"),
                "sku": None,
                "variant_id": None,
                "supplier_variant_id": "V1",
                "quantity": 1,
            }
        ],
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    [fulfillment] = kit.sim.fulfillments(domain, order.order_id)
    assert [(gid_number(i["line_item_id"]), i["quantity"]) for i in fulfillment["line_items"]] == [
        (order.line_item_id("SKU-B"), 1)
    ]


async def test_line_known_only_to_the_supplier_blocks_instead_of_guessing(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order = await kit.add_order(shop_id, domain, line_items=[{"sku": "SKU-A", "quantity": 1}])
    supplier_order_id = await kit.add_supplier_order(order)
    package_id = await kit.add_package(
        order,
        supplier_order_id,
        tracking_number="YT000000000000000F",
        lines=[{"shopify_line_item_id": None, "supplier_variant_id": "CJV9", "quantity": 1}],
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert kit.sim.fulfillments(domain, order.order_id) == []
    blocks = await kit.fetch("SELECT package_id, reason FROM push_block")
    assert [(r["package_id"], r["reason"]) for r in blocks] == [
        (package_id, "line_items_not_matched")
    ]


async def test_row_left_mid_call_by_a_dead_worker_is_not_resent_within_the_window(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    await kit.shipped_order(shop_id, domain, tracking_number="YT000000000000000G")
    create_started = asyncio.Event()

    class HangOnCreate(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if b"fulfillmentCreate" in request.content:
                create_started.set()
                await asyncio.Event().wait()
            return await httpx.ASGITransport(app=kit.sim.app).handle_async_request(request)

    real_http = kit.shopify.http
    kit.shopify.http = httpx.AsyncClient(transport=HangOnCreate())
    # The worker dies while its fulfillmentCreate is on the wire.
    run = asyncio.create_task(run_push_shop(kit.push_deps(), shop_id=shop_id))
    await create_started.wait()
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    await kit.shopify.http.aclose()
    kit.shopify.http = real_http

    waited = await run_push_shop(kit.push_deps(in_flight_window_seconds=60), shop_id=shop_id)

    assert waited.results == {OrderResult.DEFERRED: 1}
    assert kit.sim.fulfillment_count_by_tracking(domain) == {}
    row = (await kit.fetch("SELECT status, attempts, next_attempt_at > now() AS later FROM push"))[
        0
    ]
    assert (row["status"], row["attempts"], row["later"]) == ("pending", 1, True)

    await kit.fetchval("UPDATE push SET next_attempt_at = now()")
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT000000000000000G": 1}


async def test_pending_row_for_packages_synced_by_another_row_is_retired(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, package_id = await kit.shipped_order(
        shop_id, domain, tracking_number="YT000000000000000H"
    )
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    await kit.fetchval(
        """
        INSERT INTO push (shop_id, order_id, package_ids, idempotency_key, kind, status)
        VALUES ($1, $2, $3, 'stale-key', 'create', 'pending')
        """,
        shop_id,
        order.order_id,
        [package_id],
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    statuses = await kit.fetch("SELECT idempotency_key, status FROM push ORDER BY push_id")
    assert [r["status"] for r in statuses] == ["succeeded", "superseded"]


async def test_pending_row_both_superseded_and_adoptable_is_superseded_once(kit: Kit) -> None:
    # Another row synced its package, and that fulfilment is stored: the row qualifies for
    # both ways out. The one statement that retires rows must take the first, as the two
    # statements it replaced did, and count it once.
    shop_id, domain = await kit.add_shop()
    order, package_id = await kit.shipped_order(
        shop_id, domain, tracking_number="YT000000000000000K"
    )
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    await kit.fetchval(
        """
        INSERT INTO push (shop_id, order_id, package_ids, idempotency_key, kind, status,
                          updated_at)
        VALUES ($1, $2, $3, 'stale-key', 'create', 'pending', now() - interval '1 minute')
        """,
        shop_id,
        order.order_id,
        [package_id],
    )

    async with kit.pool.acquire() as connection:
        retired = await retire_settled_pending(connection, shop_id=shop_id)

    assert retired == 1
    rows = await kit.fetch("SELECT status, fulfillment_id FROM push ORDER BY push_id")
    assert [r["status"] for r in rows] == ["succeeded", "superseded"]
    assert rows[1]["fulfillment_id"] is None


class _CountingPool:
    """The kit's pool, recording every statement run on a connection borrowed from it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.statements: list[str] = []
        self.locks_at_release: list[int] = []

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        def record(query: Any) -> None:
            text = " ".join(query.query.split())
            # asyncpg's own type introspection, once per connection and type: not the run's.
            if "typeinfo_tree" not in text and "'jit'" not in text:
                self.statements.append(text)

        async with self.pool.acquire() as connection:
            connection.add_query_logger(record)
            try:
                yield connection
            finally:
                connection.remove_query_logger(record)
                # What the session still holds when handed back (the pool's reset would
                # release it, but the run must not rely on that).
                self.locks_at_release.append(
                    await connection.fetchval(
                        "SELECT count(*) FROM pg_locks"
                        " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                    )
                )


async def test_a_shop_run_of_new_orders_costs_six_statements(kit: Kit) -> None:
    # Every statement is a round trip that costs the worker and the database CPU, and a shop
    # with a few new orders is the usual run: shop and pushable orders, locks, packages, the
    # store and claims together, successes, and retiring settled rows with the unlocks.
    shop_id, domain = await kit.add_shop()
    for index in range(3):
        await kit.shipped_order(shop_id, domain, tracking_number=f"YT00000000000001S{index}")
    counting = _CountingPool(kit.pool)

    summary = await run_push_shop(kit.push_deps(pool=counting), shop_id=shop_id)

    assert summary.results == {OrderResult.DONE: 3}
    assert len(kit.sim.fulfillment_count_by_tracking(domain)) == 3
    assert len(counting.statements) == 6, [s[:40] for s in counting.statements]
    assert not any(s in {"BEGIN;", "COMMIT;"} for s in counting.statements)
    # The run released its order locks itself, before its connection went back to the pool.
    assert counting.locks_at_release == [0]


async def test_run_start_reads_the_shop_and_its_pushable_orders_oldest_first(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    first, _ = await kit.shipped_order(shop_id, domain, tracking_number="YT00000000000002A1")
    second, _ = await kit.shipped_order(shop_id, domain, tracking_number="YT00000000000002A2")

    async with kit.pool.acquire() as connection:
        record, orders = await shop_and_pushable_orders(
            connection, shop_id=shop_id, grace=timedelta(0), limit=10
        )
        expected = await pushable_orders(connection, shop_id=shop_id, grace=timedelta(0), limit=10)
        nothing = await shop_and_pushable_orders(
            connection, shop_id=shop_id + 1000, grace=timedelta(0), limit=10
        )

    assert record is not None
    assert (record.shop_id, record.domain, record.status) == (shop_id, domain, "active")
    assert orders == expected == [first.order_id, second.order_id]
    assert nothing == (None, [])


async def test_order_locked_elsewhere_is_reported_busy_and_left_alone(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, _ = await kit.shipped_order(shop_id, domain, tracking_number="YT000000000000000J")

    async with (
        kit.pool.acquire() as connection,
        lock_order(connection, shop_id=shop_id, order_id=order.order_id) as locked,
    ):
        assert locked
        summary = await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert summary.results == {OrderResult.BUSY: 1}
    assert kit.sim.fulfillment_count_by_tracking(domain) == {}
    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    assert kit.sim.fulfillment_count_by_tracking(domain) == {"YT000000000000000J": 1}


async def test_push_renews_an_expiring_token_before_calling_shopify(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    credentials = kit.sim.shop(domain)
    order, _ = await kit.shipped_order(
        shop_id, domain, tracking_number="YT2412345678900001", skus=[("SKU-A", 1)]
    )
    # A Dev Dashboard app's token, about to lapse: Shopify already refuses it.
    await kit.fetch(
        "UPDATE app SET client_id = $1, client_secret_enc = $2",
        credentials.client_id,
        kit.secrets.encrypt(credentials.client_secret),
    )
    await kit.fetch(
        "UPDATE shop SET token_expires_at = now() + interval '1 minute' WHERE shop_id = $1",
        shop_id,
    )
    kit.sim.expire_token(domain)

    summary = await run_push_shop(kit.push_deps(), shop_id=shop_id)

    assert summary.results == {OrderResult.DONE: 1}
    assert len(kit.sim.fulfillments(domain, order.order_id)) == 1
    (shop,) = await kit.fetch(
        "SELECT status, token_expires_at > now() + interval '1 hour' AS renewed FROM shop"
    )
    assert shop["status"] == "active"
    assert shop["renewed"] is True


async def test_pending_row_whose_fulfilment_arrived_another_way_is_adopted(kit: Kit) -> None:
    shop_id, domain = await kit.add_shop()
    order, package_id = await kit.shipped_order(
        shop_id, domain, tracking_number="YT2412345678900077", skus=[("SKU-A", 1)]
    )
    # The worker claimed the row and died after Shopify applied the call; the fulfilment then
    # reached us through its webhook, so nothing is left to push for this package.
    await kit.fetch(
        "INSERT INTO push (shop_id, order_id, package_ids, idempotency_key, kind, status,"
        " attempts, updated_at) VALUES ($1, $2, $3, 'k-lost', 'create', 'pending', 1,"
        " now() - interval '1 minute')",
        shop_id,
        order.order_id,
        [package_id],
    )
    await kit.fetch(
        "INSERT INTO shopify_fulfillment (shop_id, fulfillment_id, order_id, status,"
        " tracking_numbers, tracking_numbers_norm) VALUES ($1, 555, $2, 'SUCCESS',"
        " ARRAY['YT2412345678900077'], ARRAY['YT2412345678900077'])",
        shop_id,
        order.order_id,
    )

    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    (row,) = await kit.fetch("SELECT status, fulfillment_id FROM push")
    assert (row["status"], row["fulfillment_id"]) == ("adopted", 555)
    assert kit.sim.fulfillments(domain, order.order_id) == []
