"""Test fixtures: a fresh PostgreSQL database per run, migrated; a Redis queue per run.

The servers are the configured ones (`DROPSYNC_TEST_DATABASE_URL`, an admin URL whose server we
may create databases on, and `DROPSYNC_TEST_REDIS_URL`), else embedded ones under `.data/test`.
Every test starts from empty tables. Nothing of our own is mocked: tests talk to real Postgres
and real Redis; only Shopify and the suppliers are faked, by `simulator/`.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from schema.db import create_pool
from schema.migrate import upgrade_to_head
from schema.queries.tokens import insert_token
from schema.secrets import SecretBox
from service.app import create_app
from service.auth import generate_token, hash_token
from service.embedded import EmbeddedServers, start_embedded
from service.runtime import Runtime
from service.settings import Settings

_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[str, str]]:
    """(admin database URL, Redis URL) of the servers tests run against."""
    database_url = os.environ.get("DROPSYNC_TEST_DATABASE_URL")
    redis_url = os.environ.get("DROPSYNC_TEST_REDIS_URL")
    embedded: EmbeddedServers | None = None
    if database_url is None or redis_url is None:
        embedded = start_embedded(
            _ROOT / ".data" / "test", postgres=database_url is None, redis=redis_url is None
        )
        database_url = database_url or embedded.database_url
        redis_url = redis_url or embedded.redis_url
    assert database_url is not None
    assert redis_url is not None
    yield database_url, redis_url
    if embedded is not None:
        embedded.stop()


def _with_database(url: str, name: str) -> str:
    """Swap the database name in a URL, keeping any query string (unix socket host)."""
    base, _, query = url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def database_url(servers: tuple[str, str]) -> Iterator[str]:
    """A database created for this test run, migrated to head, dropped at the end."""
    admin_url = servers[0]
    name = f"dropsync_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = _with_database(admin_url, name)
    upgrade_to_head(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def queue_name() -> str:
    return f"dropsync-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def settings(database_url: str, servers: tuple[str, str], queue_name: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=servers[1],
        secret_keys=SecretStr(Fernet.generate_key().decode()),
        queue_name=queue_name,
        public_url="https://dropsync.test",
        shopify_graphql_url_template="https://{shop}/admin/api/{version}/graphql.json",
        _env_file=None,
    )


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Runtime:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    assert settings.secret_keys is not None
    return Runtime(
        settings=settings,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        secrets=SecretBox.from_setting(settings.secret_keys.get_secret_value()),
    )


@pytest.fixture
async def pool(runtime: Runtime) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the run's database, with every table emptied first."""
    pool = await create_pool(runtime.database_url, min_size=1, max_size=5)
    async with pool.acquire() as connection:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    yield pool
    await pool.close()


@pytest.fixture
async def redis(runtime: Runtime, queue_name: str) -> AsyncIterator[Redis]:
    """A Redis client; this run's queue and job keys are removed after each test."""
    client: Redis = Redis.from_url(runtime.redis_url)
    yield client
    keys = [key async for key in client.scan_iter(match=f"arq:*{queue_name}*")]
    if keys:
        await client.delete(*keys)
    await client.delete(queue_name)
    await client.aclose()


@pytest.fixture
async def app(runtime: Runtime, pool: asyncpg.Pool) -> AsyncIterator[FastAPI]:
    del pool  # requested for its side effect: empty tables before the app starts
    application = create_app(runtime)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dropsync.test") as client:
        yield client


async def make_token(
    pool: asyncpg.Pool,
    *,
    is_admin: bool = False,
    shop_ids: list[int] | None = None,
    can_write: bool = False,
) -> str:
    """Create an API token and return its value."""
    token = generate_token()
    async with pool.acquire() as connection:
        await insert_token(
            connection,
            name="test",
            token_hash=hash_token(token),
            is_admin=is_admin,
            shop_ids=shop_ids or [],
            can_write=can_write,
        )
    return token


@pytest.fixture
async def admin_headers(pool: asyncpg.Pool) -> dict[str, str]:
    token = await make_token(pool, is_admin=True, can_write=True)
    return {"Authorization": f"Bearer {token}"}
