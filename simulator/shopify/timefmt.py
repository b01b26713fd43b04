"""Timestamps: GraphQL `DateTime` (UTC, `Z`) and REST payloads (shop's offset)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

__all__ = ["graphql_datetime", "parse_search_datetime", "rest_datetime"]


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def graphql_datetime(value: datetime | None) -> str | None:
    """Format as Shopify's GraphQL `DateTime`: `2026-05-01T12:00:00Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rest_datetime(value: datetime | None, timezone: str) -> str | None:
    """Format as REST payloads do, in the shop's zone: `2021-12-31T19:00:00-05:00`."""
    if value is None:
        return None
    return value.astimezone(_zone(timezone)).replace(microsecond=0).isoformat()


def parse_search_datetime(text: str, timezone: str) -> datetime | None:
    """Parse a search-syntax date (`2026-05-01`, ISO with or without zone).

    Dates without a zone are in the shop's time zone, as in Shopify's search syntax.
    """
    cleaned = text.strip().strip("'\"")
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(timezone))
    return parsed
