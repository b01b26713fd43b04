"""Applying stored Shopify deliveries: state, out-of-order guard, idempotence, compliance."""

import random

import asyncpg
import orjson
import pytest

from schema.queries.inbox import (
    DeliveryStatus,
    NewShopifyDelivery,
    insert_shopify_deliveries,
    requeue_shopify_deliveries,
)
from service.runtime import Runtime
from tests.ingest_helpers import order_body, register_test_shop, sample, store_delivery
from workers.jobs.apply_shopify import run_apply_shopify
from workers.jobs.delivery_retry import MAX_ATTEMPTS


@pytest.fixture
async def shop_id(pool: asyncpg.Pool, runtime: Runtime) -> int:
    return await register_test_shop(pool, runtime.secrets)


async def _deliveries(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return await connection.fetch(
            "SELECT delivery_id, topic, status, error, attempts, body FROM webhook_delivery"
            " ORDER BY delivery_id"
        )


async def _order(pool: asyncpg.Pool, order_id: int = 820982911946154508) -> asyncpg.Record:
    async with pool.acquire() as connection:
        row = await connection.fetchrow("SELECT * FROM shopify_order WHERE order_id = $1", order_id)
    assert row is not None
    return row


async def test_sample_order_is_applied_with_line_items(pool: asyncpg.Pool, shop_id: int) -> None:
    await store_delivery(pool, shop_id, sample("orders-create"), topic="orders/create")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"applied": 1}
    async with pool.acquire() as connection:
        order = await connection.fetchrow("SELECT * FROM shopify_order")
        lines = await connection.fetchval("SELECT count(*) FROM shopify_line_item")
        events = await connection.fetch("SELECT kind FROM order_event")
    assert order is not None
    assert order["order_id"] == 820982911946154508
    assert order["name"] == "#9999"
    assert lines >= 1
    assert [e["kind"] for e in events] == ["webhook.applied"]
    (row,) = await _deliveries(pool)
    assert row["status"] == "applied"


async def test_older_snapshot_arriving_late_does_not_overwrite(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    newer = order_body(updated_at="2026-01-01T10:00:05Z", financial_status="refunded")
    older = order_body(updated_at="2026-01-01T10:00:01Z", financial_status="paid")
    await store_delivery(pool, shop_id, newer, topic="orders/updated")
    await run_apply_shopify(pool, shop_id=shop_id)
    await store_delivery(pool, shop_id, older, topic="orders/updated")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"ignored": 1}
    assert (await _order(pool))["financial_status"] == "refunded"
    assert (await _deliveries(pool))[1]["error"].startswith("stale")


async def test_reordered_deliveries_in_one_batch_keep_the_newest(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    await store_delivery(
        pool,
        shop_id,
        order_body(updated_at="2026-01-01T10:00:09Z", financial_status="refunded"),
        topic="orders/updated",
    )
    await store_delivery(
        pool,
        shop_id,
        order_body(updated_at="2026-01-01T10:00:01Z", financial_status="pending"),
        topic="orders/create",
    )
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"applied": 1, "ignored": 1}
    assert (await _order(pool))["financial_status"] == "refunded"


async def test_same_second_updates_are_ordered_by_triggered_at(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    same_second = "2026-01-01T10:00:00Z"
    await store_delivery(
        pool,
        shop_id,
        order_body(updated_at=same_second, financial_status="refunded"),
        topic="orders/updated",
        triggered_at="2026-01-01T10:00:00.900Z",
    )
    await run_apply_shopify(pool, shop_id=shop_id)
    await store_delivery(
        pool,
        shop_id,
        order_body(updated_at=same_second, financial_status="paid"),
        topic="orders/updated",
        triggered_at="2026-01-01T10:00:00.100Z",
    )
    await run_apply_shopify(pool, shop_id=shop_id)
    assert (await _order(pool))["financial_status"] == "refunded"


async def test_applying_a_delivery_twice_changes_nothing(pool: asyncpg.Pool, shop_id: int) -> None:
    await store_delivery(pool, shop_id, sample("orders-create"), topic="orders/create")
    await run_apply_shopify(pool, shop_id=shop_id)
    before = dict(await _order(pool))
    async with pool.acquire() as connection:
        lines_before = await connection.fetch("SELECT * FROM shopify_line_item ORDER BY 2")
        counts = await requeue_shopify_deliveries(connection, shop_id=shop_id)
    assert counts == {shop_id: 1}
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"ignored": 1}
    assert dict(await _order(pool)) == before
    async with pool.acquire() as connection:
        assert await connection.fetch("SELECT * FROM shopify_line_item ORDER BY 2") == lines_before


async def test_fulfillment_before_its_order_creates_a_stub_then_the_order_fills_it(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    fulfillment = orjson.loads(sample("fulfillments-create"))
    await store_delivery(pool, shop_id, sample("fulfillments-create"), topic="fulfillments/create")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"applied": 1}
    async with pool.acquire() as connection:
        stored = await connection.fetchrow("SELECT * FROM shopify_fulfillment")
        stub = await connection.fetchrow("SELECT * FROM shopify_order")
    assert stored is not None
    assert stub is not None
    assert stored["tracking_numbers"] == fulfillment["tracking_numbers"]
    assert stored["tracking_numbers_norm"] == ["1Z827WK74630"]
    assert stub["needs_refresh"] is True
    assert stub["order_id"] == stored["order_id"]


async def test_fulfillment_order_hint_marks_order_for_refresh(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    await store_delivery(pool, shop_id, order_body(), topic="orders/create")
    await run_apply_shopify(pool, shop_id=shop_id)
    hint = sample("fulfillment_orders-order_routing_complete")
    await store_delivery(pool, shop_id, hint, topic="fulfillment_orders/order_routing_complete")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"applied": 1}
    assert report.refresh_orders == [820982911946154508]
    assert (await _order(pool))["needs_refresh"] is True


async def test_malformed_body_is_parked_failed_at_once(pool: asyncpg.Pool, shop_id: int) -> None:
    await store_delivery(pool, shop_id, b'{"id": oops', topic="orders/create")
    await store_delivery(pool, shop_id, orjson.dumps({"id": 1}), topic="orders/updated")
    await store_delivery(pool, shop_id, order_body(), topic="orders/paid")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"failed": 2, "applied": 1}
    rows = await _deliveries(pool)
    assert [r["status"] for r in rows] == ["failed", "failed", "applied"]
    assert all("does not parse" in r["error"] for r in rows[:2])


async def test_unknown_topic_is_ignored(pool: asyncpg.Pool, shop_id: int) -> None:
    await store_delivery(pool, shop_id, b'{"anything": true}', topic="products/update")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"ignored": 1}


async def test_database_error_retries_with_backoff_then_parks(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    # A line item with a negative-free but out-of-range quantity breaks the insert (integer
    # overflow), a database error rather than a parse error.
    bad = order_body(
        line_items=[
            {
                "id": 1,
                "title": "x",
                "quantity": 2**40,
                "fulfillable_quantity": 1,
                "admin_graphql_api_id": "gid://shopify/LineItem/1",
            }
        ]
    )
    await store_delivery(pool, shop_id, bad, topic="orders/create")
    await store_delivery(pool, shop_id, order_body(order_id=42), topic="orders/create")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"pending": 1, "applied": 1}
    rows = await _deliveries(pool)
    assert rows[0]["status"] == "pending"
    assert rows[0]["attempts"] == 1
    async with pool.acquire() as connection:
        await connection.execute(
            "UPDATE webhook_delivery SET attempts = $1, next_attempt_at = now()"
            " WHERE delivery_id = $2",
            MAX_ATTEMPTS - 1,
            rows[0]["delivery_id"],
        )
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"failed": 1}
    assert "gave up" in (await _deliveries(pool))[0]["error"]


async def test_customers_redact_erases_pii_and_a_replay_cannot_restore_it(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    await store_delivery(pool, shop_id, order_body(), topic="orders/create")
    await run_apply_shopify(pool, shop_id=shop_id)
    redact = orjson.dumps(
        {
            "shop_id": 954889,
            "shop_domain": "acme.myshopify.com",
            "customer": {"id": 115310627314723954, "email": "jon@example.com", "phone": None},
            "orders_to_redact": [820982911946154508],
        }
    )
    await store_delivery(pool, shop_id, redact, topic="customers/redact")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"applied": 1}
    order = await _order(pool)
    assert (order["email"], order["customer_id"], order["shipping_address"]) == (None, None, None)
    assert order["pii_redacted_at"] is not None
    rows = await _deliveries(pool)
    assert all(r["body"] is None for r in rows)
    # Shopify retries carry the original payload: a late copy must not bring the data back.
    await store_delivery(
        pool, shop_id, order_body(updated_at="2026-02-01T00:00:00Z"), topic="orders/updated"
    )
    await run_apply_shopify(pool, shop_id=shop_id)
    order = await _order(pool)
    assert (order["email"], order["customer_id"], order["shipping_address"]) == (None, None, None)
    async with pool.acquire() as connection:
        requeued = await requeue_shopify_deliveries(
            connection, shop_id=shop_id, delivery_ids=[rows[0]["delivery_id"]]
        )
    assert requeued == {}


async def test_data_request_reports_without_copying_personal_data(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    await store_delivery(pool, shop_id, order_body(), topic="orders/create")
    request = orjson.dumps(
        {
            "shop_id": 954889,
            "shop_domain": "acme.myshopify.com",
            "orders_requested": [820982911946154508],
            "customer": {"id": 115310627314723954, "email": "jon@example.com", "phone": None},
            "data_request": {"id": 9999},
        }
    )
    await store_delivery(pool, shop_id, request, topic="customers/data_request")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"applied": 2}
    async with pool.acquire() as connection:
        detail = await connection.fetchval(
            "SELECT detail FROM order_event WHERE kind = 'compliance.data_request'"
        )
    assert detail["orders"][0]["order_id"] == 820982911946154508
    assert detail["orders"][0]["holds_email"] is True
    assert "jon@example.com" not in orjson.dumps(detail).decode()


async def test_app_uninstalled_stops_work_and_shop_redact_erases_the_shop(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    await store_delivery(pool, shop_id, order_body(), topic="orders/create")
    await store_delivery(
        pool,
        shop_id,
        orjson.dumps({"id": 954889, "myshopify_domain": "acme.myshopify.com"}),
        topic="app/uninstalled",
        triggered_at="2030-01-01T00:00:00Z",
    )
    await run_apply_shopify(pool, shop_id=shop_id)
    async with pool.acquire() as connection:
        shop = await connection.fetchrow("SELECT status, access_token_enc FROM shop")
    assert shop is not None
    assert shop["status"] == "uninstalled"
    assert shop["access_token_enc"] is None
    await store_delivery(pool, shop_id, order_body(order_id=7), topic="orders/create")
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"ignored": 1}
    await store_delivery(
        pool,
        shop_id,
        orjson.dumps({"shop_id": 954889, "shop_domain": "acme.myshopify.com"}),
        topic="shop/redact",
        triggered_at="2030-01-03T00:00:00Z",
    )
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.shop_erased
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM shop") == 0
        assert await connection.fetchval("SELECT count(*) FROM shopify_order") == 0
        assert await connection.fetchval("SELECT count(*) FROM webhook_delivery") == 0


async def test_failed_at_edge_deliveries_are_never_claimed(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    async with pool.acquire() as connection:
        await insert_shopify_deliveries(
            connection,
            [
                NewShopifyDelivery(
                    shop_id=shop_id,
                    webhook_id="x",
                    event_id=None,
                    topic="orders/create",
                    api_version=None,
                    triggered_at=None,
                    headers={},
                    body=b"a=b",
                    status=DeliveryStatus.FAILED,
                    error="unexpected content type",
                )
            ],
        )
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.claimed == 0


async def test_every_documented_sample_applies_without_failure(
    pool: asyncpg.Pool, shop_id: int
) -> None:
    topics = {
        "orders-create": "orders/create",
        "fulfillments-create": "fulfillments/create",
        "fulfillment_orders-order_routing_complete": "fulfillment_orders/order_routing_complete",
        "fulfillment_orders-placed_on_hold": "fulfillment_orders/placed_on_hold",
        "fulfillment_orders-hold_released": "fulfillment_orders/hold_released",
        "fulfillment_orders-cancelled": "fulfillment_orders/cancelled",
        "fulfillment_orders-fulfillment_request_submitted": (
            "fulfillment_orders/fulfillment_request_submitted"
        ),
    }
    # Reversed: the fulfilment and the hints arrive before the order they belong to.
    for name, topic in reversed(topics.items()):
        await store_delivery(pool, shop_id, sample(name), topic=topic)
    report = await run_apply_shopify(pool, shop_id=shop_id)
    assert report.statuses == {"applied": len(topics)}
    async with pool.acquire() as connection:
        order = await connection.fetchrow("SELECT name, updated_at FROM shopify_order")
        fulfillments = await connection.fetchval("SELECT count(*) FROM shopify_fulfillment")
    assert order is not None
    assert order["name"] == "#9999"
    assert fulfillments == 1


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_any_arrival_order_and_batching_converges_to_the_newest(
    pool: asyncpg.Pool, shop_id: int, seed: int
) -> None:
    rng = random.Random(seed)
    statuses = ["pending", "authorized", "paid", "partially_refunded", "refunded", "voided"]
    versions = [
        (order_body(updated_at=f"2026-01-01T10:00:0{i}Z", financial_status=status), status)
        for i, status in enumerate(statuses)
    ]
    # Duplicates too: Shopify may deliver the same update more than once.
    arrivals = versions + rng.sample(versions, 3)
    rng.shuffle(arrivals)
    for body, _ in arrivals:
        await store_delivery(pool, shop_id, body, topic="orders/updated")
        if rng.random() < 0.4:  # apply at random points: batches of varying size
            await run_apply_shopify(pool, shop_id=shop_id)
    await run_apply_shopify(pool, shop_id=shop_id)
    assert (await _order(pool))["financial_status"] == statuses[-1]
