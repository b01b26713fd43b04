"""Fault injection for the simulated supplier APIs: 5xx share, slowness, hangs, QPS.

Every API handler asks ``FaultInjector.intercept`` first; a returned response
replaces the real answer. Rate limiting counts requests per whole second of
the simulator's clock, so it is exact under a ``ManualClock``.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from starlette.responses import PlainTextResponse, Response

from simulator.suppliers.clock import Clock

__all__ = ["FaultInjector", "FaultKnobs", "Platform"]


class Platform(StrEnum):
    CJ = "cj"
    ALIEXPRESS = "aliexpress"


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultKnobs:
    """How the API side misbehaves.

    ``error_rate``: share answered ``error_status`` (a gateway error, not JSON);
    ``slow_rate``: share answered after ``slow_seconds``; ``timeout_rate``: share
    that hang ``timeout_seconds`` and then answer 504; ``rate_limit_per_second``:
    requests allowed per platform per clock second (``None`` = unlimited).
    """

    error_rate: float = 0.0
    error_status: int = 503
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    rate_limit_per_second: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "slow_rate", "timeout_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def updated(self, changes: Mapping[str, Any]) -> FaultKnobs:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault knobs: {sorted(unknown)}")
        return replace(self, **changes)


RateLimited = Callable[[], Response]


class FaultInjector:
    """Decide, per request, whether the API answers normally."""

    def __init__(
        self,
        *,
        clock: Clock,
        rng: random.Random,
        knobs: FaultKnobs | None = None,
    ) -> None:
        self.knobs = knobs or FaultKnobs()
        self._clock = clock
        self._rng = rng
        self._window: dict[Platform, tuple[int, int]] = {}
        self.counts: dict[str, int] = {
            "requests": 0,
            "errors": 0,
            "slow": 0,
            "timeouts": 0,
            "rate_limited": 0,
        }

    async def intercept(self, platform: Platform, *, rate_limited: RateLimited) -> Response | None:
        self.counts["requests"] += 1
        knobs = self.knobs
        if self._over_rate_limit(platform):
            self.counts["rate_limited"] += 1
            return rate_limited()
        roll = self._rng.random()
        if roll < knobs.error_rate:
            self.counts["errors"] += 1
            return PlainTextResponse(
                f"{knobs.error_status} upstream unavailable",
                status_code=knobs.error_status,
            )
        roll -= knobs.error_rate
        if roll < knobs.timeout_rate:
            self.counts["timeouts"] += 1
            await asyncio.sleep(knobs.timeout_seconds)
            return PlainTextResponse("504 gateway timeout", status_code=504)
        roll -= knobs.timeout_rate
        if roll < knobs.slow_rate:
            self.counts["slow"] += 1
            await asyncio.sleep(knobs.slow_seconds)
        return None

    def _over_rate_limit(self, platform: Platform) -> bool:
        limit = self.knobs.rate_limit_per_second
        if limit is None:
            return False
        second = math.floor(self._clock.now().timestamp())
        window_second, count = self._window.get(platform, (second, 0))
        if window_second != second:
            count = 0
        count += 1
        self._window[platform] = (second, count)
        return count > limit
