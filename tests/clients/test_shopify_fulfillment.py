"""Typed reads and mutations against the Shopify simulator: paging and batching."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from clients.shopify import ShopifyClient
from clients.shopify_fulfillment import (
    FulfillmentInputLine,
    TrackingInput,
    create_fulfillment,
    read_order_fulfillment_state,
    read_orders_fulfillment_state,
)
from simulator.shopify import ShopifySimulator

DOMAIN = "paging.myshopify.com"


def number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


@pytest.fixture
async def sim() -> AsyncIterator[ShopifySimulator]:
    simulator = ShopifySimulator(seed=2, routing_delay=0)
    yield simulator
    await simulator.aclose()


@pytest.fixture
async def client(sim: ShopifySimulator) -> AsyncIterator[tuple[ShopifyClient, str]]:
    token = sim.add_shop(DOMAIN, plan="plus").access_token
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app))
    yield ShopifyClient(http=http), token
    await http.aclose()


def order_with(sim: ShopifySimulator, lines: int, *, locations: int = 1) -> dict[str, Any]:
    return sim.create_order(
        DOMAIN,
        line_items=[
            {"sku": f"S{i}", "quantity": 1, "location": f"L{i % locations}"} for i in range(lines)
        ],
        routing_delay=0,
    )


async def test_full_read_pages_fulfillment_order_lines(
    sim: ShopifySimulator, client: tuple[ShopifyClient, str]
) -> None:
    shopify, token = client
    order = order_with(sim, 45)

    state = await read_order_fulfillment_state(shopify, DOMAIN, token, order_id=number(order["id"]))

    assert state is not None
    [fo] = state.fulfillment_orders
    assert len(fo.lines) == 45
    assert {line.sku for line in fo.lines} == {f"S{i}" for i in range(45)}


async def test_full_read_pages_fulfillment_orders(
    sim: ShopifySimulator, client: tuple[ShopifyClient, str]
) -> None:
    shopify, token = client
    order = order_with(sim, 8, locations=8)

    state = await read_order_fulfillment_state(shopify, DOMAIN, token, order_id=number(order["id"]))

    assert state is not None
    assert len(state.fulfillment_orders) == 8
    assert len({fo.location_id for fo in state.fulfillment_orders}) == 8


async def test_batch_read_falls_back_to_a_full_read_for_orders_that_do_not_fit(
    sim: ShopifySimulator, client: tuple[ShopifyClient, str]
) -> None:
    shopify, token = client
    small = order_with(sim, 2)
    large = order_with(sim, 14)
    before = len(sim.calls)

    states = await read_orders_fulfillment_state(
        shopify, DOMAIN, token, order_ids=[number(small["id"]), number(large["id"]), 12345]
    )

    assert states[12345] is None
    small_state, large_state = states[number(small["id"])], states[number(large["id"])]
    assert small_state is not None
    assert large_state is not None
    assert sum(len(fo.lines) for fo in small_state.fulfillment_orders) == 2
    assert sum(len(fo.lines) for fo in large_state.fulfillment_orders) == 14
    names = [call.operation_name for call in sim.calls[before:]]
    assert names == ["DropsyncOrdersFulfillmentStateBatch", "DropsyncOrderFulfillmentState"]


@pytest.mark.parametrize(("fulfilments", "reads"), [(4, 1), (5, 2)])
async def test_batch_read_takes_a_full_page_of_fulfilments_to_mean_there_may_be_more(
    sim: ShopifySimulator, client: tuple[ShopifyClient, str], fulfilments: int, reads: int
) -> None:
    # The batch read asks for no fulfilment count: five fulfilments (its page) send the order
    # to the full read, which reads up to ten, and fewer are taken as they are.
    shopify, token = client
    order = order_with(sim, 6)
    [fo] = sim.fulfillment_orders(DOMAIN, order["id"])
    for index, line in enumerate(fo["line_items"][:fulfilments]):
        sim.create_fulfillment(
            DOMAIN,
            fulfillment_order_id=fo["id"],
            line_items=[(line["id"], 1)],
            tracking_number=f"T{index}",
            tracking_company="4PX",
        )
    before = len(sim.calls)

    states = await read_orders_fulfillment_state(
        shopify, DOMAIN, token, order_ids=[number(order["id"])]
    )

    state = states[number(order["id"])]
    assert state is not None
    assert sorted(n for f in state.fulfillments for n in f.tracking_numbers) == [
        f"T{index}" for index in range(fulfilments)
    ]
    assert len(sim.calls) - before == reads


async def test_create_fulfillment_returns_the_new_fulfilment(
    sim: ShopifySimulator, client: tuple[ShopifyClient, str]
) -> None:
    shopify, token = client
    order = order_with(sim, 1)
    fo = sim.fulfillment_orders(DOMAIN, order["id"])[0]

    outcome = await create_fulfillment(
        shopify,
        DOMAIN,
        token,
        line_items=[
            FulfillmentInputLine(
                fulfillment_order_id=number(fo["id"]),
                lines=((number(fo["line_items"][0]["id"]), 1),),
            )
        ],
        tracking=TrackingInput(numbers=("A1", "A2"), company="4PX"),
        notify_customer=True,
    )

    assert outcome.user_errors == ()
    assert outcome.fulfillment is not None
    assert outcome.fulfillment.tracking_numbers == ("A1", "A2")
    assert outcome.fulfillment.tracking_company == "4PX"


def test_tracking_input_uses_number_for_one_and_numbers_for_several() -> None:
    one = TrackingInput(numbers=("A",), company="UPS", urls=("https://t/A",)).as_variables()
    several = TrackingInput(numbers=("A", "B"), company=None, urls=("u1", "u2")).as_variables()
    assert one == {"company": "UPS", "number": "A", "url": "https://t/A"}
    assert several == {"numbers": ["A", "B"], "urls": ["u1", "u2"]}
