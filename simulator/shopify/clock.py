"""Clocks: the simulator reads time only through an injectable callable."""

from __future__ import annotations

__all__ = ["ManualClock"]


class ManualClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward and return the new reading."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        self._now += seconds
        return self._now

    async def sleep(self, seconds: float) -> None:
        """An `asyncio.sleep` stand-in that advances this clock instead of waiting."""
        self.advance(max(seconds, 0.0))
