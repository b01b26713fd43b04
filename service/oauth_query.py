"""Verifying the signed query strings Shopify sends to an app's install and callback URLs.

The digest itself is core's (`core.signatures`: hex HMAC-SHA256 of the sorted, escaped
parameters, arrays included); this module adds the refusal reasons the routes log and the
clock tolerance, so a captured URL cannot be replayed later.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from core.signatures import is_oauth_timestamp_fresh, sign_oauth_query
from core.signatures import verify_oauth_query as _hmac_matches

__all__ = ["query_signature", "verify_oauth_query"]


def query_signature(pairs: Iterable[tuple[str, str]], *, secret: str) -> str:
    """The hex digest Shopify puts in `hmac` for these parameters (hmac/signature excluded)."""
    return sign_oauth_query(list(pairs), secret)


def verify_oauth_query(
    pairs: list[tuple[str, str]],
    *,
    secrets: list[str],
    now: datetime,
    tolerance: timedelta,
) -> str | None:
    """None when the query is genuine and fresh; otherwise why it is refused."""
    if sum(1 for name, _ in pairs if name == "hmac") != 1:
        return "the request carries no hmac parameter"
    if not any(_hmac_matches(pairs, secret) for secret in secrets):
        return "the request's hmac does not match"
    if not is_oauth_timestamp_fresh(pairs, now=now, tolerance=tolerance):
        return "the request's timestamp is missing or outside the accepted clock tolerance"
    return None
