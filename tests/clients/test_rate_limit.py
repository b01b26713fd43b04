"""The per-shop cost limiter mirrors Shopify's bucket and paces calls."""

import asyncio

import pytest

from clients.rate_limit import CostLimiter, ThrottleStatus


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def status(available: float, *, maximum: float = 2000.0, rate: float = 100.0) -> ThrottleStatus:
    return ThrottleStatus(
        maximum_available=maximum, currently_available=available, restore_rate=rate
    )


async def test_acquire_returns_at_once_when_bucket_is_full() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    assert await limiter.acquire("a", 500) == 0.0


async def test_acquire_waits_for_restoration_after_a_low_report() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    await limiter.acquire("a", 10)
    limiter.release("a", 10, status(0.0, rate=50.0))
    waited = await limiter.acquire("a", 100)
    assert waited == pytest.approx(2.0)


async def test_in_flight_reservations_count_against_the_bucket() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.release("a", 0, status(100.0))
    await limiter.acquire("a", 60)
    waited = await limiter.acquire("a", 60)
    # 40 left after the first reservation; 20 more points take 0.2 s
    assert waited == pytest.approx(0.2)


async def test_restored_level_never_exceeds_the_maximum() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.release("a", 0, status(0.0, maximum=1000.0, rate=50.0))
    clock.now += 1000
    assert limiter.bucket("a").level(clock.now) == 1000.0


async def test_penalise_makes_the_next_call_wait_retry_after() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.release("a", 0, status(2000.0))
    limiter.penalise("a", 3.0)
    waited = await limiter.acquire("a", 10)
    assert waited == pytest.approx(3.1)


async def test_shops_have_independent_buckets() -> None:
    clock = FakeClock()
    limiter = CostLimiter(clock=clock, sleep=clock.sleep)
    limiter.release("a", 0, status(0.0))
    assert await limiter.acquire("b", 500) == 0.0
