"""Order routing, fulfilment state transitions and the userErrors Shopify returns."""

from __future__ import annotations

from typing import Any

import pytest
from shopsim_helpers import (
    FULFILLMENT_CREATE,
    ORDER_FOS,
    SHOP,
    AdminClient,
)

from simulator.shopify import ManualClock, ShopifySimulator


async def _order_fos(admin: AdminClient, order_id: str) -> dict[str, Any]:
    body = await admin.gql(ORDER_FOS, id=order_id)
    assert "errors" not in body, body
    order: dict[str, Any] = body["data"]["order"]
    return order


def _fulfil_input(fo: dict[str, Any], quantity: int | None = None) -> dict[str, Any]:
    group: dict[str, Any] = {"fulfillmentOrderId": fo["id"]}
    if quantity is not None:
        item = fo["lineItems"]["nodes"][0]
        group["fulfillmentOrderLineItems"] = [{"id": item["id"], "quantity": quantity}]
    return {
        "lineItemsByFulfillmentOrder": [group],
        "trackingInfo": {"number": "4PX3001234567890CN", "company": "4PX"},
        "notifyCustomer": True,
    }


async def test_fulfillment_orders_appear_only_after_routing_delay(
    sim: ShopifySimulator, admin: AdminClient, clock: ManualClock
) -> None:
    order = sim.create_order(
        SHOP,
        line_items=[
            {"sku": "A", "quantity": 1},
            {"sku": "B", "quantity": 2, "location": "CJ warehouse"},
        ],
    )
    assert (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"] == []
    clock.advance(0.19)
    assert (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"] == []
    clock.advance(0.02)
    fos = (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"]
    assert sorted(fo["assignedLocation"]["name"] for fo in fos) == [
        "CJ warehouse",
        "Shop location",
    ]
    assert {fo["status"] for fo in fos} == {"OPEN"}


@pytest.mark.usefixtures("creds")
async def test_route_orders_routes_immediately(sim: ShopifySimulator) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    created = sim.route_orders()
    assert sim.order(SHOP, order["id"])["fulfillment_order_ids"] == created


async def test_fulfillment_create_partial_then_full_moves_fo_to_closed(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 3}])
    sim.route_orders()
    fo = (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"][0]

    first = await admin.gql(FULFILLMENT_CREATE, fulfillment=_fulfil_input(fo, 1))
    payload = first["data"]["fulfillmentCreate"]
    assert payload["userErrors"] == []
    assert payload["fulfillment"]["status"] == "SUCCESS"
    assert payload["fulfillment"]["name"] == "#1001-F1"
    assert payload["fulfillment"]["trackingInfo"] == [
        {
            "number": "4PX3001234567890CN",
            "company": "4PX",
            "url": "https://track.4px.com/#/result/0/4PX3001234567890CN",
        }
    ]
    after_first = await _order_fos(admin, order["id"])
    fo_after = after_first["fulfillmentOrders"]["nodes"][0]
    assert fo_after["status"] == "IN_PROGRESS"
    assert fo_after["lineItems"]["nodes"][0]["remainingQuantity"] == 2
    assert after_first["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    assert after_first["lineItems"]["nodes"][0]["unfulfilledQuantity"] == 2

    second = await admin.gql(FULFILLMENT_CREATE, fulfillment=_fulfil_input(fo))
    assert second["data"]["fulfillmentCreate"]["userErrors"] == []
    done = await _order_fos(admin, order["id"])
    fo_done = done["fulfillmentOrders"]["nodes"][0]
    assert fo_done["status"] == "CLOSED"
    assert fo_done["supportedActions"] == []
    assert done["displayFulfillmentStatus"] == "FULFILLED"
    assert sim.fulfillment_count_by_tracking(SHOP) == {"4PX3001234567890CN": 2}


async def test_quantity_above_remaining_is_a_user_error(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    sim.route_orders()
    fo = (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"][0]
    body = await admin.gql(FULFILLMENT_CREATE, fulfillment=_fulfil_input(fo, 2))
    assert body["data"]["fulfillmentCreate"] == {
        "fulfillment": None,
        "userErrors": [
            {
                "field": ["fulfillment", "lineItemsByFulfillmentOrder"],
                "message": "Invalid fulfillment order line item quantity requested.",
            }
        ],
    }
    assert sim.fulfillments(SHOP) == []


async def test_fulfilling_a_closed_fo_is_a_user_error(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    fo_id = sim.route_orders()[0]
    sim.create_fulfillment(SHOP, fulfillment_order_id=fo_id, tracking_number="X1")
    fo = (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"][0]
    body = await admin.gql(FULFILLMENT_CREATE, fulfillment=_fulfil_input(fo))
    error = body["data"]["fulfillmentCreate"]["userErrors"][0]
    number = fo_id.rsplit("/", 1)[1]
    assert error["message"] == (f"Fulfillment order {number} has an unfulfillable status= closed.")


async def test_fulfilling_an_fo_on_hold_is_refused_until_released(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    fo_id = sim.route_orders()[0]
    hold_id = sim.hold_fulfillment_order(SHOP, fo_id, reason="INCORRECT_ADDRESS")
    fo = (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"][0]
    assert fo["status"] == "ON_HOLD"
    assert fo["supportedActions"] == [{"action": "RELEASE_HOLD"}, {"action": "HOLD"}]
    assert fo["fulfillmentHolds"] == [{"id": hold_id, "reason": "INCORRECT_ADDRESS"}]
    refused = await admin.gql(FULFILLMENT_CREATE, fulfillment=_fulfil_input(fo))
    assert "on_hold" in refused["data"]["fulfillmentCreate"]["userErrors"][0]["message"]

    released = await admin.gql(
        "mutation($id: ID!, $holds: [ID!]) { fulfillmentOrderReleaseHold(id: $id, "
        "holdIds: $holds) { fulfillmentOrder { status } "
        "userErrors { field message } } }",
        id=fo_id,
        holds=[hold_id],
    )
    assert released["data"]["fulfillmentOrderReleaseHold"] == {
        "fulfillmentOrder": {"status": "OPEN"},
        "userErrors": [],
    }
    ok = await admin.gql(FULFILLMENT_CREATE, fulfillment=_fulfil_input(fo))
    assert ok["data"]["fulfillmentCreate"]["userErrors"] == []


async def test_unknown_fulfillment_order_is_a_user_error(admin: AdminClient) -> None:
    body = await admin.gql(
        FULFILLMENT_CREATE,
        fulfillment={
            "lineItemsByFulfillmentOrder": [
                {"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/12345"}
            ]
        },
    )
    assert body["data"]["fulfillmentCreate"]["userErrors"] == [
        {
            "field": ["fulfillment", "lineItemsByFulfillmentOrder"],
            "message": "Fulfillment order does not exist.",
        }
    ]


async def test_malformed_id_is_a_top_level_error(admin: AdminClient) -> None:
    body = await admin.gql('{ order(id: "12345") { id } }')
    assert body["data"] == {"order": None}
    assert body["errors"][0]["message"] == "Invalid global id '12345'"
    assert body["errors"][0]["path"] == ["order"]


async def test_mixing_locations_in_one_fulfillment_is_a_user_error(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(
        SHOP,
        line_items=[
            {"sku": "A", "quantity": 1},
            {"sku": "B", "quantity": 1, "location": "CJ"},
        ],
    )
    sim.route_orders()
    fos = (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"]
    body = await admin.gql(
        FULFILLMENT_CREATE,
        fulfillment={
            "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]} for fo in fos]
        },
    )
    assert body["data"]["fulfillmentCreate"]["userErrors"][0]["message"] == (
        "All fulfillment orders must be assigned to the same location."
    )


async def test_move_gives_the_remaining_items_a_new_fo_id(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 2}])
    old_id = sim.route_orders()[0]
    new_id = sim.move_fulfillment_order(SHOP, old_id, location="Backup warehouse")
    assert new_id != old_id
    fos = {fo["id"]: fo for fo in sim.fulfillment_orders(SHOP, order["id"])}
    assert fos[old_id]["status"] == "CLOSED"
    assert fos[new_id]["status"] == "OPEN"
    assert fos[new_id]["location_name"] == "Backup warehouse"
    fo = (await _order_fos(admin, order["id"]))["fulfillmentOrders"]["nodes"][0]
    stale = await admin.gql(FULFILLMENT_CREATE, fulfillment=_fulfil_input(fo))
    assert stale["data"]["fulfillmentCreate"]["userErrors"]


async def test_split_and_hold_subset_create_new_fulfillment_orders(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 4}])
    fo_id = sim.route_orders()[0]
    fo = sim.fulfillment_orders(SHOP, order["id"])[0]
    item_id = fo["line_items"][0]["id"]
    body = await admin.gql(
        "mutation($id: ID!, $item: ID!) { fulfillmentOrderHold(id: $id, "
        "fulfillmentHold: {reason: INVENTORY_OUT_OF_STOCK, fulfillmentOrderLineItems: "
        "[{id: $item, quantity: 1}]}) { fulfillmentOrder { status lineItems(first: 5) "
        "{ nodes { remainingQuantity } } } remainingFulfillmentOrder { status "
        "lineItems(first: 5) { nodes { remainingQuantity } } } "
        "userErrors { field message } } }",
        id=fo_id,
        item=item_id,
    )
    payload = body["data"]["fulfillmentOrderHold"]
    assert payload["userErrors"] == []
    assert payload["fulfillmentOrder"]["status"] == "ON_HOLD"
    assert payload["fulfillmentOrder"]["lineItems"]["nodes"] == [{"remainingQuantity": 1}]
    assert payload["remainingFulfillmentOrder"]["status"] == "OPEN"
    assert payload["remainingFulfillmentOrder"]["lineItems"]["nodes"] == [{"remainingQuantity": 3}]


async def test_cancelling_a_fulfillment_reopens_its_fulfillment_order(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    fo_id = sim.route_orders()[0]
    fulfillment_id = sim.create_fulfillment(SHOP, fulfillment_order_id=fo_id)
    body = await admin.gql(
        "mutation($id: ID!) { fulfillmentCancel(id: $id) { fulfillment { status } "
        "userErrors { message } } }",
        id=fulfillment_id,
    )
    assert body["data"]["fulfillmentCancel"]["fulfillment"] == {"status": "CANCELLED"}
    assert sim.fulfillment_orders(SHOP, order["id"])[0]["status"] == "OPEN"


@pytest.mark.usefixtures("creds")
async def test_cancelled_order_closes_open_fulfillment_orders(
    sim: ShopifySimulator,
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    sim.route_orders()
    sim.cancel_order(SHOP, order["id"])
    assert [fo["status"] for fo in sim.fulfillment_orders(SHOP, order["id"])] == ["CLOSED"]
    assert sim.order(SHOP, order["id"])["cancelled_at"] is not None


async def test_tracking_update_replaces_tracking_info(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    fo_id = sim.route_orders()[0]
    fulfillment_id = sim.create_fulfillment(SHOP, fulfillment_order_id=fo_id, tracking_number="OLD")
    body = await admin.gql(
        "mutation($id: ID!, $t: FulfillmentTrackingInput!) { "
        "fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $t) { "
        "fulfillment { trackingInfo { number company } } userErrors { message } } }",
        id=fulfillment_id,
        t={"number": "NEW", "company": "China Post"},
    )
    assert body["data"]["fulfillmentTrackingInfoUpdate"]["fulfillment"] == {
        "trackingInfo": [{"number": "NEW", "company": "China Post"}]
    }
    assert sim.fulfillment_count_by_tracking(SHOP) == {"NEW": 1}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status:any", ["#1001", "#1002", "#1003"]),
        ("updated_at:>='2026-01-01T00:00:05Z'", ["#1002", "#1003"]),
        ("updated_at:<'2026-01-01T00:00:05Z'", ["#1001"]),
        ("created_at:>=2026-01-01T00:00:09Z status:any", ["#1003"]),
    ],
)
async def test_orders_query_filters_by_timestamps(
    admin: AdminClient,
    sim: ShopifySimulator,
    clock: ManualClock,
    query: str,
    expected: list[str],
) -> None:
    for _ in range(3):
        sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
        clock.advance(5)
    body = await admin.gql(
        "query($q: String) { orders(first: 10, query: $q, sortKey: UPDATED_AT) "
        "{ nodes { name } } }",
        q=query,
    )
    assert [node["name"] for node in body["data"]["orders"]["nodes"]] == expected


async def test_orders_pagination_walks_every_order_once(
    admin: AdminClient, sim: ShopifySimulator, clock: ManualClock
) -> None:
    for _ in range(5):
        sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
        clock.advance(1)
    names: list[str] = []
    cursor = None
    while True:
        body = await admin.gql(
            "query($after: String) { orders(first: 2, after: $after, "
            "sortKey: CREATED_AT, reverse: true) { edges { cursor node { name } } "
            "pageInfo { hasNextPage endCursor } } }",
            after=cursor,
        )
        page = body["data"]["orders"]
        names += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert names == ["#1005", "#1004", "#1003", "#1002", "#1001"]


async def test_node_and_nodes_resolve_known_types(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    order = sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}])
    fo_id = sim.route_orders()[0]
    body = await admin.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id "
        "... on FulfillmentOrder { status } ... on Order { name } } }",
        ids=[order["id"], fo_id, "gid://shopify/Order/1"],
    )
    assert body["data"]["nodes"] == [
        {"__typename": "Order", "id": order["id"], "name": "#1001"},
        {"__typename": "FulfillmentOrder", "id": fo_id, "status": "OPEN"},
        None,
    ]
