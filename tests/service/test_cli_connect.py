"""`dropsync shops add` for each app kind, `shops sync`, `shops backfill` and `shops cutover`."""

import os
import subprocess
import sys

import asyncpg
import orjson
from redis.asyncio import Redis

from schema.queries.shops import get_shop_by_domain
from schema.secrets import SecretBox
from service.settings import Settings


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own command, fixed arguments)
        [sys.executable, "-m", "service.cli", *args],
        env={"PATH": os.environ["PATH"], "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_legacy_shop_is_added_with_a_cutover_and_a_queued_backfill(
    env: dict[str, str], pool: asyncpg.Pool, redis: Redis, queue_name: str
) -> None:
    domain = "cli-legacy.myshopify.com"
    added = _run(
        "shops",
        "add",
        domain,
        "--kind",
        "legacy",
        "--access-token",
        "shpat_x",
        "--client-secret",
        "s",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    # The worker is nudged at once, not at the next poll.
    queued = [job.decode() for job in await redis.zrange(queue_name, 0, -1)]
    assert any(job.startswith(f"{queue_name}:connect_shop:") for job in queued), queued
    status = _run("shops", "sync", domain, "--no-follow", env=env)
    assert status.returncode == 0, status.stderr
    assert "backfill: pending" in status.stderr
    cutover = _run("shops", "cutover", domain, "--since", "2026-01-01", env=env)
    assert cutover.returncode == 0, cutover.stderr
    async with pool.acquire() as connection:
        shop = await get_shop_by_domain(connection, domain)
    assert shop is not None
    assert shop.settings["push_shipped_since"] == "2026-01-01T00:00:00+00:00"
    again = _run("shops", "backfill", domain, "--days", "90", env=env)
    assert again.returncode == 0, again.stderr


async def test_custom_app_whose_token_cannot_be_obtained_is_not_stored(
    env: dict[str, str], pool: asyncpg.Pool
) -> None:
    domain = "cli-custom.myshopify.com"
    result = _run(
        "shops",
        "add",
        domain,
        "--kind",
        "custom",
        "--client-id",
        "id",
        "--client-secret",
        "s",
        env={**env, "DROPSYNC_SHOPIFY_OAUTH_URL_TEMPLATE": "http://127.0.0.1:1/{shop}/{endpoint}"},
    )
    assert result.returncode == 2
    assert "token endpoint is unreachable" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    async with pool.acquire() as connection:
        assert await get_shop_by_domain(connection, domain) is None


def test_sync_of_an_unknown_shop_says_so(env: dict[str, str], pool: asyncpg.Pool) -> None:
    del pool
    result = _run("shops", "sync", "nobody.myshopify.com", env=env)
    assert result.returncode == 2
    assert "no shop nobody.myshopify.com" in result.stderr


async def test_supplier_credentials_are_merged_encrypted_with_the_webhook_url(
    env: dict[str, str], pool: asyncpg.Pool, settings: Settings
) -> None:
    domain = "cli-supplier.myshopify.com"
    added = _run(
        "shops",
        "add",
        domain,
        "--kind",
        "legacy",
        "--access-token",
        "shpat_x",
        "--client-secret",
        "s",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    async with pool.acquire() as connection:
        shop = await get_shop_by_domain(connection, domain)
    assert shop is not None
    account = _run(
        "suppliers", "add", "cj-main", "--kind", "cj", "--shop", str(shop.shop_id), env=env
    )
    assert account.returncode == 0, account.stderr
    first = _run("suppliers", "credentials", "cj-main", "--access-token", "at", env=env)
    second = _run(
        "suppliers",
        "credentials",
        "cj-main",
        "--api-key",
        "key",
        "--webhook-url",
        "https://dropsync.test/webhooks/suppliers/1?token=t",
        env=env,
    )
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    row = await pool.fetchrow(
        "SELECT secrets_enc, settings FROM supplier_account WHERE name = 'cj-main'"
    )
    assert row is not None
    assert settings.secret_keys is not None
    box = SecretBox.from_setting(settings.secret_keys.get_secret_value())
    assert orjson.loads(box.decrypt(row["secrets_enc"])) == {"access_token": "at", "api_key": "key"}
    assert row["settings"]["webhook_url"] == "https://dropsync.test/webhooks/suppliers/1?token=t"
