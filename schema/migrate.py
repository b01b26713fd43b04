"""Run and inspect Alembic migrations from code (the CLI, the tests and start-up checks)."""

from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from schema.db import asyncpg_dsn, sqlalchemy_url

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade_to_head"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    # ConfigParser interpolates %, which URL-encoded passwords contain.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("postgresql://x/x")).get_current_head()
    if head is None:
        msg = "no migrations found"
        raise RuntimeError(msg)
    return head


def upgrade_to_head(database_url: str) -> None:
    """Migrate the database to head; runs its own event loop, so call it from a thread."""
    command.upgrade(alembic_config(database_url), "head")


async def current_revision(database_url: str) -> str | None:
    """Return the database's migration revision, or None when it was never migrated."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        exists = await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        if not exists:
            return None
        revision: str | None = await connection.fetchval("SELECT version_num FROM alembic_version")
        return revision
    finally:
        await connection.close()
