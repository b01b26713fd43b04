"""Per-shop cost budgets for Shopify's GraphQL Admin API (a leaky bucket per app and store).

Shopify admits a call only when the shop's bucket holds the call's *requested* cost, then
refunds the difference to the actual cost. Every response reports the bucket in
`extensions.cost.throttleStatus` (`maximumAvailable`, `currentlyAvailable`, `restoreRate`), so
the limiter never guesses a plan: it mirrors the last figure Shopify reported, lets it restore
at `restoreRate` per second, and makes a caller wait before a call that would overdraw it.
Steady-state pushing therefore never trips `THROTTLED`.

State is per shop, behind a per-shop lock: one shop waiting for its bucket never holds up
another. Calls in flight for the same shop reserve their cost until their answer arrives.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["CostLimiter", "ShopBucket", "ThrottleStatus"]

# Before Shopify has told us anything about a shop, assume the smallest current plan: a
# standard store's bucket (2,000 points, 100 per second); the first answer corrects it.
_DEFAULT_MAXIMUM = 2000.0
_DEFAULT_RESTORE_RATE = 100.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottleStatus:
    """`extensions.cost.throttleStatus` as Shopify reports it."""

    maximum_available: float
    currently_available: float
    restore_rate: float


@dataclass(slots=True, kw_only=True)
class ShopBucket:
    """What we believe one shop's bucket holds, and the calls in flight against it."""

    maximum: float = _DEFAULT_MAXIMUM
    available: float = _DEFAULT_MAXIMUM
    restore_rate: float = _DEFAULT_RESTORE_RATE
    at: float = 0.0
    in_flight: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def level(self, now: float) -> float:
        """Points available at `now`, counting restoration since the last report."""
        restored = self.available + max(0.0, now - self.at) * self.restore_rate
        return min(self.maximum, restored)


@dataclass(slots=True)
class CostLimiter:
    """Waits before calls that would overdraw a shop's bucket; one instance per process.

    `clock` and `sleep` are injectable so tests run without real waiting.
    """

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _buckets: dict[str, ShopBucket] = field(default_factory=dict)

    def bucket(self, shop: str) -> ShopBucket:
        found = self._buckets.get(shop)
        if found is None:
            found = ShopBucket(at=self.clock())
            self._buckets[shop] = found
        return found

    async def acquire(self, shop: str, cost: float) -> float:
        """Wait until `cost` points are available for `shop`, then reserve them.

        Returns the seconds waited. A cost above the bucket's maximum waits for a full bucket
        (Shopify would refuse it otherwise; the 1,000-point query limit keeps this rare).
        """
        bucket = self.bucket(shop)
        waited = 0.0
        async with bucket.lock:
            while True:
                now = self.clock()
                level = bucket.level(now) - bucket.in_flight
                needed = min(cost, bucket.maximum)
                if level >= needed:
                    break
                delay = (needed - level) / bucket.restore_rate
                waited += delay
                await self.sleep(delay)
            bucket.in_flight += cost
        return waited

    def release(self, shop: str, cost: float, status: ThrottleStatus | None) -> None:
        """End a reservation; `status` is the bucket Shopify reported with the answer, if any.

        Without a report (a transport error, a 5xx) the reservation is simply dropped: the call
        may or may not have been charged, and the next answer will say.
        """
        bucket = self.bucket(shop)
        bucket.in_flight = max(0.0, bucket.in_flight - cost)
        if status is None:
            return
        bucket.maximum = max(status.maximum_available, 1.0)
        bucket.restore_rate = max(status.restore_rate, 0.001)
        bucket.available = status.currently_available
        bucket.at = self.clock()

    def penalise(self, shop: str, seconds: float) -> None:
        """Empty the bucket for `seconds` of restoration (after a 429 with Retry-After)."""
        bucket = self.bucket(shop)
        bucket.available = min(bucket.level(self.clock()), 0.0) - seconds * bucket.restore_rate
        bucket.at = self.clock()
