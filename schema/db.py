"""Database connections: URL normalisation and the asyncpg pool every process shares."""

from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

__all__ = [
    "Connection",
    "Pool",
    "asyncpg_dsn",
    "create_pool",
    "init_connection",
    "sqlalchemy_url",
]

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
# What query functions take: a plain connection or one borrowed from a pool.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


def asyncpg_dsn(database_url: str) -> str:
    """Return the URL in the plain `postgresql://` form asyncpg accepts."""
    scheme, rest = database_url.split("://", 1)
    if scheme in {"postgresql+asyncpg", "postgres"}:
        return f"postgresql://{rest}"
    return database_url


def sqlalchemy_url(database_url: str) -> str:
    """Return the URL in the `postgresql+asyncpg://` form SQLAlchemy and Alembic need."""
    return "postgresql+asyncpg://" + database_url.split("://", 1)[1]


async def init_connection(connection: "asyncpg.Connection[asyncpg.Record]") -> None:
    """Decode json/jsonb with orjson, so big integers stay exact and parsing stays cheap."""
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name,
            schema="pg_catalog",
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
        )


async def create_pool(
    database_url: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    application_name: str = "dropsync",
    **kwargs: Any,
) -> Pool:
    return await asyncpg.create_pool(
        asyncpg_dsn(database_url),
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        server_settings={"application_name": application_name},
        **kwargs,
    )
