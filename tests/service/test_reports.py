"""The report API: rows with both sides, filters, pages, exports, summary, order view, actions,
and scope: a token never sees or touches a shop outside its scope."""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from clients.shopify_sync import SYNC_TOPICS
from core.report_classes import CUTOVER_ACTION, Thresholds
from schema.classify.passes import run_full_pass
from tests.conftest import make_token
from tests.seed import (
    EXPECTED,
    NOW,
    seed_account,
    seed_order,
    seed_package,
    seed_planted_store,
    seed_push,
    seed_shop,
    seed_supplier_order,
)


async def _store(pool: asyncpg.Pool) -> dict[str, int]:
    """The planted shop, plus a second shop with one break of its own."""
    async with pool.acquire() as connection:
        shop, orphan = await seed_planted_store(connection)
        other = await seed_shop(connection, domain="other.myshopify.com", timezone="Asia/Tokyo")
        account = await seed_account(connection, name="other-ali", kind="aliexpress")
        await seed_order(connection, shop_id=other, order_id=900)
        so = await seed_supplier_order(
            connection,
            shop_id=other,
            account_id=account,
            external_id="ALI900",
            shopify_order_id=900,
            status="shipped",
        )
        await seed_package(connection, shop_id=other, supplier_order_id=so, tracking="LP900CN")
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
    return {"shop": shop, "orphan": orphan, "other": other}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _all_rows(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/reports/mismatches", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["rows"])
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


async def test_rows_carry_both_sides_class_outcome_and_action(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _store(pool)
    rows = await _all_rows(client, admin_headers, shop_id=ids["shop"])
    found = {(row["shopify"] or {}).get("order_id", row["subject"]): row for row in rows}
    classes = {((r["shopify"] or {}).get("order_id"), r["class"]) for r in rows}
    assert {(o, c) for o, c in classes if o is not None} == EXPECTED
    row = next(r for r in rows if r["class"] == "push_failed")
    assert row["detail"]["message"] == "Fulfillment order is on hold"
    assert row["shopify"]["name"] == "#11"
    assert row["supplier_orders"][0]["packages"][0]["tracking_number"] == "YT11"
    assert row["supplier_orders"][0]["supplier"] == "cj"
    assert row["action"]["by"] == "person"
    assert row["outcome"] == "break"
    assert row["lifecycle"] == "new"
    assert row["since"].endswith("Z")
    assert row["shop"]["timezone"] == "UTC"
    held = next(r for r in rows if r["class"] == "held_in_shopify")
    assert held["shopify"]["fulfillment_orders"][0]["holds"] == [{"reason": "HIGH_RISK_OF_FRAUD"}]
    orphan = next(r for r in rows if r["class"] == "supplier_order_without_shopify_order")
    assert orphan["shopify"] is None
    assert orphan["supplier_orders"][0]["external_id"] == "SO-ORPHAN"
    pending = next(r for r in rows if r["outcome"] == "pending")
    assert pending["action"]["by"] == "dropsync"
    assert pending["breaks_at"] is not None
    assert found  # every row names its subject


async def test_filters_narrow_rows(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _store(pool)
    by_class = await _all_rows(client, admin_headers, **{"class": "shipped_not_synced,push_failed"})
    assert {row["class"] for row in by_class} == {"shipped_not_synced", "push_failed"}
    pending = await _all_rows(client, admin_headers, outcome="pending")
    assert {row["outcome"] for row in pending} == {"pending"}
    assert len(pending) == 1
    ali = await _all_rows(client, admin_headers, supplier="aliexpress")
    assert [row["shop"]["shop_id"] for row in ali] == [ids["other"]]
    carrier = await _all_rows(client, admin_headers, carrier="Speedy Local")
    assert {row["class"] for row in carrier} == {"carrier_not_recognised"}
    urgent = await _all_rows(client, admin_headers, priority="4")
    assert {row["class"] for row in urgent} == {"carrier_not_recognised"}
    old = await _all_rows(client, admin_headers, age_bucket="7d+")
    assert {row["class"] for row in old} == {"tracking_stalled"}
    window = await _all_rows(
        client,
        admin_headers,
        **{"from": (NOW - timedelta(minutes=30)).isoformat(), "to": NOW.isoformat()},
    )
    assert [row["class"] for row in window] == ["shipped_not_synced"]
    bad = await client.get("/reports/mismatches?class=nonsense", headers=admin_headers)
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_filter"


async def test_pages_are_stable_and_complete(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _store(pool)
    everything = (
        await client.get("/reports/mismatches", params={"limit": 1000}, headers=admin_headers)
    ).json()["rows"]
    paged = await _all_rows(client, admin_headers, limit=3)
    assert [row["row_id"] for row in paged] == [row["row_id"] for row in everything]
    priorities = [row["priority"] for row in paged]
    assert priorities == sorted(priorities)
    bad = await client.get("/reports/mismatches?cursor=garbage", headers=admin_headers)
    assert bad.status_code == 400


async def test_ok_rows_on_request(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _store(pool)
    rows = await _all_rows(client, admin_headers, shop_id=ids["shop"], outcome="ok")
    assert [(row["shopify"]["order_id"], row["class"]) for row in rows] == [(1, None), (16, None)]


async def test_a_second_full_run_shows_rows_persisting_and_seen_by_it(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """A full pass writes only changed rows; the API derives lifecycle and "last seen"."""
    ids = await _store(pool)
    later = NOW + timedelta(minutes=10)
    async with pool.acquire() as connection:
        await connection.execute(
            "UPDATE shopify_order SET financial_status = 'paid' WHERE shop_id = $1"
            " AND order_id = 13",
            ids["shop"],
        )
        second = await run_full_pass(connection, now=later, thresholds=Thresholds())
    persisting = await _all_rows(client, admin_headers, lifecycle="persisting")
    everything = await _all_rows(client, admin_headers)
    resolved = await _all_rows(client, admin_headers, lifecycle="resolved")
    assert await _all_rows(client, admin_headers, lifecycle="new") == []
    assert [row["row_id"] for row in persisting] == [row["row_id"] for row in everything]
    assert {row["lifecycle"] for row in everything} == {"persisting"}
    assert {row["last_run_id"] for row in everything} == {second.run_id}
    assert {row["last_seen_at"] for row in everything} == {later.isoformat().replace("+00:00", "Z")}
    assert [(row["class"], row["lifecycle"]) for row in resolved] == [
        ("payment_pending", "resolved")
    ]
    assert resolved[0]["last_seen_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert resolved[0]["last_run_id"] == second.run_id - 1


async def test_csv_and_ndjson_exports_stream_every_row(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await _store(pool)
    page = await _all_rows(client, admin_headers)
    response = await client.get(
        "/reports/mismatches", headers={**admin_headers, "Accept": "text/csv"}
    )
    assert response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["row_id"] for row in table] == [row["row_id"] for row in page]
    failed = next(row for row in table if row["class"] == "push_failed")
    assert failed["packages"] == "YT11:YunExpress"
    assert failed["order_name"] == "#11"
    ndjson = await client.get(
        "/reports/mismatches", params={"format": "ndjson"}, headers=admin_headers
    )
    lines = [orjson.loads(line) for line in ndjson.content.splitlines()]
    assert [line["row_id"] for line in lines] == [row["row_id"] for row in page]


async def test_summary_counts_verdicts_and_bridge(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _store(pool)
    body = (await client.get("/reports/summary", headers=admin_headers)).json()
    assert body["by_class"]["push_failed"]["break"] == 1
    assert sum(body["by_class"]["tracking_stalled"]["by_age_bucket"].values()) == 1
    assert body["by_class"]["tracking_stalled"]["by_age_bucket"]["7d+"] == 1
    shop = next(entry for entry in body["shops"] if entry["shop_id"] == ids["shop"])
    # no poll, no subscriptions yet: never clean, whatever the rows say
    assert shop["verdict"] == "incomplete"
    assert any("webhook subscriptions missing" in reason for reason in shop["incomplete_because"])
    assert any("never polled" in reason for reason in shop["incomplete_because"])
    bridge = shop["bridge"]
    assert bridge["open_before"] + bridge["opened"] - bridge["resolved"] == bridge["open_now"]
    assert bridge["unexplained"] == 0


async def test_verdict_is_breaks_once_data_is_complete_and_clean_after_acknowledging(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _store(pool)
    other = ids["other"]
    async with pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO shop_sync_state (shop_id, last_poll_ok_at) VALUES ($1, now())", other
        )
        for topic in SYNC_TOPICS:
            await connection.execute(
                "INSERT INTO webhook_subscription (shop_id, topic, subscription_gid, uri)"
                " VALUES ($1, $2, 'gid://x', 'https://dropsync.test')",
                other,
                topic,
            )
    body = (await client.get(f"/reports/summary?shop_id={other}", headers=admin_headers)).json()
    assert [shop["verdict"] for shop in body["shops"]] == ["breaks"]
    rows = await _all_rows(client, admin_headers, shop_id=other)
    assert len(rows) == 1
    response = await client.post(
        f"/reports/mismatches/{other}/{rows[0]['mismatch_id']}/acknowledge",
        json={"reason": "shipped by hand, tracking to follow"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    body = (await client.get(f"/reports/summary?shop_id={other}", headers=admin_headers)).json()
    assert [shop["verdict"] for shop in body["shops"]] == ["clean"]
    async with pool.acquire() as connection:
        await connection.execute(
            "UPDATE webhook_delivery SET status = status WHERE FALSE"
        )  # no-op: keeps the connection warm for the next insert
        await connection.execute(
            "INSERT INTO webhook_delivery (shop_id, webhook_id, topic, status)"
            " VALUES ($1, 'w1', 'orders/updated', 'failed')",
            other,
        )
    body = (await client.get(f"/reports/summary?shop_id={other}", headers=admin_headers)).json()
    assert body["shops"][0]["verdict"] == "incomplete"
    assert "1 deliveries parked as failed" in body["shops"][0]["incomplete_because"]


async def test_acting_is_recorded_in_the_timeline_with_the_token(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    ids = await _store(pool)
    shop = ids["shop"]
    token = await make_token(pool, shop_ids=[shop], can_write=True)
    headers = _auth(token)
    token_id = await pool.fetchval("SELECT max(token_id) FROM api_token")
    rows = await _all_rows(client, headers, **{"class": "push_failed"})
    row = rows[0]
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    snoozed = await client.post(
        f"/reports/mismatches/{shop}/{row['mismatch_id']}/snooze",
        json={"reason": "waiting for the merchant", "until": until},
        headers=headers,
    )
    assert snoozed.status_code == 200, snoozed.text
    retried = await client.post(
        f"/reports/mismatches/{shop}/{row['mismatch_id']}/retry-push", headers=headers
    )
    assert retried.status_code == 200, retried.text
    assert await pool.fetchval("SELECT status FROM push WHERE shop_id = $1", shop) == "pending"
    again = await client.post(
        f"/reports/mismatches/{shop}/{row['mismatch_id']}/retry-push", headers=headers
    )
    assert again.status_code == 409
    order = (await client.get(f"/orders/{shop}/11", headers=headers)).json()
    kinds = [(event["kind"], event["actor"]) for event in order["timeline"]]
    assert ("report.opened", "classifier") in kinds
    assert ("report.snoozed", f"api-token:{token_id}") in kinds
    assert ("push.retry_requested", f"api-token:{token_id}") in kinds
    assert order["shopify"]["name"] == "#11"
    assert order["supplier_orders"][0]["packages"][0]["tracking_number"] == "YT11"
    assert order["mismatches"][0]["snooze"]["reason"] == "waiting for the merchant"
    listed = await _all_rows(client, headers, **{"class": "push_failed"})
    assert listed[0]["snooze"]["active"] is True


async def test_read_tokens_cannot_act(pool: asyncpg.Pool, client: httpx.AsyncClient) -> None:
    ids = await _store(pool)
    headers = _auth(await make_token(pool, shop_ids=[ids["shop"]]))
    rows = await _all_rows(client, headers)
    response = await client.post(
        f"/reports/mismatches/{ids['shop']}/{rows[0]['mismatch_id']}/acknowledge",
        json={"reason": "x"},
        headers=headers,
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/reports/mismatches"),
        ("GET", "/reports/summary"),
        ("GET", "/orders/1/1"),
        ("POST", "/reports/mismatches/1/1/acknowledge"),
    ],
)
async def test_missing_or_bad_token_is_401(
    pool: asyncpg.Pool, client: httpx.AsyncClient, method: str, path: str
) -> None:
    del pool
    missing = await client.request(method, path, json={"reason": "x"})
    bad = await client.request(method, path, json={"reason": "x"}, headers=_auth("dsk_not-a-token"))
    assert (missing.status_code, bad.status_code) == (401, 401)


async def test_scope_hides_other_shops_everywhere(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    ids = await _store(pool)
    shop, other = ids["shop"], ids["other"]
    headers = _auth(await make_token(pool, shop_ids=[shop], can_write=True))
    rows = await _all_rows(client, headers)
    assert {row["shop"]["shop_id"] for row in rows} == {shop}
    csv_text = (
        await client.get("/reports/mismatches", params={"format": "csv"}, headers=headers)
    ).text
    assert "other.myshopify.com" not in csv_text
    ok_rows = await _all_rows(client, headers, outcome="ok,break,pending")
    assert {row["shop"]["shop_id"] for row in ok_rows} == {shop}
    summary = (await client.get("/reports/summary", headers=headers)).json()
    assert [entry["shop_id"] for entry in summary["shops"]] == [shop]
    for response in (
        await client.get(f"/reports/mismatches?shop_id={other}", headers=headers),
        await client.get(f"/reports/mismatches?shop_id={other}&format=csv", headers=headers),
        await client.get(f"/reports/summary?shop_id={other}", headers=headers),
        await client.get(f"/orders/{other}/900", headers=headers),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "shop_not_found"
    other_row = await pool.fetchval("SELECT mismatch_id FROM mismatch WHERE shop_id = $1", other)
    for action in ("acknowledge", "snooze", "retry-push"):
        response = await client.post(
            f"/reports/mismatches/{other}/{other_row}/{action}",
            json={"reason": "x", "until": (NOW + timedelta(days=400)).isoformat()},
            headers=headers,
        )
        assert response.status_code == 404, action
    # a mismatch id of another shop named under one's own shop is not found either
    response = await client.post(
        f"/reports/mismatches/{shop}/{other_row}/acknowledge",
        json={"reason": "x"},
        headers=headers,
    )
    assert response.status_code == 404
    assert (
        await pool.fetchval("SELECT count(*) FROM order_event WHERE actor LIKE 'api-token:%'") == 0
    )


async def test_push_retry_refuses_other_classes(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    ids = await _store(pool)
    rows = await _all_rows(client, admin_headers, **{"class": "paid_not_placed"})
    response = await client.post(
        f"/reports/mismatches/{ids['shop']}/{rows[0]['mismatch_id']}/retry-push",
        headers=admin_headers,
    )
    assert response.status_code == 409
    async with pool.acquire() as connection:
        await seed_push(connection, shop_id=ids["shop"], order_id=6, status="succeeded")


async def test_package_before_the_cutover_is_a_row_asking_to_opt_in_or_sync_manually(
    pool: asyncpg.Pool, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    async with pool.acquire() as connection:
        shop = await seed_shop(
            connection,
            domain="history.myshopify.com",
            settings={"push_shipped_since": NOW.isoformat()},
        )
        account = await seed_account(connection, name="history-cj")
        await seed_order(connection, shop_id=shop, order_id=1)
        so = await seed_supplier_order(
            connection,
            shop_id=shop,
            account_id=account,
            external_id="SO1",
            shopify_order_id=1,
            status="shipped",
        )
        await seed_package(connection, shop_id=shop, supplier_order_id=so, tracking="OLD1")
        await run_full_pass(connection, now=NOW, thresholds=Thresholds())
    rows = await _all_rows(client, admin_headers, shop_id=shop)
    assert [(row["class"], row["outcome"]) for row in rows] == [("shipped_not_synced", "break")]
    assert rows[0]["action"] == {"by": "person", "text": CUTOVER_ACTION, "taken": False}
    assert rows[0]["detail"]["before_cutover_tracking"] == ["OLD1"]
