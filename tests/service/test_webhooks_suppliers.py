"""POST /webhooks/suppliers/{account}: token and signature checks, dedup, CJ's answer shape."""

import asyncpg
import httpx
import pytest

from service.runtime import Runtime
from service.suppliers import NewSupplierAccount, SupplierKind
from tests.ingest_helpers import register_test_shop
from tests.supplier_helpers import (
    ae_push,
    cj_message,
    create_account,
    generic_event,
    standard_headers,
)


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as connection:
        return await connection.fetch("SELECT * FROM supplier_delivery ORDER BY delivery_id")


@pytest.fixture
async def shop_id(pool: asyncpg.Pool, runtime: Runtime) -> int:
    return await register_test_shop(pool, runtime.secrets)


@pytest.fixture
async def cj(pool: asyncpg.Pool, runtime: Runtime, shop_id: int) -> NewSupplierAccount:
    return await create_account(pool, runtime.secrets, kind=SupplierKind.CJ, shop_ids=[shop_id])


def _cj_url(account: NewSupplierAccount, token: str | None = None) -> str:
    return (
        f"/webhooks/suppliers/{account.account.account_id}?token={token or account.webhook_token}"
    )


async def test_cj_message_is_stored_and_answered_in_cjs_shape(
    client: httpx.AsyncClient, pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    body = cj_message("ORDER", {"cjOrderId": "CJ1", "orderNumber": "#1001"}, message_id="m1")
    response = await client.post(_cj_url(cj), content=body)
    assert response.status_code == 200
    assert response.json() == {"code": 200, "result": "success", "message": "received"}
    (row,) = await _rows(pool)
    assert (row["dedup_key"], row["status"], row["kind"]) == ("cj:m1", "pending", "cj")


async def test_cj_repeat_of_message_id_is_stored_once(
    client: httpx.AsyncClient, pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    body = cj_message("ORDER", {"cjOrderId": "CJ1"}, message_id="same")
    for _ in range(3):
        assert (await client.post(_cj_url(cj), content=body)).status_code == 200
    assert len(await _rows(pool)) == 1


async def test_cj_wrong_or_missing_token_is_401_and_nothing_stored(
    client: httpx.AsyncClient, pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    body = cj_message("ORDER", {"cjOrderId": "CJ1"})
    wrong = await client.post(_cj_url(cj, token="nope"), content=body)
    missing = await client.post(f"/webhooks/suppliers/{cj.account.account_id}", content=body)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_token")
    assert (missing.status_code, missing.json()["error"]) == (401, "missing_token")
    assert await _rows(pool) == []


@pytest.mark.parametrize("account", ["999999", "abc", "-1"])
async def test_unknown_account_is_404(client: httpx.AsyncClient, account: str) -> None:
    response = await client.post(f"/webhooks/suppliers/{account}?token=x", content=b"{}")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_account"


async def test_cj_malformed_body_is_stored_failed(
    client: httpx.AsyncClient, pool: asyncpg.Pool, cj: NewSupplierAccount
) -> None:
    assert (await client.post(_cj_url(cj), content=b"not json")).status_code == 200
    (row,) = await _rows(pool)
    assert row["status"] == "failed"
    assert "not JSON" in row["error"]


async def test_oversize_supplier_body_is_413(
    client: httpx.AsyncClient, pool: asyncpg.Pool, runtime: Runtime, cj: NewSupplierAccount
) -> None:
    body = b"x" * (runtime.settings.webhook_max_body_bytes + 1)
    response = await client.post(_cj_url(cj), content=body)
    assert response.status_code == 413
    assert await _rows(pool) == []


async def test_aliexpress_push_is_stored_with_its_dedup_key(
    client: httpx.AsyncClient, pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    account = await create_account(
        pool, runtime.secrets, kind=SupplierKind.ALIEXPRESS, shop_ids=[shop_id]
    )
    url = f"/webhooks/suppliers/{account.account.account_id}?token={account.webhook_token}"
    for _ in range(2):
        assert (await client.post(url, content=ae_push(1105933950463697))).status_code == 200
    (row,) = await _rows(pool)
    assert row["dedup_key"].startswith("ae:53:1105933950463697:")


async def test_generic_signed_event_is_verified_and_deduplicated(
    client: httpx.AsyncClient, pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    account = await create_account(
        pool, runtime.secrets, kind=SupplierKind.GENERIC, shop_ids=[shop_id]
    )
    (secret,) = account.webhook_secrets
    url = f"/webhooks/suppliers/{account.account.account_id}"
    body = generic_event(
        "order.placed",
        {"supplier_order_id": "SO-1", "order_name": "#1001", "occurred_at": "2026-11-27T10:00:00Z"},
    )
    headers = standard_headers(body, secret, msg_id="msg_1")
    for _ in range(2):
        response = await client.post(url, content=body, headers=headers)
        assert response.status_code == 200
        assert response.json() == {"ok": True}
    (row,) = await _rows(pool)
    assert row["dedup_key"] == "generic:msg_1"


async def test_generic_bad_or_stale_signature_is_401(
    client: httpx.AsyncClient, pool: asyncpg.Pool, runtime: Runtime, shop_id: int
) -> None:
    account = await create_account(
        pool, runtime.secrets, kind=SupplierKind.GENERIC, shop_ids=[shop_id]
    )
    url = f"/webhooks/suppliers/{account.account.account_id}"
    body = generic_event("order.placed", {"supplier_order_id": "SO-1"})
    forged = standard_headers(body, "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")
    stale = standard_headers(body, account.webhook_secrets[0])
    stale["webhook-timestamp"] = "1000"
    unsigned = {"Content-Type": "application/json"}
    for headers in (forged, stale, unsigned):
        response = await client.post(url, content=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_signature"
    assert await _rows(pool) == []
