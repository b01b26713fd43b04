"""Shopify delivery headers: both spellings, the triggered-at timestamp, what is worth keeping.

Webhooks use `X-Shopify-*`; the newer Events deliveries use the same names without the `X-`
(`shopify-hmac-sha256`, `shopify-topic`, ...). Header names are case-insensitive.
"""

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = [
    "KEPT_HEADERS",
    "delivery_fingerprint",
    "parse_triggered_at",
    "shopify_header",
]

# Kept with each delivery (the signature is not: it proves nothing once stored).
KEPT_HEADERS = (
    "topic",
    "shop-domain",
    "api-version",
    "webhook-id",
    "event-id",
    "triggered-at",
    "name",
    "handle",
    "action",
    "resource-id",
)

_FRACTION = re.compile(r"\.(\d+)")


def shopify_header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of `X-Shopify-<name>` or `Shopify-<name>`, stripped; None when absent or empty."""
    value = headers.get(f"x-shopify-{name}") or headers.get(f"shopify-{name}")
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_triggered_at(value: str | None) -> datetime | None:
    """Parse Shopify's triggered-at (ISO 8601, possibly with nanoseconds); None if unreadable."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python reads at most microseconds; Shopify may send nanoseconds.
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def delivery_fingerprint(topic: str | None, body: bytes) -> str:
    """A stand-in webhook id for a delivery that carries none: repeats of it still collapse."""
    digest = hashlib.sha256((topic or "").encode() + b"\n" + body).hexdigest()
    return f"sha256:{digest}"
