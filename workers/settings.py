"""arq worker settings, built from the resolved runtime; every knob set explicitly."""

from datetime import UTC
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Function

from service.runtime import Runtime
from workers import names
from workers.context import make_startup, shutdown
from workers.jobs.purge import purge_payloads

__all__ = ["worker_options"]


def functions() -> list[Function]:
    return []


def worker_options(runtime: Runtime, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`; tests override `burst`, `poll_delay` and the like."""
    options: dict[str, Any] = {
        "functions": functions(),
        "cron_jobs": [
            cron(
                purge_payloads,
                name=names.PURGE_PAYLOADS,
                hour={3},
                minute={17},
                run_at_startup=False,
            ),
        ],
        "redis_settings": RedisSettings.from_dsn(runtime.redis_url),
        "queue_name": runtime.settings.queue_name,
        "on_startup": make_startup(runtime),
        "on_shutdown": shutdown,
        "max_jobs": 20,
        "job_timeout": 120,
        "max_tries": 8,
        "keep_result": 0,
        "timezone": UTC,
        "health_check_interval": 30,
        "handle_signals": True,
    }
    options.update(overrides)
    return options
