"""Relabels on ingest: a new tracking number that replaces a package supersedes it."""

from typing import Any

import asyncpg
import pytest

from service.runtime import Runtime
from service.suppliers import NewSupplierAccount, SupplierKind
from tests.ingest_helpers import order_body, register_test_shop, store_delivery
from tests.supplier_helpers import cj_message, create_account, generic_event
from tests.workers.test_apply_supplier import _deliver
from workers.jobs.apply_shopify import run_apply_shopify
from workers.jobs.apply_supplier import run_apply_supplier

ORDER_ID = 820982911946154508
LINE_ITEM = 866550311766439020


@pytest.fixture
async def shop_id(pool: asyncpg.Pool, runtime: Runtime) -> int:
    shop = await register_test_shop(pool, runtime.secrets)
    await store_delivery(pool, shop, order_body(), topic="orders/create")
    await run_apply_shopify(pool, shop_id=shop)
    return shop


@pytest.fixture
async def cj(pool: asyncpg.Pool, runtime: Runtime, shop_id: int) -> NewSupplierAccount:
    return await create_account(pool, runtime.secrets, kind=SupplierKind.CJ, shop_ids=[shop_id])


@pytest.fixture
async def generic(pool: asyncpg.Pool, runtime: Runtime, shop_id: int) -> NewSupplierAccount:
    return await create_account(
        pool, runtime.secrets, kind=SupplierKind.GENERIC, shop_ids=[shop_id]
    )


def _cj_shipped(number: str, at: str) -> bytes:
    return cj_message(
        "ORDER",
        {
            "cjOrderId": "CJ100",
            "orderNumber": "#1001",
            "orderStatus": "SHIPPED",
            "trackNumber": number,
            "logisticName": "CJPacket Ordinary",
            "updateDate": at,
        },
    )


def _generic_shipped(
    number: str, *, at: str, items: list[dict[str, Any]], previous: str | None = None
) -> bytes:
    package: dict[str, Any] = {"tracking_number": number, "line_items": items}
    if previous is not None:
        package["previous_tracking_number"] = previous
    return generic_event(
        "order.shipped",
        {
            "supplier_order_id": "SO-1",
            "shopify_order_id": ORDER_ID,
            "occurred_at": at,
            "packages": [package],
        },
    )


async def _apply(
    pool: asyncpg.Pool, account: NewSupplierAccount, *bodies: bytes
) -> dict[str, bool]:
    """Deliver and apply each body in turn; returns {number: superseded}."""
    for index, body in enumerate(bodies):
        await _deliver(pool, account, body, f"{account.account.kind}:{index}")
        counts = await run_apply_supplier(pool, account_id=account.account.account_id)
        assert counts["applied"] == 1
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT tracking_number_norm, superseded_at FROM package")
    return {row["tracking_number_norm"]: row["superseded_at"] is not None for row in rows}


async def test_cj_new_tracking_number_supersedes_the_orders_package(
    pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    packages = await _apply(
        pool,
        cj,
        _cj_shipped("CJPKOLD001", "2024-01-01 10:00:00"),
        _cj_shipped("CJPKNEW001", "2024-01-02 10:00:00"),
    )
    assert packages == {"CJPKOLD001": True, "CJPKNEW001": False}


async def test_cj_old_number_resent_after_the_new_one_stays_superseded(
    pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    packages = await _apply(
        pool,
        cj,
        _cj_shipped("CJPKOLD001", "2024-01-01 10:00:00"),
        _cj_shipped("CJPKNEW001", "2024-01-02 10:00:00"),
        _cj_shipped("CJPKOLD001", "2024-01-01 10:00:00"),
    )
    assert packages == {"CJPKOLD001": True, "CJPKNEW001": False}


async def test_cj_old_number_heard_first_after_the_new_one_is_born_superseded(
    pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    packages = await _apply(
        pool,
        cj,
        _cj_shipped("CJPKNEW001", "2024-01-02 10:00:00"),
        _cj_shipped("CJPKOLD001", "2024-01-01 10:00:00"),
    )
    assert packages == {"CJPKOLD001": True, "CJPKNEW001": False}


async def test_cj_same_number_twice_supersedes_nothing(
    pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    packages = await _apply(
        pool,
        cj,
        _cj_shipped("CJPKOLD001", "2024-01-01 10:00:00"),
        _cj_shipped("cjpk-old001", "2024-01-02 10:00:00"),
    )
    assert packages == {"CJPKOLD001": False}


async def test_generic_previous_tracking_number_supersedes_that_package(
    pool: asyncpg.Pool, generic: NewSupplierAccount
) -> None:
    shirt = [{"shopify_line_item_id": LINE_ITEM, "quantity": 1}]
    other = [{"sku": "OTHER", "quantity": 1}]
    packages = await _apply(
        pool,
        generic,
        _generic_shipped("LPOLD1", at="2026-11-27T10:00:00Z", items=shirt),
        _generic_shipped("LPOTHER", at="2026-11-27T10:00:00Z", items=other),
        _generic_shipped("LPNEW1", at="2026-11-27T11:00:00Z", items=[], previous="lp-old1"),
    )
    assert packages == {"LPOLD1": True, "LPOTHER": False, "LPNEW1": False}


async def test_generic_same_items_on_the_only_package_is_a_relabel(
    pool: asyncpg.Pool, generic: NewSupplierAccount
) -> None:
    items: list[dict[str, Any]] = [
        {"shopify_line_item_id": LINE_ITEM, "quantity": 2},
        {"sku": "B", "quantity": 1},
    ]
    packages = await _apply(
        pool,
        generic,
        _generic_shipped("LPOLD1", at="2026-11-27T10:00:00Z", items=items),
        _generic_shipped("LPNEW1", at="2026-11-27T11:00:00Z", items=items[::-1]),
    )
    assert packages == {"LPOLD1": True, "LPNEW1": False}


@pytest.mark.parametrize(
    "second_items",
    [
        [{"sku": "B", "quantity": 1}],
        [{"shopify_line_item_id": LINE_ITEM, "quantity": 1}],
        [],
    ],
)
async def test_generic_new_package_with_other_or_unknown_items_is_a_new_parcel(
    pool: asyncpg.Pool, generic: NewSupplierAccount, second_items: list[dict[str, Any]]
) -> None:
    packages = await _apply(
        pool,
        generic,
        _generic_shipped(
            "LPOLD1",
            at="2026-11-27T10:00:00Z",
            items=[{"shopify_line_item_id": LINE_ITEM, "quantity": 2}],
        ),
        _generic_shipped("LPNEW1", at="2026-11-27T11:00:00Z", items=second_items),
    )
    assert packages == {"LPOLD1": False, "LPNEW1": False}


async def test_generic_superseded_package_is_never_superseded_back(
    pool: asyncpg.Pool, generic: NewSupplierAccount
) -> None:
    items = [{"shopify_line_item_id": LINE_ITEM, "quantity": 2}]
    packages = await _apply(
        pool,
        generic,
        _generic_shipped("LPOLD1", at="2026-11-27T10:00:00Z", items=items),
        _generic_shipped("LPNEW1", at="2026-11-27T11:00:00Z", items=items, previous="LPOLD1"),
        # The old number again, claiming to replace the new one, but older: ignored.
        _generic_shipped("LPOLD1", at="2026-11-27T09:00:00Z", items=items, previous="LPNEW1"),
    )
    assert packages == {"LPOLD1": True, "LPNEW1": False}
