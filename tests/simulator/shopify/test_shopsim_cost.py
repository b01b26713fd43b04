"""Calculated query cost, the 1,000-point ceiling and the per-shop leaky bucket."""

from __future__ import annotations

from simulator.shopify import ManualClock, ShopifySimulator
from tests.simulator.shopify.shopsim_helpers import SHOP, AdminClient

NESTED = """
{ orders(first: 10) {
    edges { cursor node { id name lineItems(first: 5) { nodes { id sku } } } }
    pageInfo { hasNextPage endCursor }
} }
"""
BIG = "{ orders(first: 80) { nodes { id lineItems(first: 9) { nodes { id } } } } }"


async def test_nested_connection_cost_multiplies_page_sizes(admin: AdminClient) -> None:
    body = await admin.gql(NESTED)
    # 2 + 10 * (order 1 + lineItems (2 + 5 * line item 1))
    assert body["extensions"]["cost"]["requestedQueryCost"] == 82


async def test_actual_cost_counts_returned_nodes_and_is_refunded(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    for _ in range(3):
        sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    body = await admin.gql(NESTED)
    cost = body["extensions"]["cost"]
    # 2 for orders + 3 orders + 3 * (2 for lineItems + 1 line item)
    assert cost["actualQueryCost"] == 2 + 3 + 3 * 3
    assert cost["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 2000 - cost["actualQueryCost"],
        "restoreRate": 100.0,
    }


async def test_mutation_costs_ten_plus_its_selection(admin: AdminClient) -> None:
    body = await admin.gql(
        'mutation { fulfillmentCancel(id: "gid://shopify/Fulfillment/1") '
        "{ fulfillment { id } userErrors { field message } } }"
    )
    assert body["extensions"]["cost"]["requestedQueryCost"] == 11
    assert body["extensions"]["cost"]["actualQueryCost"] == 10


async def test_query_over_1000_points_is_refused_with_max_cost_exceeded(
    admin: AdminClient,
) -> None:
    body = await admin.gql(
        "{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }"
    )
    assert "data" not in body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 250 * (1 + 2 + 250)
    assert error["message"].startswith(
        "Query cost is 63252, which exceeds the single query max cost limit (1000)."
    )
    assert body["extensions"]["cost"]["actualQueryCost"] is None


async def test_connection_without_first_or_last_is_an_error(admin: AdminClient) -> None:
    body = await admin.gql("{ orders { nodes { id } } }")
    assert body["errors"][0]["message"] == "you must provide one of first or last"


async def test_throttled_when_bucket_short_then_restored_by_clock(
    sim: ShopifySimulator, admin: AdminClient, clock: ManualClock
) -> None:
    sim.shop(SHOP).bucket_available = 500
    throttled = await admin.gql(BIG)
    assert throttled["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    cost = throttled["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 962
    assert cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["currentlyAvailable"] == 500
    assert sim.calls[-1].outcome == "throttled"

    clock.advance(4.5)  # 500 + 450 points: still short of 962
    assert (await admin.gql(BIG))["errors"][0]["extensions"]["code"] == "THROTTLED"
    clock.advance(0.2)  # 970 points
    passed = await admin.gql(BIG)
    assert "errors" not in passed
    assert passed["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 968


async def test_bucket_never_refills_beyond_plan_maximum(
    sim: ShopifySimulator, admin: AdminClient, clock: ManualClock
) -> None:
    clock.advance(3600)
    body = await admin.gql("{ shop { id } }")
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 1999


async def test_plus_plan_has_larger_bucket_and_rate(sim: ShopifySimulator) -> None:
    sim.add_shop("plus.myshopify.com", plan="plus")
    shop = sim.shop("plus.myshopify.com")
    assert (shop.bucket_size, shop.restore_rate) == (20000.0, 1000.0)


async def test_throttled_http_status_is_configurable(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    sim.throttled_status = 429
    sim.shop(SHOP).bucket_available = 0
    response = await admin.post({"query": "{ shop { id } }"})
    assert response.status_code == 429
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"


PAGED = "query Paged($n: Int) { orders(first: $n) { nodes { id } } }"


async def test_cost_follows_page_size_variables_of_the_same_document(admin: AdminClient) -> None:
    # The requested cost is computed once per document and page-size variables: the same text
    # with another `first` costs what that page size costs, and again the same when repeated.
    costs = [
        (await admin.gql(PAGED, n=n))["extensions"]["cost"]["requestedQueryCost"]
        for n in (10, 50, 10)
    ]
    assert costs == [2 + 10, 2 + 50, 2 + 10]


async def test_repeated_cost_error_is_answered_the_same_every_time(admin: AdminClient) -> None:
    bodies = [await admin.gql("{ orders { nodes { id } } }") for _ in range(2)]
    assert bodies[0]["errors"] == bodies[1]["errors"]
    assert bodies[1]["errors"][0]["message"] == "you must provide one of first or last"
