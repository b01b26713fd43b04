"""Supplier accounts: registering one (CLI and admin API share this), its webhook credentials.

- CJ and AliExpress sign nothing (or nothing we can confirm), so each account's webhook URL
  carries a random token, `?token=...`, shown once and stored only as its SHA-256 hash.
- The generic format is signed per Standard Webhooks with a `whsec_` secret; it is generated
  (or taken from the caller), shown once, and stored encrypted. Several secrets may be given for
  rotation.
"""

import base64
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from schema.db import Connection
from schema.queries.supplier_accounts import SupplierAccountRecord, insert_supplier_account
from schema.secrets import SecretBox

__all__ = [
    "NewSupplierAccount",
    "SupplierAccountRegistration",
    "SupplierKind",
    "account_webhook_secrets",
    "hash_webhook_token",
    "register_supplier_account",
    "webhook_url",
]


class SupplierKind(StrEnum):
    CJ = "cj"
    ALIEXPRESS = "aliexpress"
    GENERIC = "generic"


class SupplierAccountRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SupplierKind
    name: str = Field(min_length=1, max_length=200, description="Unique name for the account.")
    shop_ids: list[int] = Field(
        default_factory=list, description="Shops this account serves (one or more)."
    )
    default_shop_id: int | None = Field(
        default=None,
        description="Where supplier orders matching no Shopify order are kept and reported. "
        "Defaults to the first of shop_ids.",
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="IANA zone of the supplier's zoneless dates (CJ)."
    )
    note_attributes: list[str] = Field(
        default_factory=list,
        description="Order note attribute names that may hold the reference given to the "
        "supplier (matched besides the order id and name).",
    )
    webhook_secrets: list[str] = Field(
        default_factory=list,
        description="generic only: whsec_ secrets to accept; one is generated when empty.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            msg = f"{value!r} is not an IANA time zone"
            raise ValueError(msg) from error
        return value

    @field_validator("webhook_secrets")
    @classmethod
    def _whsec(cls, value: list[str]) -> list[str]:
        for secret in value:
            if not secret.startswith("whsec_"):
                msg = "Standard Webhooks secrets start with 'whsec_'"
                raise ValueError(msg)
            try:
                base64.b64decode(secret.removeprefix("whsec_"), validate=True)
            except ValueError as error:
                msg = "a secret is not 'whsec_' followed by base64"
                raise ValueError(msg) from error
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSupplierAccount:
    """A created account and the credentials shown only this once."""

    account: SupplierAccountRecord
    webhook_token: str | None
    webhook_secrets: list[str]


def hash_webhook_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def account_webhook_secrets(account: SupplierAccountRecord, box: SecretBox) -> list[str]:
    """The decrypted Standard Webhooks secrets of a generic account."""
    if account.secrets_enc is None:
        return []
    stored = orjson.loads(box.decrypt(account.secrets_enc))
    found = stored.get("webhook_secrets", []) if isinstance(stored, dict) else []
    return [str(secret) for secret in found]


def webhook_url(public_url: str | None, account_id: int, token: str | None) -> str:
    base = (public_url or "https://<your dropsync host>").rstrip("/")
    url = f"{base}/webhooks/suppliers/{account_id}"
    return f"{url}?token={token}" if token else url


async def register_supplier_account(
    connection: Connection, box: SecretBox, registration: SupplierAccountRegistration
) -> NewSupplierAccount:
    token: str | None = None
    webhook_secrets: list[str] = []
    secrets_enc: bytes | None = None
    if registration.kind is SupplierKind.GENERIC:
        webhook_secrets = list(registration.webhook_secrets) or [
            "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        ]
        secrets_enc = box.encrypt(orjson.dumps({"webhook_secrets": webhook_secrets}).decode())
    else:
        token = secrets.token_urlsafe(24)
    async with connection.transaction():
        account = await insert_supplier_account(
            connection,
            kind=registration.kind.value,
            name=registration.name,
            webhook_token_hash=hash_webhook_token(token) if token else None,
            secrets_enc=secrets_enc,
            timezone=registration.timezone,
            default_shop_id=registration.default_shop_id
            or (registration.shop_ids[0] if registration.shop_ids else None),
            shop_ids=registration.shop_ids,
            settings={"note_attributes": registration.note_attributes},
        )
    return NewSupplierAccount(account=account, webhook_token=token, webhook_secrets=webhook_secrets)
