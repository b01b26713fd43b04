"""Clocks the supplier simulator reads time from.

Tests inject a ``ManualClock`` so timestamps, delays and retries are exact; the
standalone server uses ``SystemClock``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["DEFAULT_START", "Clock", "ManualClock", "SystemClock"]

DEFAULT_START = datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC)


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        if moment.astimezone(UTC) < self._now:
            raise ValueError("time only moves forward")
        self._now = moment.astimezone(UTC)
