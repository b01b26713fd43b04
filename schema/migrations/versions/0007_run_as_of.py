"""classify_run.as_of: the instant a pass classified at, so a row's "last seen" is derived

Revision ID: 0007_run_as_of
Revises: 0006_dirty_relink
Create Date: 2026-11-27 21:30:00

A full pass no longer rewrites every open mismatch row to refresh `last_seen_at` and
`last_run_id`: every row open after a full pass was, by definition, found by it, so readers
derive those (and the `new`/`persisting` lifecycle) from the shop's latest full run. That needs
the pass's own "now" (the time a row found by it was last seen), stored here; older runs take
their start time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007_run_as_of"
down_revision: str | None = "0006_dirty_relink"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "classify_run", sa.Column("as_of", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )
    op.execute("UPDATE classify_run SET as_of = started_at")
    op.alter_column("classify_run", "as_of", nullable=False)


def downgrade() -> None:
    op.drop_column("classify_run", "as_of")
