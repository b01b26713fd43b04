"""Normalise tracking numbers and supplier order ids for matching.

Suppliers and Shopify write the same tracking number differently: ``"lp 0012-3456 cn"``,
``"LP00123456CN"``, full-width digits from a Chinese back office. Matching uses a
normalised key; the original text is always kept and is what gets sent to Shopify.

The key is: Unicode NFKC (full-width characters become ASCII), upper case, then every
character that is not an ASCII letter or digit is dropped (spaces, dashes, dots,
slashes, underscores, Unicode dashes and any other separator). Real tracking numbers and
supplier ids are ASCII alphanumerics, so dropping the rest loses nothing that matters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core.errors import PayloadError

__all__ = [
    "TrackingNumber",
    "make_tracking_number",
    "normalize_supplier_id",
    "normalize_tracking_number",
]

_NOT_ASCII_ALNUM = re.compile(r"[^0-9A-Z]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackingNumber:
    """A tracking number as the supplier wrote it and its matching key."""

    original: str
    normalized: str


def normalize_tracking_number(raw: str) -> str:
    """Return the matching key of a tracking number (may be empty)."""
    return _matching_key(raw)


def normalize_supplier_id(raw: str | int) -> str:
    """Return the matching key of a supplier order id (may be empty).

    Integers are accepted because some suppliers send numeric ids as JSON numbers.
    """
    return _matching_key(str(raw))


def make_tracking_number(raw: str, *, field: str | None = None) -> TrackingNumber:
    """Build a :class:`TrackingNumber`, keeping `raw` with outer whitespace trimmed.

    Raises
    ------
    PayloadError
        If nothing alphanumeric is left, e.g. ``""`` or ``" - "``.
    """
    normalized = _matching_key(raw)
    if not normalized:
        raise PayloadError(
            f"{raw!r} is not a tracking number (no letters or digits)", field=field
        )
    return TrackingNumber(original=raw.strip(), normalized=normalized)


def _matching_key(raw: str) -> str:
    return _NOT_ASCII_ALNUM.sub("", unicodedata.normalize("NFKC", raw).upper())
