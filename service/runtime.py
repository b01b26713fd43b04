"""What a process runs with: settings resolved into concrete URLs and keys, and its IO handles.

`Runtime` is pure configuration (embedded servers already started, keys loaded). `Resources`
holds the process-wide connections built from it, created in the API lifespan and in the
worker's startup, and closed on shutdown.
"""

from dataclasses import dataclass
from typing import Self

import asyncpg
import httpx
import structlog
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from clients.http_transport import outbound_transport
from schema.db import create_pool
from schema.secrets import SecretBox, load_or_create_key_file
from service.embedded import EmbeddedServers
from service.settings import Settings

__all__ = ["Resources", "Runtime", "resolve_runtime"]

log = structlog.get_logger()


@dataclass(frozen=True, kw_only=True)
class Runtime:
    settings: Settings
    database_url: str
    redis_url: str
    secrets: SecretBox


def resolve_runtime(settings: Settings, *, embedded: EmbeddedServers | None = None) -> Runtime:
    """Fill in what the settings leave open: embedded server URLs and the encryption key."""
    database_url = settings.database_url or (embedded.database_url if embedded else None)
    redis_url = settings.redis_url or (embedded.redis_url if embedded else None)
    if database_url is None or redis_url is None:
        msg = "no database or Redis URL: set DROPSYNC_DATABASE_URL and DROPSYNC_REDIS_URL"
        raise ValueError(msg)
    if settings.secret_keys is not None:
        secrets = SecretBox.from_setting(settings.secret_keys.get_secret_value())
    else:
        secrets = SecretBox([load_or_create_key_file(settings.data_dir / "secret.key")])
    return Runtime(
        settings=settings, database_url=database_url, redis_url=redis_url, secrets=secrets
    )


def redis_from_url(url: str) -> ArqRedis:
    """An arq Redis client that connects lazily and fails fast, so Redis being down never
    holds up a request: Postgres is the source of truth and sweepers re-trigger the work."""
    pool = ConnectionPool.from_url(
        url, socket_timeout=1.0, socket_connect_timeout=1.0, max_connections=50
    )
    return ArqRedis(connection_pool=pool)


@dataclass(kw_only=True)
class Resources:
    runtime: Runtime
    pool: asyncpg.Pool
    redis: ArqRedis
    http: httpx.AsyncClient

    @classmethod
    async def create(
        cls,
        runtime: Runtime,
        *,
        application_name: str,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> Self:
        settings = runtime.settings
        pool = await create_pool(
            runtime.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            application_name=application_name,
        )
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        http = httpx.AsyncClient(
            transport=http_transport or outbound_transport(limits=limits),
            timeout=httpx.Timeout(10.0, connect=3.0),
            limits=limits,
        )
        return cls(runtime=runtime, pool=pool, redis=redis_from_url(runtime.redis_url), http=http)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.redis.aclose(close_connection_pool=True)
        await self.pool.close()
