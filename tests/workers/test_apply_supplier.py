"""Applying supplier deliveries: linking to Shopify orders, packages, splits, hints, unmatched."""

import asyncpg
import pytest

from schema.queries.inbox import NewSupplierDelivery, insert_supplier_deliveries
from service.runtime import Runtime
from service.suppliers import NewSupplierAccount, SupplierKind
from tests.ingest_helpers import order_body, register_test_shop, store_delivery
from tests.supplier_helpers import ae_push, cj_message, create_account, generic_event
from workers.jobs.apply_shopify import run_apply_shopify
from workers.jobs.apply_supplier import run_apply_supplier

ORDER_ID = 820982911946154508
TRACK_EVENTS = (
    '[{"status":12,"activity":"Delivered","eventTime":"2024-01-18 07:59:22",'
    '"statusDesc":"Delivered"}]'
)


async def _deliver(pool: asyncpg.Pool, account: NewSupplierAccount, body: bytes, key: str) -> None:
    async with pool.acquire() as connection:
        await insert_supplier_deliveries(
            connection,
            [
                NewSupplierDelivery(
                    account_id=account.account.account_id,
                    dedup_key=key,
                    kind=account.account.kind,
                    headers={},
                    body=body,
                )
            ],
        )


@pytest.fixture
async def shop_id(pool: asyncpg.Pool, runtime: Runtime) -> int:
    shop = await register_test_shop(pool, runtime.secrets)
    await store_delivery(pool, shop, order_body(), topic="orders/create")
    await run_apply_shopify(pool, shop_id=shop)
    return shop


@pytest.fixture
async def cj(pool: asyncpg.Pool, runtime: Runtime, shop_id: int) -> NewSupplierAccount:
    return await create_account(
        pool, runtime.secrets, kind=SupplierKind.CJ, shop_ids=[shop_id], note_attributes=["cj_ref"]
    )


async def _supplier_orders(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return await connection.fetch("SELECT * FROM supplier_order ORDER BY supplier_order_id")


@pytest.mark.parametrize("reference", ["#1001", "1001", str(ORDER_ID), "CJ-1"])
async def test_cj_order_links_by_name_id_or_note_attribute(
    pool: asyncpg.Pool, cj: NewSupplierAccount, shop_id: int, reference: str
) -> None:
    body = cj_message(
        "ORDER", {"cjOrderId": "CJ100", "orderNumber": reference, "orderStatus": "CREATED"}
    )
    await _deliver(pool, cj, body, "cj:1")
    counts = await run_apply_supplier(pool, account_id=cj.account.account_id)
    assert counts["applied"] == 1
    (order,) = await _supplier_orders(pool)
    assert order["shop_id"] == shop_id
    assert order["shopify_order_id"] == ORDER_ID
    assert order["status"] == "placed"


async def test_cj_shipped_then_logistic_builds_one_package(
    pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    shipped = cj_message(
        "ORDER",
        {
            "cjOrderId": "CJ100",
            "orderNumber": "#1001",
            "orderStatus": "SHIPPED",
            "trackNumber": "CJPKL7160102171YQ",
            "logisticName": "CJPacket Ordinary",
        },
    )
    logistic = cj_message(
        "LOGISTIC",
        {
            "orderId": "CJ100",
            "trackingNumber": "cjpkl 7160102171yq",
            "trackingStatus": 12,
            "trackingUrl": "https://t.example/CJPKL7160102171YQ",
            "logisticsTrackEvents": TRACK_EVENTS,
        },
    )
    await _deliver(pool, cj, shipped, "cj:a")
    await _deliver(pool, cj, logistic, "cj:b")
    touched: set[int] = set()
    counts = await run_apply_supplier(pool, account_id=cj.account.account_id, touched_shops=touched)
    assert counts["applied"] == 2
    (order,) = await _supplier_orders(pool)
    assert order["shopify_order_id"] == ORDER_ID
    async with pool.acquire() as connection:
        packages = await connection.fetch("SELECT * FROM package")
        delivery_shops = await connection.fetch("SELECT shop_id FROM supplier_delivery")
    assert len(packages) == 1
    assert packages[0]["tracking_number_norm"] == "CJPKL7160102171YQ"
    assert packages[0]["tracking_status"] == "delivered"
    assert packages[0]["tracking_url"] == "https://t.example/CJPKL7160102171YQ"
    assert {row["shop_id"] for row in delivery_shops} == {order["shop_id"]}
    assert touched == {order["shop_id"]}


async def test_unmatched_supplier_order_is_kept_under_default_shop_and_reported(
    pool: asyncpg.Pool, cj: NewSupplierAccount, shop_id: int
) -> None:
    body = cj_message("ORDER", {"cjOrderId": "CJ9", "orderNumber": "#7777"})
    await _deliver(pool, cj, body, "cj:1")
    await run_apply_supplier(pool, account_id=cj.account.account_id)
    (order,) = await _supplier_orders(pool)
    assert order["shop_id"] == shop_id
    assert order["shopify_order_id"] is None
    async with pool.acquire() as connection:
        kinds = await connection.fetch(
            "SELECT kind FROM order_event WHERE supplier_order_id IS NOT NULL"
        )
    assert "supplier_order.unmatched" in {row["kind"] for row in kinds}


async def test_split_creates_child_orders(pool: asyncpg.Pool, cj: NewSupplierAccount) -> None:
    await _deliver(
        pool,
        cj,
        cj_message(
            "ORDER",
            {"cjOrderId": "CJ1", "orderNumber": "#1001", "createDate": "2024-01-01 10:00:00"},
        ),
        "cj:1",
    )
    split = cj_message(
        "ORDERSPLIT",
        {
            "originalOrderId": "CJ1",
            "orderSplitTime": "2024-01-02 10:00:00",
            "splitOrderList": [
                {"orderCode": "CJ1-A", "productList": [{"sku": "SKU-1", "quantity": 1}]},
                {"orderCode": "CJ1-B", "productList": [{"sku": "SKU-1", "quantity": 1}]},
            ],
        },
    )
    await _deliver(pool, cj, split, "cj:2")
    counts = await run_apply_supplier(pool, account_id=cj.account.account_id)
    assert counts["applied"] == 2
    orders = await _supplier_orders(pool)
    assert [o["external_id"] for o in orders] == ["CJ1", "CJ1-A", "CJ1-B"]
    assert orders[0]["status"] == "split"
    assert {o["parent_external_id"] for o in orders[1:]} == {"CJ1"}
    assert {o["shopify_order_id"] for o in orders} == {ORDER_ID}


async def test_aliexpress_push_marks_supplier_order_for_refresh(
    pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    account = await create_account(
        pool, runtime.secrets, kind=SupplierKind.ALIEXPRESS, shop_ids=[shop_id]
    )
    await _deliver(pool, account, ae_push(1105933950463697), "ae:1")
    await _deliver(pool, account, b'{"message_type": 18, "data": {}}', "ae:2")
    counts = await run_apply_supplier(pool, account_id=account.account.account_id)
    assert counts["applied"] == 1
    assert counts["ignored"] == 1
    (order,) = await _supplier_orders(pool)
    assert order["needs_refresh"] is True
    assert order["external_id"] == "1105933950463697"


async def test_generic_shipped_event_links_and_stores_package_items(
    pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    account = await create_account(
        pool, runtime.secrets, kind=SupplierKind.GENERIC, shop_ids=[shop_id]
    )
    body = generic_event(
        "order.shipped",
        {
            "supplier_order_id": "SO-1",
            "shopify_order_id": ORDER_ID,
            "occurred_at": "2026-11-27T18:00:00+08:00",
            "packages": [
                {
                    "tracking_number": "LP00123456789CN",
                    "carrier": "YunExpress",
                    "line_items": [{"shopify_line_item_id": 866550311766439020, "quantity": 2}],
                }
            ],
        },
    )
    await _deliver(pool, account, body, "generic:m1")
    counts = await run_apply_supplier(pool, account_id=account.account.account_id)
    assert counts["applied"] == 1
    (order,) = await _supplier_orders(pool)
    assert order["status"] == "shipped"
    async with pool.acquire() as connection:
        lines = await connection.fetchval("SELECT lines FROM package")
    assert lines[0]["shopify_line_item_id"] == 866550311766439020


async def test_malformed_supplier_message_is_parked_failed(
    pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    await _deliver(pool, cj, b'{"messageId": "1", "type": "ORDER"}', "cj:1")
    counts = await run_apply_supplier(pool, account_id=cj.account.account_id)
    assert counts["failed"] == 1
    async with pool.acquire() as connection:
        error = await connection.fetchval("SELECT error FROM supplier_delivery")
    assert "params" in error


async def test_replayed_supplier_delivery_changes_nothing(
    pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    body = cj_message("ORDER", {"cjOrderId": "CJ1", "orderNumber": "#1001", "trackNumber": "LP1"})
    await _deliver(pool, cj, body, "cj:1")
    await run_apply_supplier(pool, account_id=cj.account.account_id)
    before = [dict(row) for row in await _supplier_orders(pool)]
    async with pool.acquire() as connection:
        await connection.execute("UPDATE supplier_delivery SET status = 'pending'")
        packages_before = await connection.fetch("SELECT * FROM package")
    await run_apply_supplier(pool, account_id=cj.account.account_id)
    assert [dict(row) for row in await _supplier_orders(pool)] == before
    async with pool.acquire() as connection:
        assert await connection.fetch("SELECT * FROM package") == packages_before


async def test_shipment_dated_in_the_future_counts_as_shipped_now(
    pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    account = await create_account(
        pool, runtime.secrets, kind=SupplierKind.GENERIC, shop_ids=[shop_id]
    )
    body = generic_event(
        "order.shipped",
        {
            "supplier_order_id": "SO-FUTURE",
            "shopify_order_id": ORDER_ID,
            "occurred_at": "2099-01-01T00:00:00Z",
            "packages": [{"tracking_number": "LP00999999999CN", "carrier": "YunExpress"}],
        },
    )
    await _deliver(pool, account, body, "generic:future")
    await run_apply_supplier(pool, account_id=account.account.account_id)
    async with pool.acquire() as connection:
        in_future = await connection.fetchval("SELECT shipped_at > now() FROM package")
    assert in_future is False
