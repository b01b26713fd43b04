"""Running dropsync: `up` (all in one), `serve` (API), `worker` (jobs) and `migrate`."""

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import asyncpg
import structlog
import uvicorn
from arq.worker import Worker

from schema.migrate import upgrade_to_head
from service.app import create_app
from service.cli.context import console, describe_database_error, fail, load_settings, runtime_for
from service.runtime import Runtime
from workers.context import SchemaBehindError, check_schema, shutdown
from workers.settings import worker_options

__all__ = ["migrate", "serve", "up", "worker"]

log = structlog.get_logger()

# Embedded servers need a moment too; the whole stop stays well under 10 s.
_GRACE_SECONDS = 6


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `_run_until_signal` owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _migrate(runtime: Runtime) -> None:
    try:
        upgrade_to_head(runtime.database_url)
    except (OSError, asyncpg.PostgresError) as error:
        fail(describe_database_error(error, runtime.database_url))


def _require_schema_at_head(runtime: Runtime) -> None:
    try:
        asyncio.run(check_schema(runtime.database_url))
    except SchemaBehindError as error:
        fail(str(error))
    except (OSError, asyncpg.PostgresError) as error:
        fail(describe_database_error(error, runtime.database_url))


def migrate() -> None:
    """Migrate the database schema to the latest version."""
    settings = load_settings()
    with runtime_for(settings) as runtime:
        _migrate(runtime)
        console.print("[green]database schema is at head[/]")


def up() -> None:
    """Migrate, then run the API and the worker together (single machine)."""
    settings = load_settings()
    with runtime_for(settings) as runtime:
        _migrate(runtime)
        _announce(runtime)
        asyncio.run(_run_until_signal(runtime, api=True, jobs=True))


def serve() -> None:
    """Run the API only (scale out with several); refuses to start if the schema is behind."""
    settings = load_settings()
    with runtime_for(settings) as runtime:
        _require_schema_at_head(runtime)
        _announce(runtime)
        asyncio.run(_run_until_signal(runtime, api=True, jobs=False))


def worker() -> None:
    """Run the arq worker only; refuses to start if the schema is behind."""
    settings = load_settings()
    with runtime_for(settings) as runtime:
        _require_schema_at_head(runtime)
        asyncio.run(_run_until_signal(runtime, api=False, jobs=True))


def _announce(runtime: Runtime) -> None:
    settings = runtime.settings
    console.print(
        f"[bold]dropsync[/] listening on http://{settings.host}:{settings.port} "
        f"(health: /healthz, readiness: /readyz, API docs: /docs)"
    )
    if settings.uses_embedded_servers:
        console.print(f"[dim]embedded servers keep their data in {settings.data_dir}[/]")


async def _run_until_signal(runtime: Runtime, *, api: bool, jobs: bool) -> None:
    """Run the chosen parts until SIGINT or SIGTERM, then stop them in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[None]] = []
    server: _Server | None = None
    arq_worker: Worker | None = None
    if api:
        config = uvicorn.Config(
            create_app(runtime),
            host=runtime.settings.host,
            port=runtime.settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        server = _Server(config)
        tasks.append(asyncio.create_task(server.serve()))
    if jobs:
        arq_worker = Worker(**worker_options(runtime, handle_signals=False))
        tasks.append(asyncio.create_task(arq_worker.async_run()))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    log.info("dropsync.stopping")
    if server is not None:
        server.should_exit = True
    if arq_worker is not None:
        # Cancelling running jobs is safe: every job is idempotent and re-reads its state.
        arq_worker.handle_sig(signal.SIGTERM)
    _, pending = await asyncio.wait(tasks, timeout=_GRACE_SECONDS)
    for task in pending:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    if arq_worker is not None:
        await _close_worker(arq_worker)
    for result in results:
        if isinstance(result, Exception):
            log.error("dropsync.component_failed", error=repr(result))
    log.info("dropsync.stopped")


async def _close_worker(arq_worker: Worker) -> None:
    await shutdown(arq_worker.ctx)
    with contextlib.suppress(Exception):  # Redis may already be gone at shutdown
        await arq_worker.pool.close(close_connection_pool=True)
