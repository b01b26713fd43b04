"""The deliveries API (scoped list, inspect, replay) and the supplier accounts API."""

import asyncpg
import httpx
import pytest

from service.runtime import Runtime
from tests.conftest import make_token
from tests.ingest_helpers import order_body, register_test_shop, store_delivery
from workers.jobs.apply_shopify import run_apply_shopify


@pytest.fixture
async def shops(pool: asyncpg.Pool, runtime: Runtime) -> tuple[int, int]:
    first = await register_test_shop(pool, runtime.secrets)
    second = await register_test_shop(pool, runtime.secrets, domain="other.myshopify.com")
    return first, second


async def test_failed_delivery_is_visible_to_its_shop_only(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shops: tuple[int, int]
) -> None:
    first, second = shops
    await store_delivery(pool, first, b"{broken", topic="orders/create")
    await store_delivery(pool, second, order_body(), topic="orders/create")
    await run_apply_shopify(pool, shop_id=first)
    mine = {"Authorization": f"Bearer {await make_token(pool, shop_ids=[first])}"}
    listed = await client.get("/deliveries", params={"status": "failed"}, headers=mine)
    assert listed.status_code == 200
    (delivery,) = listed.json()
    assert delivery["shop_id"] == first
    assert "does not parse" in delivery["error"]
    detail = await client.get(f"/deliveries/shopify/{delivery['delivery_id']}", headers=mine)
    assert detail.status_code == 200
    assert detail.json()["body_text"] == "{broken"
    others = await client.get("/deliveries", params={"shop_id": second}, headers=mine)
    assert others.status_code == 404
    all_mine = await client.get("/deliveries", headers=mine)
    assert {d["shop_id"] for d in all_mine.json()} == {first}
    hidden = (await client.get("/deliveries", headers={**mine})).json()
    second_id = next(
        d["delivery_id"]
        for d in (
            await client.get(
                "/deliveries",
                headers={"Authorization": f"Bearer {await make_token(pool, is_admin=True)}"},
            )
        ).json()
        if d["shop_id"] == second
    )
    assert second_id not in {d["delivery_id"] for d in hidden}
    assert (await client.get(f"/deliveries/shopify/{second_id}", headers=mine)).status_code == 404


async def test_deliveries_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/deliveries")
    assert response.status_code == 401
    assert response.json()["error"] == "missing_token"


async def test_replay_reapplies_and_changes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, shops: tuple[int, int]
) -> None:
    first, _ = shops
    await store_delivery(pool, first, order_body(), topic="orders/create")
    await run_apply_shopify(pool, shop_id=first)
    writer = {"Authorization": f"Bearer {await make_token(pool, shop_ids=[first], can_write=True)}"}
    reader = {"Authorization": f"Bearer {await make_token(pool, shop_ids=[first])}"}
    refused = await client.post("/deliveries/replay", json={"shop_id": first}, headers=reader)
    assert refused.status_code == 403
    response = await client.post("/deliveries/replay", json={"shop_id": first}, headers=writer)
    assert response.status_code == 200
    assert response.json()["replayed"] == 1
    report = await run_apply_shopify(pool, shop_id=first)
    assert report.statuses == {"ignored": 1}
    unscoped = await client.post(
        "/deliveries/replay", json={"since": "2020-01-01T00:00:00Z"}, headers=writer
    )
    assert unscoped.status_code == 403
    empty = await client.post("/deliveries/replay", json={}, headers=writer)
    assert empty.status_code == 422


async def test_supplier_account_api_creates_shows_token_once_and_removes(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    shops: tuple[int, int],
    admin_headers: dict[str, str],
) -> None:
    first, _ = shops
    created = await client.post(
        "/supplier-accounts",
        json={"kind": "cj", "name": "my cj", "shop_ids": [first], "timezone": "Asia/Shanghai"},
        headers=admin_headers,
    )
    assert created.status_code == 201
    account = created.json()
    assert account["webhook_token"]
    assert account["webhook_url"].endswith(
        f"/webhooks/suppliers/{account['account_id']}?token={account['webhook_token']}"
    )
    listed = (await client.get("/supplier-accounts", headers=admin_headers)).json()
    assert [a["name"] for a in listed] == ["my cj"]
    assert "webhook_token" not in listed[0]
    duplicate = await client.post(
        "/supplier-accounts",
        json={"kind": "cj", "name": "my cj", "shop_ids": [first]},
        headers=admin_headers,
    )
    assert duplicate.status_code == 409
    bad_zone = await client.post(
        "/supplier-accounts",
        json={"kind": "cj", "name": "x", "shop_ids": [first], "timezone": "Mars/Base"},
        headers=admin_headers,
    )
    assert bad_zone.status_code == 422
    generic = await client.post(
        "/supplier-accounts",
        json={"kind": "generic", "name": "3pl", "shop_ids": [first]},
        headers=admin_headers,
    )
    assert generic.json()["webhook_secrets"][0].startswith("whsec_")
    removed = await client.delete(
        f"/supplier-accounts/{account['account_id']}", headers=admin_headers
    )
    assert removed.status_code == 204
    body = b"{}"
    gone = await client.post(f"/webhooks/suppliers/{account['account_id']}?token=x", content=body)
    assert gone.status_code == 404
