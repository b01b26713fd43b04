"""Verifying the signed query strings Shopify sends to an app's install and callback URLs.

The `hmac` parameter is the hex HMAC-SHA256, keyed by the app's client secret, of every other
parameter sorted by name and joined as `name=value&...`, with `%` and `&` escaped in names and
values and `=` in names. (Webhooks use base64 digests; OAuth queries use hex.) A `timestamp`
outside the clock tolerance is refused, so a captured URL cannot be replayed later.
"""

import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

__all__ = ["query_signature", "verify_oauth_query"]


def _escape(text: str, *, is_name: bool) -> str:
    text = text.replace("%", "%25").replace("&", "%26")
    return text.replace("=", "%3D") if is_name else text


def query_signature(pairs: Iterable[tuple[str, str]], *, secret: str) -> str:
    """The hex digest Shopify puts in `hmac` for these parameters (hmac/signature excluded)."""
    message = "&".join(
        f"{_escape(name, is_name=True)}={_escape(value, is_name=False)}"
        for name, value in sorted(pairs)
        if name not in {"hmac", "signature"}
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_oauth_query(
    pairs: list[tuple[str, str]],
    *,
    secrets: list[str],
    now: datetime,
    tolerance: timedelta,
) -> str | None:
    """None when the query is genuine and fresh; otherwise why it is refused."""
    given = [value for name, value in pairs if name == "hmac"]
    if len(given) != 1:
        return "the request carries no hmac parameter"
    if not any(
        hmac.compare_digest(query_signature(pairs, secret=secret), given[0].lower())
        for secret in secrets
    ):
        return "the request's hmac does not match"
    stamps = [value for name, value in pairs if name == "timestamp"]
    try:
        sent = datetime.fromtimestamp(int(stamps[0]), tz=UTC)
    except (IndexError, ValueError, OverflowError, OSError):
        return "the request carries no valid timestamp"
    if abs(now - sent) > tolerance:
        return "the request's timestamp is outside the accepted clock tolerance"
    return None
