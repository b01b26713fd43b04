"""Connecting and keeping in sync: OAuth state nonces, webhook subscriptions and poll state.

The poll state is what makes polling safe to resume after any crash: a watermark that only moves
after the page it covers is committed, and the times of the last successful poll and full pass,
which the watchdog and the API read.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, text
from sqlmodel import Field

from schema.base import SQLModel, created_at_field, shop_key

__all__ = ["OAuthState", "ShopSyncState", "SupplierSyncState", "WebhookSubscription"]


class OAuthState(SQLModel, table=True):
    """A single-use `state` nonce handed to Shopify's authorize page, checked on the callback."""

    __tablename__ = "oauth_state"

    nonce: str = Field(primary_key=True)
    shop_domain: str
    scopes: str
    created_at: datetime = created_at_field()
    expires_at: datetime
    used_at: datetime | None = None


class ShopSyncState(SQLModel, table=True):
    """Per shop: the polling watermark, the last runs and the backfill's progress."""

    __tablename__ = "shop_sync_state"

    shop_id: int = shop_key()
    # Orders updated at or after this instant still have to be read (exclusive of the overlap).
    orders_watermark: datetime | None = None
    last_poll_started_at: datetime | None = None
    last_poll_ok_at: datetime | None = None
    last_full_pass_at: datetime | None = None
    poll_failures: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    last_error: str | None = None
    # none, pending, running, done or failed
    backfill_status: str = Field(default="none", sa_column_kwargs={"server_default": "none"})
    backfill_since: datetime | None = None
    backfill_cursor: str | None = None
    backfill_orders: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    backfill_total: int | None = None
    backfill_started_at: datetime | None = None
    backfill_finished_at: datetime | None = None
    webhooks_checked_at: datetime | None = None
    updated_at: datetime = created_at_field()


class SupplierSyncState(SQLModel, table=True):
    """Per supplier account: the last polls and whether its webhooks still arrive."""

    __tablename__ = "supplier_sync_state"

    account_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("supplier_account.account_id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        )
    )
    last_poll_started_at: datetime | None = None
    last_poll_ok_at: datetime | None = None
    last_full_pass_at: datetime | None = None
    poll_failures: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    last_error: str | None = None
    orders_polled: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    # When dropsync last (re-)registered the supplier's webhook (CJ's webhook/set).
    webhook_registered_at: datetime | None = None
    updated_at: datetime = created_at_field()


class WebhookSubscription(SQLModel, table=True):
    """A webhook subscription dropsync created in a shop through the Admin API."""

    __tablename__ = "webhook_subscription"

    shop_id: int = shop_key()
    topic: str = Field(primary_key=True)
    subscription_gid: str
    uri: str
    created_at: datetime = created_at_field()
    verified_at: datetime | None = None
