"""`dropsync suppliers add|list|remove` and `dropsync replay`."""

import asyncio
import os
import subprocess
import sys

import asyncpg

from service.runtime import Runtime
from tests.ingest_helpers import order_body, register_test_shop, store_delivery
from workers.jobs.apply_shopify import run_apply_shopify


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own command, fixed arguments)
        [sys.executable, "-m", "service.cli", *args],
        env={"PATH": os.environ["PATH"], "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_suppliers_add_list_remove(
    env: dict[str, str], pool: asyncpg.Pool, runtime: Runtime
) -> None:
    shop_id = await register_test_shop(pool, runtime.secrets)
    added = await asyncio.to_thread(
        _run, "suppliers", "add", "my-cj", "--kind", "cj", "--shop", str(shop_id), env=env
    )
    assert added.returncode == 0, added.stderr
    url = added.stdout.strip().splitlines()[-1]
    assert url.startswith("https://dropsync.test/webhooks/suppliers/")
    assert "?token=" in url
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT account_id, webhook_token_hash FROM supplier_account"
        )
    assert row is not None
    assert url.split("?token=")[1] not in row["webhook_token_hash"]
    listed = await asyncio.to_thread(_run, "suppliers", "list", env=env)
    assert "my-cj" in listed.stdout + listed.stderr
    generic = await asyncio.to_thread(
        _run, "suppliers", "add", "3pl", "--kind", "generic", "--shop", str(shop_id), env=env
    )
    assert generic.stdout.strip().splitlines()[-1].startswith("whsec_")
    removed = await asyncio.to_thread(
        _run, "suppliers", "remove", str(row["account_id"]), "--yes", env=env
    )
    assert removed.returncode == 0, removed.stderr
    again = await asyncio.to_thread(
        _run, "suppliers", "remove", str(row["account_id"]), "--yes", env=env
    )
    assert again.returncode == 2


async def test_suppliers_add_refuses_an_unknown_zone(env: dict[str, str]) -> None:
    result = await asyncio.to_thread(
        _run,
        "suppliers",
        "add",
        "x",
        "--kind",
        "cj",
        "--shop",
        "1",
        "--timezone",
        "Mars/Base",
        env=env,
    )
    assert result.returncode == 2
    assert "IANA" in result.stdout + result.stderr


async def test_replay_by_shop_requeues_stored_deliveries(
    env: dict[str, str], pool: asyncpg.Pool, runtime: Runtime
) -> None:
    shop_id = await register_test_shop(pool, runtime.secrets)
    await store_delivery(pool, shop_id, order_body(), topic="orders/create")
    await run_apply_shopify(pool, shop_id=shop_id)
    result = await asyncio.to_thread(_run, "replay", "--shop", str(shop_id), env=env)
    assert result.returncode == 0, result.stderr
    assert "1 deliveries queued again" in result.stdout + result.stderr
    async with pool.acquire() as connection:
        assert await connection.fetchval("SELECT status FROM webhook_delivery") == "pending"
    nothing = await asyncio.to_thread(_run, "replay", env=env)
    assert nothing.returncode == 2
