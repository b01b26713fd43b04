"""Runtime configuration, read from the environment and an optional `.env` file.

Every variable carries the `DROPSYNC_` prefix. A value that does not parse stops start-up with
one line naming the variable (see `service.cli`), never a traceback.
"""

import functools
from datetime import timedelta
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]

_DEFAULT_DATA_DIR = Path(platformdirs.user_data_dir("dropsync", appauthor=False))


class Settings(BaseSettings):
    """All of dropsync's settings; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(
        env_prefix="DROPSYNC_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="forbid",
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: `dropsync up` starts an embedded PostgreSQL.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL. Unset: `dropsync up` starts an embedded Redis.",
    )
    data_dir: Path = Field(
        default=_DEFAULT_DATA_DIR,
        description="Folder for the embedded servers' data and the generated secret key.",
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Comma-separated Fernet keys; the first encrypts, all decrypt (rotation). "
            "Unset: a key is generated once and kept in `<data_dir>/secret.key`."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    public_url: str | None = Field(
        default=None,
        description="Public base URL Shopify and suppliers reach dropsync at (webhooks, OAuth).",
    )
    log_format: Literal["console", "json"] = Field(
        default="console", description="`json` for machines, `console` for people."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level logged."
    )
    queue_name: str = Field(
        default="dropsync",
        description="arq queue name; prefixes job ids so deployments can share a Redis.",
    )
    db_pool_min: int = Field(default=2, ge=1, description="Connections each process keeps open.")
    db_pool_max: int = Field(default=10, ge=1, description="Most connections each process opens.")
    db_timeout: timedelta = Field(
        default=timedelta(seconds=2),
        description="How long a webhook waits on the database before answering 503.",
    )
    webhook_max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Larger webhook bodies get 413."
    )
    payload_retention: timedelta = Field(
        default=timedelta(days=30),
        description="How long raw webhook bodies are kept before their personal data is dropped.",
    )
    shopify_api_version: str = Field(
        default="2026-10",
        pattern=r"^\d{4}-\d{2}$",
        description="Shopify Admin API version every call and webhook uses.",
    )
    shopify_graphql_url_template: str = Field(
        default="https://{shop}/admin/api/{version}/graphql.json",
        description="Shopify Admin GraphQL URL; `{shop}` and `{version}` are filled in.",
    )
    push_grace_period: timedelta = Field(
        default=timedelta(0),
        description=(
            "How long a shipped package may wait before it counts as not synced to Shopify "
            "(the push worker and the report both use it)."
        ),
    )
    push_order_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Orders of one shop a worker pushes at the same time.",
    )
    shopify_oauth_url_template: str = Field(
        default="https://{shop}/admin/oauth/{endpoint}",
        description="Shopify's OAuth endpoints; `{endpoint}` is `authorize` or `access_token`.",
    )
    # Mismatch report (docs/report.md). Each report_* duration can be overridden per shop in
    # shop.settings["report"] under the name without the prefix, e.g. {"sync_grace": "2h"}.
    report_sync_grace: timedelta = Field(
        default=timedelta(hours=1),
        description="How long a shipped package may wait for its Shopify fulfilment "
        "(shipped_not_synced, tracking_mismatch, partially_synced) before it is a break.",
    )
    report_paid_not_placed_after: timedelta = Field(
        default=timedelta(hours=24),
        description="How long a paid order may have no supplier order before it is a break.",
    )
    report_payment_pending_after: timedelta = Field(
        default=timedelta(hours=72),
        description="How long an order may stay unpaid before it is a break.",
    )
    report_cancel_grace: timedelta = Field(
        default=timedelta(hours=2),
        description="How long a cancellation on one side may wait for the other side.",
    )
    report_orphan_grace: timedelta = Field(
        default=timedelta(hours=2),
        description="How long a supplier order may wait for its Shopify order to arrive.",
    )
    report_hold_grace: timedelta = Field(
        default=timedelta(hours=48),
        description="How long a fulfillment order may stay on hold while the supplier works.",
    )
    report_tracking_stalled_after: timedelta = Field(
        default=timedelta(days=7),
        description="A package with no carrier movement for this long is tracking_stalled.",
    )
    report_priority_step: timedelta = Field(
        default=timedelta(days=3),
        description="A mismatch's priority rises one level per this much age.",
    )
    report_age_buckets: list[timedelta] = Field(
        default=[timedelta(days=1), timedelta(days=3), timedelta(days=7)],
        description="Boundaries of the report's non-overlapping age buckets (view only).",
    )
    report_poll_stale_after: timedelta = Field(
        default=timedelta(minutes=30),
        description="A shop whose last poll is older than this has an incomplete verdict.",
    )
    classify_full_pass_minutes: list[int] = Field(
        default=[7],
        description="Minutes of each hour the full classification pass runs (the safety net).",
    )
    classify_full_pass_concurrency: int = Field(
        default=2,
        ge=1,
        description="Batches of shops the full pass classifies at once, each on its own"
        " database connection (about one per database core; at most db_pool_max, and below it"
        " so other jobs keep a connection).",
    )
    # Connecting stores and keeping them in sync (docs/connect.md).
    shopify_app_client_id: str | None = Field(
        default=None,
        description="Client id of your public Shopify app (installs through /shopify/install).",
    )
    shopify_app_client_secret: SecretStr | None = Field(
        default=None,
        description="Client secret of your public Shopify app; verifies installs and webhooks.",
    )
    shopify_app_name: str = Field(
        default="public",
        description="Name of the app record public-app shops share (its secret signs webhooks).",
    )
    shopify_expiring_tokens: bool = Field(
        default=True,
        description="Ask Shopify for expiring offline tokens (renewed with their refresh token).",
    )
    oauth_state_ttl: timedelta = Field(
        default=timedelta(minutes=10),
        description="How long an OAuth state nonce stays valid between install and callback.",
    )
    oauth_clock_tolerance: timedelta = Field(
        default=timedelta(seconds=90),
        description="Largest clock difference accepted on a signed install or callback request.",
    )
    token_renew_margin: timedelta = Field(
        default=timedelta(hours=1),
        description="Renew an expiring Shopify token this long before it lapses.",
    )
    backfill_days: int = Field(
        default=60,
        ge=1,
        le=3650,
        description="Days of orders read on connect; above 60 asks for the read_all_orders scope.",
    )
    bulk_backfill_threshold: int = Field(
        default=2500,
        ge=0,
        description="A backfill of more orders than this runs as a Shopify bulk operation.",
    )
    poll_interval: timedelta = Field(
        default=timedelta(minutes=5),
        description="How often each shop's orders (and each supplier's open orders) are polled.",
    )
    poll_overlap: timedelta = Field(
        default=timedelta(minutes=10),
        description="How far each poll re-reads behind its watermark, for late-indexed updates.",
    )
    poll_timeout: timedelta = Field(
        default=timedelta(minutes=4),
        description="A shop's poll is abandoned after this long, so it never delays the next.",
    )
    supplier_poll_backoff_max: timedelta = Field(
        default=timedelta(hours=12),
        description="Longest wait between two polls of one supplier order without tracking.",
    )
    supplier_webhook_silence: timedelta = Field(
        default=timedelta(hours=6),
        description="CJ's webhook is re-registered when none arrived this long while orders moved.",
    )
    cj_api_url: str = Field(
        default="https://developers.cjdropshipping.com/api2.0/v1",
        description="CJdropshipping API base URL.",
    )
    aliexpress_api_url: str = Field(
        default="https://api-sg.aliexpress.com/sync",
        description="AliExpress Open Platform business API URL.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split("://", 1)[0]
        if scheme not in {"postgresql", "postgres", "postgresql+asyncpg"}:
            msg = "must start with postgresql://"
            raise ValueError(msg)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and value.split("://", 1)[0] not in {"redis", "rediss", "unix"}:
            msg = "must start with redis://, rediss:// or unix://"
            raise ValueError(msg)
        return value

    @field_validator("shopify_graphql_url_template")
    @classmethod
    def _graphql_placeholders(cls, value: str) -> str:
        if "{shop}" not in value or "{version}" not in value:
            msg = "must contain {shop} and {version}"
            raise ValueError(msg)
        return value

    @field_validator("shopify_oauth_url_template")
    @classmethod
    def _oauth_placeholders(cls, value: str) -> str:
        if "{shop}" not in value or "{endpoint}" not in value:
            msg = "must contain {shop} and {endpoint}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _full_pass_fits_the_pool(self) -> "Settings":
        # The full pass holds one pool connection per batch at once: more batches than the pool
        # has connections would wait forever for one the pass itself holds.
        if self.classify_full_pass_concurrency > self.db_pool_max:
            msg = (
                f"classify_full_pass_concurrency ({self.classify_full_pass_concurrency}) must not"
                f" exceed db_pool_max ({self.db_pool_max}): each batch of the full pass holds"
                " a connection of the worker's pool"
            )
            raise ValueError(msg)
        return self

    @property
    def uses_embedded_servers(self) -> bool:
        return self.database_url is None or self.redis_url is None


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
