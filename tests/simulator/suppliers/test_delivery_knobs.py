"""Delivery knobs: drop, duplicate, delay, reorder; all seeded and repeatable."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from simulator.suppliers import (
    DeliveryReport,
    LineItem,
    ManualClock,
    Supplier,
    SupplierSimulator,
)
from simulator.suppliers.receiver import RecordingReceiver

URL = "http://dropsync.test/webhooks/suppliers/any?token=k"
ITEM = LineItem(quantity=1, sku="SKU-1")


@pytest.fixture
async def receiver() -> RecordingReceiver:
    return RecordingReceiver()


@pytest.fixture
async def client(receiver: RecordingReceiver) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver.app)) as c:
        yield c


def make_sim(client: httpx.AsyncClient, *, seed: int = 1) -> SupplierSimulator:
    sim = SupplierSimulator(seed=seed, clock=ManualClock(), http_client=client)
    for supplier in Supplier:
        sim.set_webhook_url(supplier, URL)
    return sim


def place(sim: SupplierSimulator, count: int, supplier: Supplier = Supplier.GENERIC) -> None:
    for n in range(count):
        sim.place_order(supplier, merchant_reference=f"#{n}", line_items=(ITEM,))


async def test_drop_rate_one_loses_every_message(
    client: httpx.AsyncClient, receiver: RecordingReceiver
) -> None:
    sim = make_sim(client)
    sim.set_knobs(Supplier.CJ, drop_rate=1.0)
    place(sim, 5, Supplier.CJ)

    report = await sim.deliver()

    assert len(report.dropped) == 5
    assert receiver.requests == []
    assert sim.stats()["delivery"]["cj"]["dropped"] == 5


async def test_drop_rate_share_is_the_same_for_the_same_seed(
    client: httpx.AsyncClient,
) -> None:
    reports: list[DeliveryReport] = []
    for _ in range(2):
        sim = make_sim(client, seed=42)
        sim.set_knobs(Supplier.GENERIC, drop_rate=0.5)
        place(sim, 40)
        reports.append(await sim.deliver())

    first, second = reports
    assert first.dropped == second.dropped
    assert 8 <= len(first.dropped) <= 32
    assert len(first.dropped) + first.accepted == 40


async def test_duplicate_rate_one_sends_each_message_twice_with_same_id(
    client: httpx.AsyncClient, receiver: RecordingReceiver
) -> None:
    sim = make_sim(client)
    sim.set_knobs(Supplier.GENERIC, duplicate_rate=1.0)
    place(sim, 3)

    report = await sim.deliver()

    ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert sorted(ids.values()) == [2, 2, 2]
    assert sum(a.duplicate for a in report.attempts) == 3
    assert len({r.body for r in receiver.requests}) == 3


async def test_delay_holds_messages_until_the_clock_passes_it(
    client: httpx.AsyncClient, receiver: RecordingReceiver
) -> None:
    sim = make_sim(client)
    sim.set_knobs(Supplier.ALIEXPRESS, delay_seconds=120)
    place(sim, 2, Supplier.ALIEXPRESS)

    early = await sim.deliver()
    sim.advance(timedelta(seconds=119))
    still_early = await sim.deliver()
    sim.advance(timedelta(seconds=1))
    due = await sim.deliver()

    assert early.attempts == still_early.attempts == ()
    assert due.accepted == 2
    assert len(receiver.requests) == 2


async def test_include_delayed_flushes_messages_before_they_are_due(
    client: httpx.AsyncClient,
) -> None:
    sim = make_sim(client)
    sim.set_knobs(Supplier.GENERIC, delay_seconds=3600, delay_jitter_seconds=600)
    place(sim, 2)

    report = await sim.deliver(include_delayed=True)

    assert report.accepted == 2


async def test_reorder_shuffles_the_batch_repeatably(client: httpx.AsyncClient) -> None:
    orders: list[list[str]] = []
    for _ in range(2):
        sim = make_sim(client, seed=9)
        sim.set_knobs(Supplier.GENERIC, reorder=True)
        place(sim, 8)
        created = [m.message_id for m in sim.messages()]
        report = await sim.deliver()
        orders.append([a.message_id for a in report.attempts])

    assert orders[0] == orders[1]
    assert sorted(orders[0]) == sorted(created)
    assert orders[0] != created


async def test_messages_without_a_url_are_recorded_but_not_sent(
    client: httpx.AsyncClient, receiver: RecordingReceiver
) -> None:
    sim = SupplierSimulator(seed=1, clock=ManualClock(), http_client=client)
    place(sim, 2, Supplier.CJ)

    report = await sim.deliver()

    assert report.attempts == ()
    assert len(sim.messages(supplier=Supplier.CJ)) == 2
    assert sim.stats()["delivery"]["cj"]["unrouted"] == 2
    assert receiver.requests == []


def test_same_seed_produces_identical_webhooks() -> None:
    bodies = []
    for _ in range(2):
        sim = SupplierSimulator(seed=123, clock=ManualClock())
        for supplier in Supplier:
            order = sim.place_order(supplier, merchant_reference="#1", line_items=(ITEM,))
            sim.ship(order.supplier_order_id)
        bodies.append([m.body for m in sim.messages()])

    assert bodies[0] == bodies[1]


async def test_concurrent_flush_delivers_everything_once(
    client: httpx.AsyncClient, receiver: RecordingReceiver
) -> None:
    sim = make_sim(client)
    place(sim, 10)

    report = await sim.deliver(concurrency=4)

    assert report.accepted == 10
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 10
