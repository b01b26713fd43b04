"""Injected failures of the Admin API: 5xx, 429, slow answers, hangs, lost answers.

A `FaultPlan` gives per-call probabilities, drawn from a seeded `random.Random` so a run
is reproducible. `queue` forces the next calls to fail in a given way, for exact tests.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FaultInjector", "FaultKind", "FaultPlan"]


class FaultKind(StrEnum):
    """What goes wrong with one call."""

    NONE = "none"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    SLOW = "slow"
    TIMEOUT = "timeout"
    APPLY_THEN_TIMEOUT = "apply_then_timeout"


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """Share of calls hit by each fault, and how long slow answers and hangs last.

    `timeout` hangs `hang_seconds` then answers 504 without applying anything;
    `apply_then_timeout` applies the request, hangs, then answers 504, so the client
    cannot tell that its mutation took effect.
    """

    server_error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    slow_rate: float = 0.0
    timeout_rate: float = 0.0
    apply_then_timeout_rate: float = 0.0
    slow_seconds: float = 1.0
    hang_seconds: float = 30.0
    retry_after_seconds: float = 2.0
    server_error_statuses: tuple[int, ...] = (500, 502, 503)


class FaultInjector:
    """Decide, call by call and shop by shop, which fault (if any) applies."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._plans: dict[str | None, FaultPlan] = {}
        self._queued: dict[str | None, deque[FaultKind]] = {}

    def set_plan(self, plan: FaultPlan | None, *, shop: str | None = None) -> None:
        if plan is None:
            self._plans.pop(shop, None)
        else:
            self._plans[shop] = plan

    def plan_for(self, shop: str) -> FaultPlan:
        return self._plans.get(shop) or self._plans.get(None) or FaultPlan()

    def queue(
        self, kind: FaultKind, *, shop: str | None = None, count: int = 1
    ) -> None:
        self._queued.setdefault(shop, deque()).extend([kind] * count)

    def clear(self) -> None:
        self._plans.clear()
        self._queued.clear()

    def draw(self, shop: str) -> FaultKind:
        """Return the fault for the next call to `shop`."""
        for key in (shop, None):
            queued = self._queued.get(key)
            if queued:
                return queued.popleft()
        plan = self.plan_for(shop)
        rates = (
            (FaultKind.SERVER_ERROR, plan.server_error_rate),
            (FaultKind.RATE_LIMITED, plan.rate_limit_rate),
            (FaultKind.TIMEOUT, plan.timeout_rate),
            (FaultKind.APPLY_THEN_TIMEOUT, plan.apply_then_timeout_rate),
            (FaultKind.SLOW, plan.slow_rate),
        )
        if not any(rate > 0 for _, rate in rates):
            return FaultKind.NONE
        roll = self._rng.random()
        for kind, rate in rates:
            if roll < rate:
                return kind
            roll -= rate
        return FaultKind.NONE

    def server_error_status(self, shop: str) -> int:
        return self._rng.choice(self.plan_for(shop).server_error_statuses)
