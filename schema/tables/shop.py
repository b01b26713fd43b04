"""Shops, the Shopify apps they connect through, and API tokens."""

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, LargeBinary, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from schema.base import SQLModel, bigint_id, created_at_field, jsonb_field

__all__ = ["ApiToken", "App", "Shop"]


class App(SQLModel, table=True):
    """A Shopify app's credentials.

    Kept after a shop uninstalls: compliance webhooks (`shop/redact`, `customers/redact`) arrive
    up to months later and must still verify against the app's secret.
    """

    app_id: int | None = bigint_id(generated=True)
    name: str = Field(unique=True)
    # public (OAuth), custom (Dev Dashboard, client credentials grant) or legacy (static token)
    kind: str
    client_id: str | None = None
    client_secret_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    # The secret before the last rotation: Shopify may sign with it for up to an hour.
    previous_client_secret_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: datetime = created_at_field()


class Shop(SQLModel, table=True):
    """A connected Shopify store; `shop_id` leads the key of every table it owns."""

    shop_id: int | None = bigint_id(generated=True)
    domain: str = Field(unique=True, description="The myshopify.com domain.")
    app_id: int = Field(sa_column=Column(BigInteger, ForeignKey("app.app_id"), nullable=False))
    # active, uninstalled or needs_attention
    status: str = Field(default="active", sa_column_kwargs={"server_default": "active"})
    attention_reason: str | None = None
    plan: str = Field(default="standard", sa_column_kwargs={"server_default": "standard"})
    timezone: str = Field(default="UTC", sa_column_kwargs={"server_default": "UTC"})
    settings: dict[str, object] = jsonb_field()
    access_token_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    refresh_token_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    token_expires_at: datetime | None = None
    scopes: str | None = None
    installed_at: datetime = created_at_field()
    uninstalled_at: datetime | None = None
    created_at: datetime = created_at_field()


class ApiToken(SQLModel, table=True):
    """A bearer token for dropsync's API, stored only as a SHA-256 hash.

    Tokens are 32 random bytes, so a fast unsalted hash is enough: there is nothing to brute-force.
    """

    __tablename__ = "api_token"

    token_id: int | None = bigint_id(generated=True)
    name: str
    token_hash: str = Field(unique=True)
    is_admin: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    shop_ids: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(BigInteger), nullable=False, server_default="{}"),
    )
    can_write: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
