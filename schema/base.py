"""Shared column helpers and the metadata naming convention.

The naming convention is set before any table is declared so that Alembic constraint names are
stable across machines and migrations.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Identity, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

__all__ = [
    "SQLModel",
    "bigint_id",
    "created_at_field",
    "jsonb_field",
    "shop_key",
    "utc_now",
]

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def shop_key() -> Any:
    """The leading primary-key column every shop-owned table starts with.

    Deleting a shop (shop/redact) cascades to every row it owns.
    """
    return Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("shop.shop_id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        )
    )


def bigint_id(*, generated: bool = False) -> Any:
    """A bigint primary-key column, database-generated when `generated`."""
    if generated:
        return Field(
            default=None,
            sa_column=Column(BigInteger, Identity(), primary_key=True, nullable=False),
        )
    return Field(sa_column=Column(BigInteger, primary_key=True, nullable=False))


def created_at_field() -> Any:
    return Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=text("now()")),
        default_factory=utc_now,
    )


def jsonb_field(*, default: str = "'{}'::jsonb") -> Any:
    return Field(
        sa_column=Column(JSONB, nullable=False, server_default=text(default)),
        default_factory=dict,
    )
