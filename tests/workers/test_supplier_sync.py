"""Supplier polling and CJ webhook re-registration against the supplier simulator."""

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson
import pytest

from schema.queries.shops import insert_shop, upsert_app
from service.runtime import Runtime
from simulator.suppliers import (
    LineItem,
    ShipmentSpec,
    Supplier,
    SupplierOrder,
    SupplierSimulator,
    create_app,
)
from workers.jobs.apply_supplier import run_apply_supplier
from workers.jobs.supplier_sync import (
    SupplierSyncDeps,
    run_discover_cj_orders,
    run_poll_supplier,
    run_supplier_watchdog,
)

_names = itertools.count(1)
HOOK = "https://dropsync.test/webhooks/cj/1/secret-token"


@pytest.fixture
def sim() -> SupplierSimulator:
    return SupplierSimulator(seed=3)


@pytest.fixture
async def http(sim: SupplierSimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


def deps(pool: asyncpg.Pool, runtime: Runtime, http: httpx.AsyncClient) -> SupplierSyncDeps:
    settings = runtime.settings.model_copy(
        update={
            "cj_api_url": "https://suppliers.test/api2.0/v1",
            "aliexpress_api_url": "https://suppliers.test/sync",
        }
    )
    return SupplierSyncDeps(pool=pool, http=http, secrets=runtime.secrets, settings=settings)


async def setup_account(
    pool: asyncpg.Pool,
    runtime: Runtime,
    *,
    kind: str,
    secrets: dict[str, str],
    settings: dict[str, object] | None = None,
) -> tuple[int, int]:
    async with pool.acquire() as connection:
        app_id = await upsert_app(
            connection,
            name=f"app-{next(_names)}",
            kind="legacy",
            client_id=None,
            client_secret_enc=None,
        )
        shop = await insert_shop(
            connection,
            domain=f"supplier-{next(_names)}.myshopify.com",
            app_id=app_id,
            access_token_enc=runtime.secrets.encrypt("shpat_x"),
        )
        account_id: int = await connection.fetchval(
            """
            INSERT INTO supplier_account (kind, name, secrets_enc, settings, default_shop_id)
            VALUES ($1, $2, $3, $4, $5) RETURNING account_id
            """,
            kind,
            f"{kind}-{next(_names)}",
            runtime.secrets.encrypt(orjson.dumps(secrets).decode()),
            settings or {},
            shop.shop_id,
        )
    return shop.shop_id, account_id


async def add_supplier_order(
    pool: asyncpg.Pool, *, shop_id: int, account_id: int, external_id: str
) -> int:
    async with pool.acquire() as connection:
        found: int = await connection.fetchval(
            """
            INSERT INTO supplier_order (shop_id, account_id, external_id, external_id_norm,
                                        status, updated_at)
            VALUES ($1, $2, $3::text, upper($3::text), 'placed', now() - interval '1 hour')
            RETURNING supplier_order_id
            """,
            shop_id,
            account_id,
            external_id,
        )
    return found


def items() -> list[LineItem]:
    return [LineItem(quantity=1, sku="A"), LineItem(quantity=1, sku="B")]


async def packages(pool: asyncpg.Pool, supplier_order_id: int) -> list[str]:
    rows = await pool.fetch(
        "SELECT tracking_number FROM package WHERE supplier_order_id = $1 ORDER BY package_id",
        supplier_order_id,
    )
    return [row["tracking_number"] for row in rows]


async def aliexpress_split_shipment(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, *, reference: str
) -> tuple[int, int, SupplierOrder, int]:
    """An AliExpress account and order shipped in two parcels (one item each), stored
    unpolled: (shop id, account id, the simulator's order, our supplier order id)."""
    shop_id, account_id = await setup_account(
        pool,
        runtime,
        kind="aliexpress",
        secrets={"app_key": "500001", "app_secret": "ae-test-secret", "session": "ae-test-session"},
    )
    placed = sim.place_order(Supplier.ALIEXPRESS, merchant_reference=reference, line_items=items())
    sim.ship(
        placed.supplier_order_id,
        packages=[
            ShipmentSpec(line_items=(LineItem(quantity=1, sku="A"),)),
            ShipmentSpec(line_items=(LineItem(quantity=1, sku="B"),)),
        ],
    )
    order_id = await add_supplier_order(
        pool, shop_id=shop_id, account_id=account_id, external_id=placed.supplier_order_id
    )
    return shop_id, account_id, placed, order_id


async def test_aliexpress_poll_stores_every_parcel_of_a_split_shipment_once(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id, placed, order_id = await aliexpress_split_shipment(
        pool, runtime, sim, reference="#1"
    )
    sync = deps(pool, runtime, http)
    summary = await run_poll_supplier(sync, account_id=account_id)
    assert summary.error is None
    assert summary.new_packages == 2
    assert summary.shops_to_push == {shop_id}
    assert sorted(await packages(pool, order_id)) == sorted(
        p.tracking_number for p in placed.packages
    )
    status = await pool.fetchval(
        "SELECT status FROM supplier_order WHERE supplier_order_id = $1", order_id
    )
    assert status == "shipped"
    # A shipped order is no longer due: the next poll reads nothing.
    again = await run_poll_supplier(sync, account_id=account_id)
    assert again.polled == 0


async def test_order_without_tracking_is_backed_off_exponentially(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id = await setup_account(
        pool, runtime, kind="cj", secrets={"access_token": "cj-test-token"}
    )
    placed = sim.place_order(Supplier.CJ, merchant_reference="#2", line_items=items())
    order_id = await add_supplier_order(
        pool, shop_id=shop_id, account_id=account_id, external_id=placed.supplier_order_id
    )
    sync = deps(pool, runtime, http)
    first = await run_poll_supplier(sync, account_id=account_id)
    assert first.still_waiting == 1
    row = await pool.fetchrow(
        "SELECT poll_failures, next_poll_at FROM supplier_order WHERE supplier_order_id = $1",
        order_id,
    )
    assert row is not None
    assert row["poll_failures"] == 1
    first_wait = row["next_poll_at"] - datetime.now(UTC)
    # Not due yet: a second poll skips it.
    assert (await run_poll_supplier(sync, account_id=account_id)).polled == 0
    # The full pass ignores the backoff, and the wait doubles.
    await run_poll_supplier(sync, account_id=account_id, full_pass=True)
    row = await pool.fetchrow(
        "SELECT poll_failures, next_poll_at FROM supplier_order WHERE supplier_order_id = $1",
        order_id,
    )
    assert row is not None
    assert row["poll_failures"] == 2
    assert row["next_poll_at"] - datetime.now(UTC) > first_wait + timedelta(minutes=4)


async def test_aliexpress_hint_is_acted_on_even_before_the_backoff_ends(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id = await setup_account(
        pool,
        runtime,
        kind="aliexpress",
        secrets={"app_key": "500001", "app_secret": "ae-test-secret", "session": "ae-test-session"},
    )
    placed = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#3", line_items=items())
    order_id = await add_supplier_order(
        pool, shop_id=shop_id, account_id=account_id, external_id=placed.supplier_order_id
    )
    await pool.execute(
        "UPDATE supplier_order SET next_poll_at = now() + interval '1 day', needs_refresh = true"
        " WHERE supplier_order_id = $1",
        order_id,
    )
    sim.ship(placed.supplier_order_id)
    summary = await run_poll_supplier(deps(pool, runtime, http), account_id=account_id)
    assert summary.new_packages == 1
    refreshed = await pool.fetchval(
        "SELECT needs_refresh FROM supplier_order WHERE supplier_order_id = $1", order_id
    )
    assert refreshed is False


async def test_cj_cancellation_is_stored(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id = await setup_account(
        pool, runtime, kind="cj", secrets={"access_token": "cj-test-token"}
    )
    placed = sim.place_order(Supplier.CJ, merchant_reference="#4", line_items=items())
    sim.cancel(placed.supplier_order_id)
    order_id = await add_supplier_order(
        pool, shop_id=shop_id, account_id=account_id, external_id=placed.supplier_order_id
    )
    await run_poll_supplier(deps(pool, runtime, http), account_id=account_id)
    status = await pool.fetchval(
        "SELECT status FROM supplier_order WHERE supplier_order_id = $1", order_id
    )
    assert status == "cancelled"


async def test_cj_expired_token_is_renewed_from_the_api_key_and_kept(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id = await setup_account(
        pool,
        runtime,
        kind="cj",
        secrets={"access_token": "expired", "api_key": "cj-test-api-key"},
    )
    placed = sim.place_order(Supplier.CJ, merchant_reference="#5", line_items=items())
    sim.ship(placed.supplier_order_id)
    await add_supplier_order(
        pool, shop_id=shop_id, account_id=account_id, external_id=placed.supplier_order_id
    )
    summary = await run_poll_supplier(deps(pool, runtime, http), account_id=account_id)
    assert summary.new_packages == 1
    stored = await pool.fetchval(
        "SELECT secrets_enc FROM supplier_account WHERE account_id = $1", account_id
    )
    kept = orjson.loads(runtime.secrets.decrypt(stored))
    assert kept["access_token"] != "expired"
    assert kept["api_key"] == "cj-test-api-key"


async def test_silent_cj_webhook_is_reregistered_when_orders_still_move(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id = await setup_account(
        pool,
        runtime,
        kind="cj",
        secrets={"access_token": "cj-test-token"},
        settings={"webhook_url": HOOK},
    )
    await pool.execute(
        "UPDATE supplier_account SET last_delivery_at = now() - interval '1 day'"
        " WHERE account_id = $1",
        account_id,
    )
    sync = deps(pool, runtime, http)
    # Nothing moved since the last delivery: leave CJ alone.
    assert not await run_supplier_watchdog(sync, account_id=account_id)
    order_id = await add_supplier_order(
        pool, shop_id=shop_id, account_id=account_id, external_id="CJX1"
    )
    await pool.execute(
        "UPDATE supplier_order SET updated_at = now() WHERE supplier_order_id = $1", order_id
    )
    assert await run_supplier_watchdog(sync, account_id=account_id)
    assert sim.webhook_url(Supplier.CJ, "order") == HOOK
    assert sim.webhook_url(Supplier.CJ, "logistics") == HOOK
    # Registered just now: not again within the silence window.
    assert not await run_supplier_watchdog(sync, account_id=account_id)


async def test_account_without_api_credentials_is_not_polled(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id = await setup_account(pool, runtime, kind="cj", secrets={})
    placed = sim.place_order(Supplier.CJ, merchant_reference="#6", line_items=items())
    await add_supplier_order(
        pool, shop_id=shop_id, account_id=account_id, external_id=placed.supplier_order_id
    )
    summary = await run_poll_supplier(deps(pool, runtime, http), account_id=account_id)
    assert summary.polled == 0
    assert summary.error is None


async def test_cj_order_whose_webhooks_were_all_lost_is_discovered_and_linked(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id = await setup_account(
        pool, runtime, kind="cj", secrets={"access_token": "cj-test-token"}
    )
    await pool.execute(
        "INSERT INTO supplier_account_shop (shop_id, account_id) VALUES ($1, $2)",
        shop_id,
        account_id,
    )
    await pool.execute(
        """
        INSERT INTO shopify_order (shop_id, order_id, name, created_at, updated_at, stored_at)
        VALUES ($1, 4242, '#1042', now(), now(), now())
        """,
        shop_id,
    )
    placed = sim.place_order(Supplier.CJ, merchant_reference="#1042", line_items=items())
    sim.ship(placed.supplier_order_id)
    sync = deps(pool, runtime, http)
    assert await run_discover_cj_orders(sync, account_id=account_id) == 1
    assert await run_discover_cj_orders(sync, account_id=account_id) == 0  # same state
    await run_apply_supplier(pool, account_id=account_id)
    row = await pool.fetchrow(
        "SELECT supplier_order_id, shopify_order_id FROM supplier_order WHERE external_id = $1",
        placed.supplier_order_id,
    )
    assert row is not None
    assert row["shopify_order_id"] == 4242
    assert await packages(pool, row["supplier_order_id"]) == [placed.packages[0].tracking_number]
    # Discovery is not a webhook: the watchdog still sees the account as silent.
    assert (
        await pool.fetchval(
            "SELECT last_delivery_at FROM supplier_account WHERE account_id = $1", account_id
        )
        is None
    )


async def test_cj_relabel_seen_by_a_poll_supersedes_the_old_package(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    shop_id, account_id = await setup_account(
        pool, runtime, kind="cj", secrets={"access_token": "cj-test-token"}
    )
    placed = sim.place_order(Supplier.CJ, merchant_reference="#7", line_items=items())
    sim.ship(placed.supplier_order_id, packages=[ShipmentSpec(line_items=tuple(items()))])
    order_id = await add_supplier_order(
        pool, shop_id=shop_id, account_id=account_id, external_id=placed.supplier_order_id
    )
    sync = deps(pool, runtime, http)
    assert (await run_poll_supplier(sync, account_id=account_id)).new_packages == 1
    sim.change_tracking_number(placed.supplier_order_id, tracking_number="CJPKL0000000002")
    # Only a hint makes a shipped order due again (CJ pushes one on every change).
    await pool.execute(
        "UPDATE supplier_order SET needs_refresh = true WHERE supplier_order_id = $1", order_id
    )
    await run_poll_supplier(sync, account_id=account_id)
    current = await pool.fetch(
        "SELECT tracking_number FROM package WHERE supplier_order_id = $1"
        " AND superseded_at IS NULL",
        order_id,
    )
    assert [row["tracking_number"] for row in current] == ["CJPKL0000000002"]


async def test_aliexpress_relabel_seen_by_a_poll_supersedes_the_old_package(
    pool: asyncpg.Pool, runtime: Runtime, sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    # AliExpress reads carry no line items per parcel, so only the completeness of the read
    # tells a relabel from a second parcel: the one parcel of the split that it no longer
    # lists was relabelled, the other stays current.
    _, account_id, placed, order_id = await aliexpress_split_shipment(
        pool, runtime, sim, reference="#8"
    )
    sync = deps(pool, runtime, http)
    assert (await run_poll_supplier(sync, account_id=account_id)).new_packages == 2
    kept, relabelled = placed.packages
    sim.change_tracking_number(placed.supplier_order_id, package_id=relabelled.package_id)
    await pool.execute(
        "UPDATE supplier_order SET needs_refresh = true WHERE supplier_order_id = $1", order_id
    )
    assert (await run_poll_supplier(sync, account_id=account_id)).new_packages == 1
    rows = await pool.fetch(
        "SELECT tracking_number, superseded_at IS NOT NULL AS superseded FROM package"
        " WHERE supplier_order_id = $1",
        order_id,
    )
    state = {row["tracking_number"]: row["superseded"] for row in rows}
    assert state == {
        kept.tracking_number: False,
        relabelled.previous_tracking_numbers[0]: True,  # the number it had before
        relabelled.tracking_number: False,
    }
