"""Registering shops and their app credentials; shared by the CLI and the admin API."""

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schema.db import Connection
from schema.queries.shops import ShopRecord, insert_shop, upsert_app
from schema.secrets import SecretBox

__all__ = ["AppKind", "ShopRegistration", "register_shop", "validate_shop_domain"]

_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class AppKind(StrEnum):
    PUBLIC = "public"  # OAuth authorization code grant
    CUSTOM = "custom"  # Dev Dashboard app: client credentials grant
    LEGACY = "legacy"  # legacy custom app: static Admin API access token


def validate_shop_domain(value: str) -> str:
    domain = value.strip().lower()
    if not _SHOP_DOMAIN.fullmatch(domain):
        msg = f"{value!r} is not a shop domain of the form <name>.myshopify.com"
        raise ValueError(msg)
    return domain


class ShopRegistration(BaseModel):
    """A shop with the credentials of the app it connects through."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str = Field(description="The shop's <name>.myshopify.com domain.")
    kind: AppKind = Field(description="How the shop is connected.")
    app_name: str | None = Field(
        default=None,
        description="Name of the app record; shops of one public app share it. "
        "Defaults to the shop domain.",
    )
    client_id: str | None = None
    client_secret: str | None = Field(
        default=None, description="Signs the app's webhooks; required for every kind."
    )
    access_token: str | None = Field(default=None, description="Legacy custom apps only.")
    plan: str = "standard"
    timezone: str = "UTC"

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        return validate_shop_domain(value)

    @model_validator(mode="after")
    def _credentials_fit_kind(self) -> "ShopRegistration":
        if not self.client_secret:
            msg = "client_secret is required: Shopify signs webhooks with it"
            raise ValueError(msg)
        if self.kind is AppKind.LEGACY and not self.access_token:
            msg = "a legacy custom app needs access_token"
            raise ValueError(msg)
        if self.kind in {AppKind.CUSTOM, AppKind.PUBLIC} and not self.client_id:
            msg = f"a {self.kind} app needs client_id"
            raise ValueError(msg)
        return self


async def register_shop(
    connection: Connection, secrets: SecretBox, registration: ShopRegistration
) -> ShopRecord:
    """Store the app and the shop, secrets encrypted, in one transaction."""
    async with connection.transaction():
        app_id = await upsert_app(
            connection,
            name=registration.app_name or registration.domain,
            kind=registration.kind.value,
            client_id=registration.client_id,
            client_secret_enc=secrets.encrypt(registration.client_secret or ""),
        )
        return await insert_shop(
            connection,
            domain=registration.domain,
            app_id=app_id,
            access_token_enc=(
                secrets.encrypt(registration.access_token) if registration.access_token else None
            ),
            plan=registration.plan,
            timezone=registration.timezone,
        )
