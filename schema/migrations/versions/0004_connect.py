"""connect: OAuth state nonces, webhook subscriptions, shop and supplier sync state

Revision ID: 0004_connect
Revises: 0001_foundation
Create Date: 2026-11-27 15:17:28.522342
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004_connect"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "oauth_state",
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("shop_domain", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("scopes", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_oauth_state")),
    )
    op.create_table(
        "shop_sync_state",
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("orders_watermark", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_poll_started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_poll_ok_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_full_pass_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("poll_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column(
            "backfill_status",
            sqlmodel.sql.sqltypes.AutoString(),
            server_default="none",
            nullable=False,
        ),
        sa.Column("backfill_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("backfill_cursor", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("backfill_orders", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("backfill_total", sa.Integer(), nullable=True),
        sa.Column("backfill_started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("backfill_finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("webhooks_checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.shop_id"],
            name=op.f("fk_shop_sync_state_shop_id_shop"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_shop_sync_state")),
    )
    op.create_table(
        "webhook_subscription",
        sa.Column("shop_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("subscription_gid", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("uri", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("verified_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shop.shop_id"],
            name=op.f("fk_webhook_subscription_shop_id_shop"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", "topic", name=op.f("pk_webhook_subscription")),
    )
    op.create_table(
        "supplier_sync_state",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("last_poll_started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_poll_ok_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_full_pass_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("poll_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("orders_polled", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("webhook_registered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["supplier_account.account_id"],
            name=op.f("fk_supplier_sync_state_account_id_supplier_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_supplier_sync_state")),
    )


def downgrade() -> None:

    op.drop_table("supplier_sync_state")
    op.drop_table("webhook_subscription")
    op.drop_table("shop_sync_state")
    op.drop_table("oauth_state")
