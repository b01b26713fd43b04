"""What every command needs: settings that parse, servers that answer, one clear line if not."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import NoReturn

import asyncpg
import typer
from pydantic import ValidationError
from rich.console import Console

from schema.db import create_pool
from service.embedded import EmbeddedServers, start_embedded
from service.logging import configure_logging
from service.runtime import Runtime, resolve_runtime
from service.settings import Settings

__all__ = ["console", "fail", "load_settings", "open_pool", "runtime_for"]

console = Console(stderr=True)


def fail(message: str, *, hint: str | None = None) -> NoReturn:
    """Print one line saying what is wrong (and how to fix it), then exit 2."""
    console.print(f"[bold red]error:[/] {message}" + (f" [dim]({hint})[/]" if hint else ""))
    raise typer.Exit(2)


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        fail(
            f"invalid setting DROPSYNC_{field.upper()}: {first['msg']}",
            hint="fix the environment variable or .env file; see the README's configuration table",
        )
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    return settings


@contextlib.contextmanager
def runtime_for(settings: Settings) -> Iterator[Runtime]:
    """Resolve the runtime, starting embedded servers for what is not configured."""
    embedded: EmbeddedServers | None = None
    if settings.uses_embedded_servers:
        try:
            embedded = start_embedded(
                settings.data_dir,
                postgres=settings.database_url is None,
                redis=settings.redis_url is None,
            )
        except Exception as error:  # noqa: BLE001  (any start-up failure gets one clear line)
            fail(
                f"could not start the embedded servers under {settings.data_dir}: {error}",
                hint="set DROPSYNC_DATABASE_URL and DROPSYNC_REDIS_URL to use your own",
            )
    try:
        yield resolve_runtime(settings, embedded=embedded)
    finally:
        if embedded is not None:
            embedded.stop()


def describe_database_error(error: BaseException, database_url: str) -> str:
    where = database_url.rsplit("@", maxsplit=1)[-1]
    return f"cannot reach the database at {where}: {type(error).__name__}: {error}"


@contextlib.asynccontextmanager
async def open_pool(runtime: Runtime) -> AsyncIterator[asyncpg.Pool]:
    try:
        async with asyncio.timeout(10):
            pool = await create_pool(runtime.database_url, min_size=1, max_size=2)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        fail(
            describe_database_error(error, runtime.database_url),
            hint="is PostgreSQL running and DROPSYNC_DATABASE_URL right?",
        )
    try:
        yield pool
    finally:
        await pool.close()
