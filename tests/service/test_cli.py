"""The `dropsync` command: clear one-line errors, shops and tokens, schema checks."""

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg

from schema.queries.tokens import list_tokens


def _run(
    *args: str, env: dict[str, str], input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own command, fixed arguments)
        [sys.executable, "-m", "service.cli", *args],
        env={"PATH": os.environ["PATH"], "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        input=input_text,
    )


def test_invalid_setting_stops_with_one_clear_line(env: dict[str, str]) -> None:
    result = _run("migrate", env={**env, "DROPSYNC_PORT": "eighty"})
    assert result.returncode == 2
    assert "invalid setting DROPSYNC_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unreachable_database_stops_with_one_clear_line(env: dict[str, str]) -> None:
    result = _run(
        "migrate", env={**env, "DROPSYNC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    )
    assert result.returncode == 2
    assert "cannot reach the database at 127.0.0.1:1/none" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_worker_refuses_a_schema_behind_head(env: dict[str, str], servers: tuple[str, str]) -> None:
    name = f"dropsync_empty_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(servers[0])
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        base, _, query = servers[0].partition("?")
        url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
        for command in ("worker", "serve"):
            result = _run(command, env={**env, "DROPSYNC_DATABASE_URL": url})
            assert result.returncode == 2, command
            assert "run dropsync migrate" in result.stderr
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def test_tokens_create_list_revoke(env: dict[str, str], pool: asyncpg.Pool) -> None:
    created = await asyncio.to_thread(_run, "tokens", "create", "ops", "--admin", env=env)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("dsk_")
    async with pool.acquire() as connection:
        (record,) = await list_tokens(connection)
    assert record.is_admin
    listed = await asyncio.to_thread(_run, "tokens", "list", env=env)
    assert "ops" in listed.stderr + listed.stdout
    assert token not in listed.stderr + listed.stdout
    revoked = await asyncio.to_thread(_run, "tokens", "revoke", str(record.token_id), env=env)
    assert revoked.returncode == 0
    again = await asyncio.to_thread(_run, "tokens", "revoke", str(record.token_id), env=env)
    assert again.returncode == 2


async def test_shops_add_stores_secrets_encrypted(env: dict[str, str], pool: asyncpg.Pool) -> None:
    result = await asyncio.to_thread(
        _run,
        "shops",
        "add",
        "cli-shop.myshopify.com",
        "--access-token",
        "shpat_cli_secret_token",
        env=env,
        input_text="shpss_cli_client_secret\n",
    )
    assert result.returncode == 0, result.stderr
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT s.domain, s.access_token_enc::text AS token,"
            " a.client_secret_enc::text AS secret"
            " FROM shop s JOIN app a USING (app_id)"
        )
    assert row is not None
    assert row["domain"] == "cli-shop.myshopify.com"
    assert b"shpat_cli_secret_token".hex() not in row["token"]
    assert b"shpss_cli_client_secret".hex() not in row["secret"]
    listed = await asyncio.to_thread(_run, "shops", "list", env=env)
    assert "cli-shop.myshopify.com" in listed.stdout + listed.stderr
