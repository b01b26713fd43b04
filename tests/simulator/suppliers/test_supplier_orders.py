"""Order lifecycle rules shared by every simulated supplier."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simulator.suppliers import (
    CjTrackingStatus,
    InvalidTransitionError,
    LineItem,
    ManualClock,
    OrderStatus,
    ShipmentSpec,
    Supplier,
    SupplierSimulator,
    UnknownOrderError,
)

SHIRT = LineItem(quantity=2, sku="TS-1", shopify_line_item_id="1001")
MUG = LineItem(quantity=1, sku="MUG-1", shopify_line_item_id="1002")


@pytest.fixture
def sim() -> SupplierSimulator:
    return SupplierSimulator(seed=2, clock=ManualClock())


def test_status_moves_placed_shipped_in_transit_delivered(
    sim: SupplierSimulator,
) -> None:
    order = sim.place_order(Supplier.GENERIC, merchant_reference="#1", line_items=(SHIRT,))
    seen = [order.status]

    sim.ship(order.supplier_order_id)
    seen.append(order.status)
    sim.add_tracking_event(order.supplier_order_id, status=CjTrackingStatus.FIRST_LEG)
    seen.append(order.status)
    sim.mark_delivered(order.supplier_order_id)
    seen.append(order.status)

    assert seen == [
        OrderStatus.PLACED,
        OrderStatus.SHIPPED,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
    ]
    assert order.delivered_at == sim.clock.now()


def test_order_is_delivered_only_when_every_package_is(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#2", line_items=(SHIRT, MUG))
    first, second = sim.ship(
        order.supplier_order_id,
        packages=[ShipmentSpec(line_items=(SHIRT,)), ShipmentSpec(line_items=(MUG,))],
    )

    sim.mark_delivered(order.supplier_order_id, package_id=first.package_id)
    halfway = order.status
    sim.mark_delivered(order.supplier_order_id, package_id=second.package_id)

    assert halfway is OrderStatus.IN_TRANSIT
    assert order.status is OrderStatus.DELIVERED


def test_partial_shipment_leaves_the_rest_to_ship_later(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.GENERIC, merchant_reference="#3", line_items=(SHIRT,))
    one_shirt = LineItem(quantity=1, sku="TS-1", shopify_line_item_id="1001")

    sim.ship(order.supplier_order_id, packages=[ShipmentSpec(line_items=(one_shirt,))])
    [rest] = sim.ship(order.supplier_order_id)

    assert rest.line_items == (one_shirt,)
    with pytest.raises(InvalidTransitionError):
        sim.ship(order.supplier_order_id)


def test_shipping_more_than_ordered_is_refused(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.GENERIC, merchant_reference="#4", line_items=(MUG,))
    three_mugs = LineItem(quantity=3, sku="MUG-1", shopify_line_item_id="1002")

    with pytest.raises(InvalidTransitionError):
        sim.ship(order.supplier_order_id, packages=[ShipmentSpec(line_items=(three_mugs,))])


def test_cancel_is_refused_once_shipped(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#5", line_items=(SHIRT,))
    sim.ship(order.supplier_order_id)

    with pytest.raises(InvalidTransitionError):
        sim.cancel(order.supplier_order_id)


def test_split_parts_must_add_up_to_the_order(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#6", line_items=(SHIRT, MUG))

    with pytest.raises(InvalidTransitionError):
        sim.split(order.supplier_order_id, parts=[[SHIRT], [SHIRT]])
    children = sim.split(order.supplier_order_id, parts=[[SHIRT], [MUG]])

    assert order.status is OrderStatus.SPLIT
    assert order.split_into == [c.supplier_order_id for c in children]
    assert all(c.merchant_reference == "#6" for c in children)
    with pytest.raises(InvalidTransitionError):
        sim.ship(order.supplier_order_id)


def test_aliexpress_orders_cannot_be_split(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#7", line_items=(SHIRT, MUG))

    with pytest.raises(InvalidTransitionError):
        sim.split(order.supplier_order_id, parts=[[SHIRT], [MUG]])


def test_tracking_number_change_is_announced_with_the_new_number(
    sim: SupplierSimulator,
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#8", line_items=(SHIRT,))
    [package] = sim.ship(order.supplier_order_id)
    old = package.tracking_number

    sim.change_tracking_number(order.supplier_order_id, tracking_number="CJPKLNEW01YQ")

    last_order, last_logistic = sim.messages()[-2:]
    assert last_order.json()["params"]["trackNumber"] == "CJPKLNEW01YQ"
    assert last_logistic.json()["params"]["trackingNumber"] == "CJPKLNEW01YQ"
    assert package.previous_tracking_numbers == [old]


def test_unknown_order_raises_unknown_order_error(sim: SupplierSimulator) -> None:
    with pytest.raises(UnknownOrderError):
        sim.ship("no-such-order")


def test_line_item_needs_an_identifier() -> None:
    with pytest.raises(ValueError, match="needs a sku"):
        LineItem(quantity=1)


def test_journey_scans_arrive_as_the_clock_advances(sim: SupplierSimulator) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#9", line_items=(SHIRT,))
    sim.schedule_shipment(
        order.supplier_order_id,
        after=timedelta(days=2),
        journey_step=timedelta(hours=12),
    )
    start = sim.clock.now()

    sim.advance(timedelta(days=2, hours=12))
    midway = order.status
    sim.advance(timedelta(days=5))

    assert midway is OrderStatus.IN_TRANSIT
    assert order.status is OrderStatus.DELIVERED
    assert order.shipped_at == start + timedelta(days=2)
    assert order.delivered_at == start + timedelta(days=2, hours=12 * 7)
    statuses = [m.json()["params"]["trackingStatus"] for m in sim.messages(topic="LOGISTIC")]
    assert statuses == [1, 5, 6, 7, 8, 9, 10, 12]
    assert len(sim.timeline) == 0


def test_scheduled_scan_for_a_cancelled_order_is_recorded_not_raised(
    sim: SupplierSimulator,
) -> None:
    order = sim.place_order(Supplier.GENERIC, merchant_reference="#10", line_items=(SHIRT,))
    sim.schedule_shipment(order.supplier_order_id, after=timedelta(hours=1))
    sim.cancel(order.supplier_order_id)

    sim.advance(timedelta(hours=2))

    [failure] = sim.schedule_failures
    assert "cancelled" in failure.error
    assert order.status is OrderStatus.CANCELLED
