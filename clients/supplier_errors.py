"""Errors shared by the supplier API clients (CJdropshipping, AliExpress).

The poller decides from the type alone: unavailable and rate-limited calls are retried later
with backoff, a refused credential flags the supplier account for a person, and an order the
supplier does not know (or no longer shows us) is backed off like one without tracking.
"""

__all__ = [
    "SupplierApiError",
    "SupplierAuthError",
    "SupplierNotFoundError",
    "SupplierRateLimitedError",
    "SupplierUnavailableError",
]


class SupplierApiError(Exception):
    """The supplier answered with an error we cannot use, or something unreadable."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class SupplierUnavailableError(SupplierApiError):
    """Transport failure or 5xx: try again later."""


class SupplierRateLimitedError(SupplierUnavailableError):
    """The supplier's rate limit: try again later, more slowly."""


class SupplierAuthError(SupplierApiError):
    """The credentials were refused (expired or revoked token, wrong key or signature)."""


class SupplierNotFoundError(SupplierApiError):
    """The supplier does not know the order, or it is not ours to read."""
