"""ingest: remember which orders had their personal data erased; compress inbox bodies with lz4

Revision ID: 0002_ingest
Revises: 0001_foundation
Create Date: 2026-11-27 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002_ingest"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Raw webhook bodies (5-15 KB of JSON) are TOASTed and compressed on insert; pglz costs about
# twice the CPU of lz4 for them, and the inbox insert is the receipt's hot path. Skipped where
# the server was built without lz4 (the default, pglz, then stays).
_LZ4 = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
        ALTER TABLE webhook_delivery ALTER COLUMN body SET COMPRESSION lz4;
        ALTER TABLE supplier_delivery ALTER COLUMN body SET COMPRESSION lz4;
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute(_LZ4)
    op.add_column(
        "shopify_order",
        sa.Column("pii_redacted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("shopify_order", "pii_redacted_at")
    op.execute("ALTER TABLE webhook_delivery ALTER COLUMN body SET COMPRESSION default")
    op.execute("ALTER TABLE supplier_delivery ALTER COLUMN body SET COMPRESSION default")
