"""Tests for core.shopify_graphql: GraphQL order state in, mutation variables out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.errors import PayloadError
from core.ids import FulfillmentId, FulfillmentOrderId, LocationId, OrderId, VariantId
from core.planner import (
    CreateFulfillment,
    FulfillmentOrderAction,
    FulfillmentOrderRequestStatus,
    FulfillmentOrderStatus,
    OrderState,
    PackageId,
    PackageLine,
    PackageToPush,
    PushSettings,
    TrackingChange,
    UpdateTracking,
    plan_push,
)
from core.shopify_graphql import (
    fulfillment_create_variables,
    parse_order_push_state,
    tracking_update_variables,
)

ORDER_NODE: dict[str, Any] = {
    "id": "gid://shopify/Order/820982911946154508",
    "name": "#1001",
    "cancelledAt": None,
    "closed": False,
    "fulfillmentOrders": {
        "pageInfo": {"hasNextPage": False},
        "nodes": [
            {
                "id": "gid://shopify/FulfillmentOrder/1046000818",
                "status": "OPEN",
                "requestStatus": "UNSUBMITTED",
                "assignedLocation": {"location": {"id": "gid://shopify/Location/905684977"}},
                "supportedActions": [
                    {"action": "CREATE_FULFILLMENT"},
                    {"action": "SOMETHING_NEW"},
                ],
                "fulfillmentHolds": [],
                "lineItems": {
                    "pageInfo": {"hasNextPage": False},
                    "nodes": [
                        {
                            "id": "gid://shopify/FulfillmentOrderLineItem/1072503286",
                            "sku": "SKU2006-001",
                            "remainingQuantity": 2,
                            "lineItem": {"id": "gid://shopify/LineItem/487817672276298554"},
                            "variant": {"id": "gid://shopify/ProductVariant/39072856"},
                        },
                        {
                            "id": "gid://shopify/FulfillmentOrderLineItem/1072503287",
                            "sku": "",
                            "remainingQuantity": 1,
                            "lineItem": {"id": "gid://shopify/LineItem/789012345678901234"},
                            "variant": None,
                        },
                    ],
                },
            },
            {
                "id": "gid://shopify/FulfillmentOrder/1046000819",
                "status": "ON_HOLD",
                "requestStatus": "UNSUBMITTED",
                "assignedLocation": {"location": None},
                "supportedActions": [{"action": "RELEASE_HOLD"}],
                "fulfillmentHolds": [{"reason": "AWAITING_PAYMENT"}],
                "lineItems": {"nodes": []},
            },
        ],
    },
    "fulfillments": [
        {
            "id": "gid://shopify/Fulfillment/255858046",
            "status": "SUCCESS",
            "trackingInfo": [
                {
                    "company": "UPS",
                    "number": "1Z001985YW99744790",
                    "url": "https://ups/1",
                },
                {"company": None, "number": "1Z002", "url": None},
            ],
        },
        {
            "id": "gid://shopify/Fulfillment/255858047",
            "status": "CANCELLED",
            "trackingInfo": [],
        },
    ],
}


def test_parse_order_push_state_reads_everything_the_planner_needs() -> None:
    state = parse_order_push_state(ORDER_NODE)
    assert state.name == "#1001"
    assert state.order == OrderState(
        order_id=OrderId(820982911946154508), cancelled=False, closed=False
    )
    first, held = state.fulfillment_orders
    assert first.fulfillment_order_id == FulfillmentOrderId(1046000818)
    assert first.status is FulfillmentOrderStatus.OPEN
    assert first.request_status is FulfillmentOrderRequestStatus.UNSUBMITTED
    assert first.location_id == LocationId(905684977)
    assert first.supported_actions == frozenset({FulfillmentOrderAction.CREATE_FULFILLMENT})
    assert first.line_items[0].variant_id == VariantId(39072856)
    assert first.line_items[1].sku is None
    assert first.line_items[1].variant_id is None
    assert held.location_id is None
    assert held.hold_reasons == ("AWAITING_PAYMENT",)
    live, cancelled = state.fulfillments
    assert live.fulfillment_id == FulfillmentId(255858046)
    assert live.tracking_company == "UPS"
    assert live.tracking_numbers == ("1Z001985YW99744790", "1Z002")
    assert live.tracking_urls == ()
    assert cancelled.is_live is False
    assert cancelled.tracking_company is None


def test_cancelled_and_unassigned_order() -> None:
    node = copy.deepcopy(ORDER_NODE)
    node["cancelledAt"] = "2026-11-27T10:00:00Z"
    node["closed"] = True
    node["fulfillmentOrders"]["nodes"][0]["assignedLocation"] = None
    state = parse_order_push_state(node)
    assert state.order.cancelled is True
    assert state.order.closed is True
    assert state.fulfillment_orders[0].location_id is None


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (["fulfillmentOrders", "pageInfo", "hasNextPage"], True, "more pages"),
        (
            ["fulfillmentOrders", "nodes", 0, "lineItems", "pageInfo", "hasNextPage"],
            True,
            "more pages",
        ),
        (
            ["fulfillmentOrders", "nodes", 0, "status"],
            "TELEPORTED",
            "not a known FulfillmentOrderStatus",
        ),
        (
            ["fulfillmentOrders", "nodes", 0, "id"],
            "gid://shopify/Order/1",
            "expected a FulfillmentOrder GID",
        ),
        (["id"], 820982911946154500.0, "JSON float"),
    ],
)
def test_malformed_order_state(path: list[Any], value: Any, fragment: str) -> None:
    node = copy.deepcopy(ORDER_NODE)
    target = node
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(PayloadError, match=fragment):
        parse_order_push_state(node)


def _create(
    numbers: tuple[str, ...], urls: tuple[str, ...], company: str | None
) -> CreateFulfillment:
    state = parse_order_push_state(ORDER_NODE)
    plan = plan_push(
        order=state.order,
        fulfillment_orders=state.fulfillment_orders,
        fulfillments=(),
        packages=[
            PackageToPush(
                package_id=PackageId(f"p{index}"),
                supplier_order_id="SO1",
                tracking_number=number,
                tracking_number_normalized=number,
                carrier=company,
                tracking_url=url,
                lines=(
                    PackageLine(
                        line_item_id=None,
                        sku="SKU2006-001",
                        variant_id=None,
                        quantity=1,
                    ),
                ),
                supplier_order_package_count=1,
            )
            for index, (number, url) in enumerate(
                zip(numbers, urls or (None,) * len(numbers), strict=True)
            )
        ],
        pushed=(),
        settings=PushSettings(),
    )
    return plan.creates[0]


def test_fulfillment_create_variables_for_one_number_of_known_carrier() -> None:
    variables = fulfillment_create_variables(_create(("4PX3001234567890CN",), (), "4PX"))
    assert variables == {
        "fulfillment": {
            "notifyCustomer": True,
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1046000818",
                    "fulfillmentOrderLineItems": [
                        {
                            "id": "gid://shopify/FulfillmentOrderLineItem/1072503286",
                            "quantity": 1,
                        }
                    ],
                }
            ],
            "trackingInfo": {"company": "4PX", "number": "4PX3001234567890CN"},
        }
    }


def test_fulfillment_create_variables_with_url_for_unknown_carrier() -> None:
    variables = fulfillment_create_variables(
        _create(("CJPKL1",), ("https://cj/1",), "CJPacket Ordinary")
    )
    assert variables["fulfillment"]["trackingInfo"] == {  # type: ignore[index]
        "company": "CJPacket",
        "number": "CJPKL1",
        "url": "https://cj/1",
    }


def _create_action(
    numbers: tuple[str, ...], urls: tuple[str, ...], company: str | None
) -> CreateFulfillment:
    return CreateFulfillment(
        order_id=OrderId(1),
        location_id=None,
        line_items_by_fulfillment_order=(),
        tracking_numbers=numbers,
        tracking_company=company,
        tracking_urls=urls,
        notify_customer=False,
        package_ids=(PackageId("p"),),
        idempotency_key="k",
    )


@pytest.mark.parametrize(
    ("numbers", "urls", "company", "expected"),
    [
        (
            ("A", "B"),
            ("u1", "u2"),
            "Cainiao",
            {"company": "Cainiao", "numbers": ["A", "B"], "urls": ["u1", "u2"]},
        ),
        (("A", "B"), (), "USPS", {"company": "USPS", "numbers": ["A", "B"]}),
        (("A",), (), None, {"number": "A"}),
    ],
)
def test_tracking_input_uses_singular_or_plural_never_both(
    numbers: tuple[str, ...],
    urls: tuple[str, ...],
    company: str | None,
    expected: dict[str, object],
) -> None:
    variables = fulfillment_create_variables(_create_action(numbers, urls, company))
    assert variables["fulfillment"]["trackingInfo"] == expected  # type: ignore[index]


def test_no_tracking_info_when_nothing_to_send() -> None:
    variables = fulfillment_create_variables(_create_action((), (), None))
    assert "trackingInfo" not in variables["fulfillment"]  # type: ignore[operator]


def test_tracking_update_variables() -> None:
    action = UpdateTracking(
        order_id=OrderId(1),
        fulfillment_id=FulfillmentId(255858046),
        change=TrackingChange.REPLACE,
        tracking_numbers=("NEW1",),
        tracking_company="YunExpress",
        tracking_urls=(),
        notify_customer=True,
        previous_tracking_numbers=("OLD1",),
        package_ids=(PackageId("p1"),),
        idempotency_key="k",
    )
    assert tracking_update_variables(action) == {
        "fulfillmentId": "gid://shopify/Fulfillment/255858046",
        "trackingInfoInput": {"company": "YunExpress", "number": "NEW1"},
        "notifyCustomer": True,
    }
