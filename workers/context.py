"""Worker start-up and shutdown, and the one typed accessor for what jobs need from `ctx`."""

from typing import Any

import structlog

from schema.migrate import current_revision, head_revision
from service.runtime import Resources, Runtime

__all__ = ["SchemaBehindError", "check_schema", "make_startup", "resources", "shutdown"]

log = structlog.get_logger()


class SchemaBehindError(RuntimeError):
    """The database schema is not at the code's migration head."""


async def check_schema(database_url: str) -> None:
    revision, head = await current_revision(database_url), head_revision()
    if revision != head:
        found = revision or "nothing"
        msg = f"database schema is at {found}, code needs {head}: run dropsync migrate"
        raise SchemaBehindError(msg)


def make_startup(runtime: Runtime) -> Any:
    async def startup(ctx: dict[str, Any]) -> None:
        await check_schema(runtime.database_url)
        ctx["resources"] = await Resources.create(runtime, application_name="dropsync-worker")
        log.info("worker.started", queue=runtime.settings.queue_name)

    return startup


async def shutdown(ctx: dict[str, Any]) -> None:
    found = ctx.get("resources")
    if isinstance(found, Resources):
        await found.aclose()


def resources(ctx: dict[str, Any]) -> Resources:
    found = ctx["resources"]
    assert isinstance(found, Resources)  # noqa: S101  (set by startup, a programming error if not)
    return found
