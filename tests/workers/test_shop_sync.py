"""Connect, backfill, poll and watchdog against the Shopify simulator."""

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from clients.shopify import RetryPolicy, ShopifyClient
from clients.shopify_sync import SYNC_TOPICS, order_window_query
from schema.queries.shops import get_shop, insert_shop, upsert_app
from schema.queries.sync_state import get_shop_sync_state, start_backfill
from service.runtime import Runtime
from tests.workers.pushkit import Kit, gid_number, make_kit
from workers.jobs.shop_sync import (
    SyncDeps,
    run_connect_shop,
    run_poll_shop,
    run_watchdog_shop,
)

_domains = itertools.count(1)
HOOK_URI = "https://dropsync.test/webhooks/shopify"


@pytest.fixture
async def kit(pool: asyncpg.Pool, runtime: Runtime) -> AsyncIterator[Kit]:
    made = await make_kit(pool, runtime.secrets)
    yield made
    await made.http.aclose()
    await made.sim.aclose()


def _a_moment_later() -> datetime:
    # Orders created by the test are older than the run's start (Shopify counts in seconds).
    return datetime.now(UTC) + timedelta(seconds=2)


def deps(kit: Kit, runtime: Runtime) -> SyncDeps:
    return SyncDeps(
        pool=kit.pool,
        shopify=kit.shopify,
        http=kit.http,
        secrets=kit.secrets,
        settings=runtime.settings,
        clock=_a_moment_later,
    )


async def add_shop(kit: Kit, *, kind: str = "legacy") -> tuple[int, str]:
    domain = f"sync-{next(_domains)}.myshopify.com"
    credentials = kit.sim.add_shop(domain)
    async with kit.pool.acquire() as connection:
        app_id = await upsert_app(
            connection,
            name=f"app-{domain}",
            kind=kind,
            client_id=credentials.client_id,
            client_secret_enc=kit.secrets.encrypt(credentials.client_secret),
        )
        shop = await insert_shop(
            connection,
            domain=domain,
            app_id=app_id,
            access_token_enc=kit.secrets.encrypt(credentials.access_token),
        )
    return shop.shop_id, domain


def create_orders(kit: Kit, domain: str, count: int) -> list[int]:
    return [
        gid_number(
            kit.sim.create_order(
                domain, line_items=[{"sku": f"SKU-{n}", "quantity": 1}], routing_delay=0
            )["id"]
        )
        for n in range(count)
    ]


async def stored_orders(kit: Kit, shop_id: int) -> dict[int, asyncpg.Record]:
    rows = await kit.fetch(
        "SELECT order_id, cancelled_at, needs_refresh, updated_at FROM shopify_order"
        " WHERE shop_id = $1",
        shop_id,
    )
    return {row["order_id"]: row for row in rows}


def test_order_window_query_is_half_open() -> None:
    query = order_window_query(
        since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    assert query == "updated_at:>='2026-01-01T00:00:00Z' AND updated_at:<'2026-01-02T03:04:05Z'"


async def test_poll_stores_every_order_across_pages_and_marks_them_for_refresh(
    kit: Kit, runtime: Runtime
) -> None:
    shop_id, domain = await add_shop(kit)
    order_ids = create_orders(kit, domain, 23)  # three pages of ten
    summary = await run_poll_shop(deps(kit, runtime), shop_id=shop_id)
    assert summary.error is None
    assert summary.pages == 3
    stored = await stored_orders(kit, shop_id)
    assert set(stored) == set(order_ids)
    assert all(row["needs_refresh"] for row in stored.values())
    async with kit.pool.acquire() as connection:
        state = await get_shop_sync_state(connection, shop_id)
    assert state is not None
    assert state.orders_watermark is not None
    assert state.last_poll_ok_at is not None
    assert state.poll_failures == 0


async def test_second_poll_reads_only_what_changed_and_catches_a_cancellation(
    kit: Kit, runtime: Runtime
) -> None:
    shop_id, domain = await add_shop(kit)
    order_ids = create_orders(kit, domain, 5)
    sync = deps(kit, runtime)
    await run_poll_shop(sync, shop_id=shop_id)
    # As if the refresh job had re-read them.
    await kit.pool.execute("UPDATE shopify_order SET needs_refresh = false, refreshed_at = now()")
    await asyncio.sleep(1.1)  # Shopify's updatedAt has one-second resolution
    kit.sim.cancel_order(domain, order_ids[2])
    summary = await run_poll_shop(sync, shop_id=shop_id)
    assert summary.written == 1
    stored = await stored_orders(kit, shop_id)
    assert stored[order_ids[2]]["cancelled_at"] is not None
    assert stored[order_ids[2]]["needs_refresh"]
    assert not stored[order_ids[0]]["needs_refresh"]


async def test_connect_subscribes_every_topic_once_and_backfills_with_progress(
    kit: Kit, runtime: Runtime
) -> None:
    shop_id, domain = await add_shop(kit)
    order_ids = create_orders(kit, domain, 12)
    sync = deps(kit, runtime)
    async with kit.pool.acquire() as connection:
        await start_backfill(connection, shop_id=shop_id, since=sync.clock() - timedelta(days=60))
    summary = await run_connect_shop(sync, shop_id=shop_id)
    assert summary.error is None
    assert sorted(summary.webhooks_created) == sorted(SYNC_TOPICS)
    subscriptions = kit.sim.subscriptions(domain)
    assert sorted(s["topic"] for s in subscriptions) == sorted(SYNC_TOPICS)
    assert {s["uri"] for s in subscriptions} == {HOOK_URI}
    assert not any(s["topic"].startswith(("CUSTOMERS_", "SHOP_")) for s in subscriptions)
    async with kit.pool.acquire() as connection:
        state = await get_shop_sync_state(connection, shop_id)
    assert state is not None
    assert state.backfill_status == "done"
    assert state.backfill_orders == 12
    assert state.backfill_total == 12
    assert state.orders_watermark is not None
    assert set(await stored_orders(kit, shop_id)) == set(order_ids)
    # Connecting again creates nothing twice.
    again = await run_connect_shop(sync, shop_id=shop_id)
    assert again.webhooks_created == []
    assert len(kit.sim.subscriptions(domain)) == len(SYNC_TOPICS)


async def test_watchdog_recreates_a_deleted_subscription_and_reads_the_gap(
    kit: Kit, runtime: Runtime
) -> None:
    shop_id, domain = await add_shop(kit)
    sync = deps(kit, runtime)
    await run_connect_shop(sync, shop_id=shop_id)
    doomed = next(s for s in kit.sim.subscriptions(domain) if s["topic"] == "ORDERS_UPDATED")
    token = kit.secrets.decrypt(
        await kit.fetchval("SELECT access_token_enc FROM shop WHERE shop_id = $1", shop_id)
    )
    await kit.shopify.execute(
        domain,
        token,
        "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId"
        " userErrors { message } } }",
        {"id": doomed["id"]},
    )
    missed = create_orders(kit, domain, 3)
    summary = await run_watchdog_shop(sync, shop_id=shop_id)
    assert summary.webhooks_created == ["ORDERS_UPDATED"]
    assert "ORDERS_UPDATED" in {s["topic"] for s in kit.sim.subscriptions(domain)}
    assert set(missed) <= set(await stored_orders(kit, shop_id))


async def test_revoked_legacy_token_marks_shop_needs_attention(kit: Kit, runtime: Runtime) -> None:
    shop_id, domain = await add_shop(kit, kind="legacy")
    kit.sim.revoke_token(domain)
    summary = await run_poll_shop(deps(kit, runtime), shop_id=shop_id)
    assert summary.error is not None
    async with kit.pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
        state = await get_shop_sync_state(connection, shop_id)
    assert shop is not None
    assert shop.status == "needs_attention"
    assert shop.attention_reason is not None
    assert state is not None
    assert state.poll_failures == 1


async def test_expired_custom_app_token_is_renewed_and_the_poll_succeeds(
    kit: Kit, runtime: Runtime
) -> None:
    shop_id, domain = await add_shop(kit, kind="custom")
    order_ids = create_orders(kit, domain, 2)
    kit.sim.expire_token(domain)
    summary = await run_poll_shop(deps(kit, runtime), shop_id=shop_id)
    assert summary.error is None
    assert set(await stored_orders(kit, shop_id)) == set(order_ids)
    async with kit.pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
    assert shop is not None
    assert shop.status == "active"
    assert shop.token_expires_at is not None


async def test_one_shops_failure_does_not_stop_another(kit: Kit, runtime: Runtime) -> None:
    broken_id, broken = await add_shop(kit)
    healthy_id, healthy = await add_shop(kit)
    kit.sim.revoke_token(broken)
    order_ids = create_orders(kit, healthy, 3)
    sync = deps(kit, runtime)
    results = await asyncio.gather(
        run_poll_shop(sync, shop_id=broken_id), run_poll_shop(sync, shop_id=healthy_id)
    )
    assert results[0].error is not None
    assert results[1].error is None
    assert set(await stored_orders(kit, healthy_id)) == set(order_ids)


async def test_uninstalled_shop_is_not_polled(kit: Kit, runtime: Runtime) -> None:
    shop_id, domain = await add_shop(kit)
    create_orders(kit, domain, 2)
    await kit.pool.execute("UPDATE shop SET status = 'uninstalled' WHERE shop_id = $1", shop_id)
    calls_before = len(kit.sim.calls)
    summary = await run_poll_shop(deps(kit, runtime), shop_id=shop_id)
    assert summary.error is not None
    assert len(kit.sim.calls) == calls_before
    assert await stored_orders(kit, shop_id) == {}


async def test_access_denied_flags_the_shop_for_a_person(
    pool: asyncpg.Pool, runtime: Runtime
) -> None:
    # Shopify answers 403 when a scope is missing or protected data is not approved.
    def forbidden(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"errors": "[API] This action requires merchant approval"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(forbidden)) as http:
        async with pool.acquire() as connection:
            app_id = await upsert_app(
                connection, name="denied", kind="legacy", client_id=None, client_secret_enc=None
            )
            shop = await insert_shop(
                connection,
                domain="denied.myshopify.com",
                app_id=app_id,
                access_token_enc=runtime.secrets.encrypt("shpat_x"),
            )
        sync = SyncDeps(
            pool=pool,
            shopify=ShopifyClient(http=http, retry=RetryPolicy(max_attempts=1)),
            http=http,
            secrets=runtime.secrets,
            settings=runtime.settings,
            clock=_a_moment_later,
        )
        summary = await run_poll_shop(sync, shop_id=shop.shop_id)
    assert summary.error is not None
    async with pool.acquire() as connection:
        flagged = await get_shop(connection, shop.shop_id)
    assert flagged is not None
    assert flagged.status == "needs_attention"
    assert flagged.attention_reason is not None
    assert flagged.attention_reason.startswith("Shopify denied access")
