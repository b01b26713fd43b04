"""Accounts, credentials and format choices of the simulated suppliers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta, tzinfo

from simulator.suppliers import aliexpress, cj

__all__ = ["SupplierSettings"]


@dataclass(slots=True, kw_only=True)
class SupplierSettings:
    """Accounts, credentials and format choices of the simulated suppliers."""

    cj_open_id: int = 1234567
    cj_api_keys: set[str] = field(default_factory=lambda: {"cj-test-api-key"})
    cj_access_tokens: set[str] = field(default_factory=lambda: {"cj-test-token"})
    cj_timezone: tzinfo = cj.CHINA_TIME
    cj_enforce_public_https: bool = False
    # Fields only third parties report in newer CJ docs (trackingProvider,
    # storeOrderNumbers); off by default.
    cj_newer_fields: bool = False
    ae_app_key: str = "500001"
    ae_app_secret: str = "ae-test-secret"  # noqa: S105 - a simulator credential
    ae_sessions: set[str] = field(default_factory=lambda: {"ae-test-session"})
    ae_buyer_id: int = 1861703697
    ae_seller_id: str = "2000000001"
    ae_store_id: int = 1101234567
    ae_timezone: tzinfo = aliexpress.PACIFIC_TIME
    ae_collapse_single_item_lists: bool = True
    ae_timestamp_tolerance: timedelta | None = None
    # The push signature is unconfirmed; when set, the body's hex HMAC-SHA256
    # with the app secret is sent in this header.
    ae_push_signature_header: str | None = None
    generic_secrets: list[str] = field(default_factory=list)
    shipping_country: str = "US"
