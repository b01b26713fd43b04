"""Tests for core.planner: supplier packages to Shopify fulfilment actions."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import PlanInputError
from core.ids import (
    FulfillmentId,
    FulfillmentOrderId,
    FulfillmentOrderLineItemId,
    LineItemId,
    LocationId,
    OrderId,
    VariantId,
)
from core.planner import (
    AdoptExisting,
    Blocked,
    BlockReason,
    CreateFulfillment,
    ExistingFulfillment,
    FulfillmentOrderAction,
    FulfillmentOrderLine,
    FulfillmentOrderLineQuantity,
    FulfillmentOrderLines,
    FulfillmentOrderRequestStatus,
    FulfillmentOrderState,
    FulfillmentOrderStatus,
    OrderState,
    PackageId,
    PackageLine,
    PackageToPush,
    PushedPackage,
    PushPlan,
    PushSettings,
    UpdateTracking,
    plan_push,
)
from core.tracking import normalize_tracking_number

ORDER = OrderId(1001)
CREATE = frozenset({FulfillmentOrderAction.CREATE_FULFILLMENT, FulfillmentOrderAction.HOLD})


def fo_line(
    fo_line_id: int,
    line_item_id: int,
    *,
    remaining: int = 1,
    sku: str | None = None,
    variant: int | None = None,
) -> FulfillmentOrderLine:
    return FulfillmentOrderLine(
        fulfillment_order_line_item_id=FulfillmentOrderLineItemId(fo_line_id),
        line_item_id=LineItemId(line_item_id),
        sku=sku,
        variant_id=VariantId(variant) if variant is not None else None,
        remaining_quantity=remaining,
    )


def fo(
    fo_id: int,
    *lines: FulfillmentOrderLine,
    location: int | None = 1,
    status: FulfillmentOrderStatus = FulfillmentOrderStatus.OPEN,
    actions: frozenset[FulfillmentOrderAction] = CREATE,
    request: FulfillmentOrderRequestStatus = FulfillmentOrderRequestStatus.UNSUBMITTED,
    holds: tuple[str, ...] = (),
) -> FulfillmentOrderState:
    return FulfillmentOrderState(
        fulfillment_order_id=FulfillmentOrderId(fo_id),
        status=status,
        request_status=request,
        location_id=LocationId(location) if location is not None else None,
        supported_actions=actions,
        hold_reasons=holds,
        line_items=lines,
    )


def line(
    *,
    line_item: int | None = None,
    sku: str | None = None,
    variant: int | None = None,
    quantity: int = 1,
) -> PackageLine:
    return PackageLine(
        line_item_id=LineItemId(line_item) if line_item is not None else None,
        sku=sku,
        variant_id=VariantId(variant) if variant is not None else None,
        quantity=quantity,
    )


def package(
    package_id: str,
    *lines: PackageLine,
    tracking: str | None = None,
    supplier_order: str = "SO1",
    carrier: str | None = "USPS",
    url: str | None = None,
    count: int = 1,
) -> PackageToPush:
    number = tracking or f"TRK{package_id}"
    return PackageToPush(
        package_id=PackageId(package_id),
        supplier_order_id=supplier_order,
        tracking_number=number,
        tracking_number_normalized=normalize_tracking_number(number),
        carrier=carrier,
        tracking_url=url,
        lines=lines,
        supplier_order_package_count=count,
    )


def fulfillment(fulfillment_id: int, *numbers: str, status: str = "SUCCESS") -> ExistingFulfillment:
    return ExistingFulfillment(
        fulfillment_id=FulfillmentId(fulfillment_id),
        status=status,
        tracking_company="USPS",
        tracking_numbers=numbers,
    )


def plan(
    fos: list[FulfillmentOrderState],
    packages: list[PackageToPush],
    *,
    fulfillments: list[ExistingFulfillment] | None = None,
    pushed: list[PushedPackage] | None = None,
    push_settings: PushSettings | None = None,
    cancelled: bool = False,
    closed: bool = False,
) -> PushPlan:
    return plan_push(
        order=OrderState(order_id=ORDER, cancelled=cancelled, closed=closed),
        fulfillment_orders=fos,
        fulfillments=fulfillments or [],
        packages=packages,
        pushed=pushed or [],
        settings=push_settings or PushSettings(),
    )


def only(result: PushPlan) -> object:
    assert len(result.actions) == 1, result.actions
    return result.actions[0]


def test_package_with_line_item_id_becomes_one_fulfillment() -> None:
    result = plan(
        [fo(10, fo_line(100, 500, remaining=2), fo_line(101, 501))],
        [package("p1", line(line_item=500, quantity=2), tracking="9400 1000 0000")],
    )
    action = only(result)
    assert isinstance(action, CreateFulfillment)
    assert action.order_id == ORDER
    assert action.location_id == 1
    assert action.line_items_by_fulfillment_order == (
        FulfillmentOrderLines(
            fulfillment_order_id=FulfillmentOrderId(10),
            lines=(
                FulfillmentOrderLineQuantity(
                    fulfillment_order_line_item_id=FulfillmentOrderLineItemId(100),
                    quantity=2,
                ),
            ),
        ),
    )
    assert action.tracking_numbers == ("9400 1000 0000",)
    assert action.tracking_company == "USPS"
    assert action.tracking_urls == ()  # Shopify builds USPS links itself
    assert action.notify_customer is True
    assert action.package_ids == ("p1",)
    assert action.idempotency_key.startswith("ful:")
    assert result.creates == (action,)


def test_lines_match_by_sku_then_variant() -> None:
    fos = [fo(10, fo_line(100, 500, sku="SKU-A "), fo_line(101, 501, variant=77))]
    result = plan(fos, [package("p1", line(sku="sku-a"), line(variant=77))])
    action = only(result)
    assert isinstance(action, CreateFulfillment)
    allocated = action.line_items_by_fulfillment_order[0].lines
    assert [a.fulfillment_order_line_item_id for a in allocated] == [100, 101]


def test_line_item_id_takes_precedence_over_sku() -> None:
    fos = [fo(10, fo_line(100, 500, sku="X"), fo_line(101, 501, sku="Y"))]
    action = only(plan(fos, [package("p1", line(line_item=501, sku="X"))]))
    assert isinstance(action, CreateFulfillment)
    assert action.line_items_by_fulfillment_order[0].lines[0].fulfillment_order_line_item_id == 101


def test_package_spanning_two_locations_becomes_two_fulfillments() -> None:
    fos = [fo(20, fo_line(200, 600), location=2), fo(10, fo_line(100, 500), location=1)]
    result = plan(fos, [package("p1", line(line_item=500), line(line_item=600))])
    assert [a.location_id for a in result.creates] == [1, 2]
    assert len({a.idempotency_key for a in result.creates}) == 2
    assert all(a.tracking_numbers == ("TRKp1",) for a in result.creates)


def test_unassigned_location_sorts_last() -> None:
    fos = [
        fo(20, fo_line(200, 600), location=None),
        fo(10, fo_line(100, 500), location=5),
    ]
    result = plan(fos, [package("p1", line(line_item=500), line(line_item=600))])
    assert [a.location_id for a in result.creates] == [5, None]


def test_existing_tracking_number_is_adopted_not_created() -> None:
    result = plan(
        [fo(10, fo_line(100, 500))],
        [package("p1", line(line_item=500), tracking="lp-123-cn")],
        fulfillments=[fulfillment(9, "OTHER"), fulfillment(7, "LP123CN")],
    )
    assert only(result) == AdoptExisting(
        order_id=ORDER,
        fulfillment_id=FulfillmentId(7),
        tracking_number="lp-123-cn",
        package_ids=(PackageId("p1"),),
    )
    assert result.adoptions


def test_cancelled_fulfillment_is_not_adopted() -> None:
    result = plan(
        [fo(10, fo_line(100, 500))],
        [package("p1", line(line_item=500), tracking="LP1")],
        fulfillments=[fulfillment(7, "LP1", status="CANCELLED")],
    )
    assert isinstance(only(result), CreateFulfillment)


def test_adoption_wins_even_on_cancelled_order() -> None:
    result = plan(
        [],
        [package("p1", tracking="LP1"), package("p2", supplier_order="SO2")],
        fulfillments=[fulfillment(7, "LP1")],
        cancelled=True,
    )
    assert isinstance(result.actions[0], AdoptExisting)
    assert isinstance(result.actions[1], Blocked)
    assert result.actions[1].reason is BlockReason.ORDER_CANCELLED


@pytest.mark.parametrize(
    ("cancelled", "closed", "fos", "reason"),
    [
        (True, False, [fo(10, fo_line(100, 500))], BlockReason.ORDER_CANCELLED),
        (False, True, [fo(10, fo_line(100, 500))], BlockReason.ORDER_CLOSED),
        (False, False, [], BlockReason.AWAITING_FULFILLMENT_ORDERS),
    ],
)
def test_order_level_blocks(
    cancelled: bool, closed: bool, fos: list[FulfillmentOrderState], reason: BlockReason
) -> None:
    result = plan(fos, [package("p1", line(line_item=500))], cancelled=cancelled, closed=closed)
    action = only(result)
    assert isinstance(action, Blocked)
    assert result.blocked == (action,)
    assert action.reason is reason
    assert action.package_ids == ("p1",)


@pytest.mark.parametrize(
    ("status", "request_status", "reason"),
    [
        (
            FulfillmentOrderStatus.ON_HOLD,
            FulfillmentOrderRequestStatus.UNSUBMITTED,
            BlockReason.FULFILLMENT_ORDER_ON_HOLD,
        ),
        (
            FulfillmentOrderStatus.SCHEDULED,
            FulfillmentOrderRequestStatus.UNSUBMITTED,
            BlockReason.SCHEDULED,
        ),
        (
            FulfillmentOrderStatus.INCOMPLETE,
            FulfillmentOrderRequestStatus.UNSUBMITTED,
            BlockReason.INCOMPLETE,
        ),
        (
            FulfillmentOrderStatus.CANCELLED,
            FulfillmentOrderRequestStatus.UNSUBMITTED,
            BlockReason.CANCELLED,
        ),
        (
            FulfillmentOrderStatus.OPEN,
            FulfillmentOrderRequestStatus.SUBMITTED,
            BlockReason.NOT_FULFILLABLE,
        ),
    ],
)
def test_fulfillment_order_without_create_action_blocks_with_its_status(
    status: FulfillmentOrderStatus,
    request_status: FulfillmentOrderRequestStatus,
    reason: BlockReason,
) -> None:
    fos = [
        fo(
            10,
            fo_line(100, 500),
            status=status,
            request=request_status,
            actions=frozenset(),
            holds=("OTHER",),
        )
    ]
    action = only(plan(fos, [package("p1", line(line_item=500))]))
    assert isinstance(action, Blocked)
    assert action.reason is reason
    assert "fulfillment order 10" in action.message
    assert "(OTHER)" in action.message


def test_closed_fulfillment_order_with_nothing_left_reports_closed() -> None:
    fos = [
        fo(
            10,
            fo_line(100, 500, remaining=0),
            status=FulfillmentOrderStatus.CLOSED,
            actions=frozenset(),
        )
    ]
    action = only(plan(fos, [package("p1", line(line_item=500))]))
    assert isinstance(action, Blocked)
    assert action.reason is BlockReason.CLOSED
    assert "already fulfilled" in action.message


def test_quantity_above_remaining_blocks_whole_package() -> None:
    fos = [fo(10, fo_line(100, 500, remaining=1), fo_line(101, 501))]
    action = only(plan(fos, [package("p1", line(line_item=501), line(line_item=500, quantity=3))]))
    assert isinstance(action, Blocked)
    assert action.reason is BlockReason.QUANTITY_EXCEEDS_REMAINING
    assert action.message == "line 2 (line item 500): 2 of 3 exceed the remaining quantity"


def test_second_package_cannot_take_what_the_first_took() -> None:
    fos = [fo(10, fo_line(100, 500, remaining=1))]
    result = plan(fos, [package("p2", line(line_item=500)), package("p1", line(line_item=500))])
    assert isinstance(result.actions[0], CreateFulfillment)
    assert result.actions[0].package_ids == ("p1",)
    assert isinstance(result.actions[1], Blocked)
    assert result.actions[1].reason is BlockReason.QUANTITY_EXCEEDS_REMAINING


def test_held_part_of_quantity_reports_the_hold() -> None:
    fos = [
        fo(10, fo_line(100, 500, remaining=1)),
        fo(
            11,
            fo_line(110, 500, remaining=1),
            status=FulfillmentOrderStatus.ON_HOLD,
            actions=frozenset(),
        ),
    ]
    action = only(plan(fos, [package("p1", line(line_item=500, quantity=2))]))
    assert isinstance(action, Blocked)
    assert action.reason is BlockReason.FULFILLMENT_ORDER_ON_HOLD


def test_quantity_split_across_two_fulfillment_orders_at_one_location() -> None:
    fos = [
        fo(10, fo_line(100, 500, remaining=1)),
        fo(11, fo_line(110, 500, remaining=1)),
    ]
    action = only(plan(fos, [package("p1", line(line_item=500, quantity=2))]))
    assert isinstance(action, CreateFulfillment)
    assert [g.fulfillment_order_id for g in action.line_items_by_fulfillment_order] == [
        10,
        11,
    ]


@pytest.mark.parametrize(
    ("package_line", "fragment"),
    [
        (line(line_item=999), "line item 999"),
        (line(sku="NOPE"), "SKU 'NOPE'"),
        (line(variant=5), "variant 5"),
        (line(sku="  "), "no line item id, SKU or variant id"),
    ],
)
def test_unmatched_lines_block_with_a_precise_message(
    package_line: PackageLine, fragment: str
) -> None:
    action = only(
        plan(
            [fo(10, fo_line(100, 500, sku="A", variant=1))],
            [package("p1", package_line)],
        )
    )
    assert isinstance(action, Blocked)
    assert action.reason is BlockReason.LINE_ITEMS_NOT_MATCHED
    assert fragment in action.message


def test_unitemised_sole_package_takes_all_remaining_items() -> None:
    fos = [
        fo(10, fo_line(100, 500, remaining=2), fo_line(101, 501, remaining=0)),
        fo(
            11,
            fo_line(110, 502),
            status=FulfillmentOrderStatus.ON_HOLD,
            actions=frozenset(),
        ),
    ]
    action = only(plan(fos, [package("p1")]))
    assert isinstance(action, CreateFulfillment)
    assert action.line_items_by_fulfillment_order == (
        FulfillmentOrderLines(
            fulfillment_order_id=FulfillmentOrderId(10),
            lines=(
                FulfillmentOrderLineQuantity(
                    fulfillment_order_line_item_id=FulfillmentOrderLineItemId(100),
                    quantity=2,
                ),
            ),
        ),
    )


def test_unitemised_package_goes_after_itemised_ones() -> None:
    fos = [fo(10, fo_line(100, 500), fo_line(101, 501))]
    result = plan(
        fos,
        [
            package("a", supplier_order="SO1"),
            package("b", line(line_item=501), supplier_order="SO2"),
        ],
    )
    assert [a.package_ids for a in result.creates] == [("b",), ("a",)]
    assert (
        result.creates[1].line_items_by_fulfillment_order[0].lines[0].fulfillment_order_line_item_id
        == 100
    )


def test_unitemised_package_with_nothing_left() -> None:
    action = only(plan([fo(10, fo_line(100, 500, remaining=0))], [package("p1")]))
    assert isinstance(action, Blocked)
    assert action.reason is BlockReason.NO_FULFILLABLE_LINE_ITEMS


def test_unitemised_package_with_everything_on_hold() -> None:
    fos = [
        fo(
            10,
            fo_line(100, 500),
            status=FulfillmentOrderStatus.ON_HOLD,
            actions=frozenset(),
        )
    ]
    action = only(plan(fos, [package("p1")]))
    assert isinstance(action, Blocked)
    assert action.reason is BlockReason.FULFILLMENT_ORDER_ON_HOLD


def test_unitemised_sibling_packages_share_one_fulfillment_when_same_carrier() -> None:
    fos = [fo(10, fo_line(100, 500, remaining=3))]
    packages = [
        package(
            "p2",
            count=2,
            carrier="CAINIAO_STANDARD",
            url="https://global.cainiao.com/x2",
        ),
        package(
            "p1",
            count=2,
            carrier="AliExpress Standard Shipping",
            url="https://global.cainiao.com/x1",
        ),
    ]
    action = only(plan(fos, packages))
    assert isinstance(action, CreateFulfillment)
    assert action.tracking_numbers == ("TRKp1", "TRKp2")
    assert action.tracking_company == "Cainiao"
    assert action.tracking_urls == (
        "https://global.cainiao.com/x1",
        "https://global.cainiao.com/x2",
    )
    assert action.package_ids == ("p1", "p2")


def test_unitemised_siblings_with_different_carriers_are_blocked() -> None:
    packages = [
        package("p1", count=2, carrier="USPS"),
        package("p2", count=2, carrier="4PX"),
    ]
    action = only(plan([fo(10, fo_line(100, 500))], packages))
    assert isinstance(action, Blocked)
    assert action.reason is BlockReason.PACKAGE_LINES_UNKNOWN
    assert "4PX, USPS" in action.message


def test_unitemised_package_with_missing_sibling_is_blocked() -> None:
    action = only(plan([fo(10, fo_line(100, 500))], [package("p1", count=3)]))
    assert isinstance(action, Blocked)
    assert action.reason is BlockReason.PACKAGE_LINES_UNKNOWN
    assert "has 3 packages" in action.message


def test_unknown_carrier_sends_supplier_url() -> None:
    action = only(
        plan(
            [fo(10, fo_line(100, 500))],
            [
                package(
                    "p1",
                    line(line_item=500),
                    carrier="CJPacket Ordinary",
                    url="https://cjpacket.com/?n=1",
                )
            ],
        )
    )
    assert isinstance(action, CreateFulfillment)
    assert action.tracking_company == "CJPacket"
    assert action.tracking_urls == ("https://cjpacket.com/?n=1",)


def test_unknown_carrier_without_url_uses_fallback_template() -> None:
    push_settings = PushSettings(fallback_tracking_url="https://t.17track.net/en#nums={number}")
    action = only(
        plan(
            [fo(10, fo_line(100, 500))],
            [package("p1", line(line_item=500), carrier=None)],
            push_settings=push_settings,
        )
    )
    assert isinstance(action, CreateFulfillment)
    assert action.tracking_company is None
    assert action.tracking_urls == ("https://t.17track.net/en#nums=TRKp1",)


def test_unknown_carrier_without_any_url_sends_none() -> None:
    action = only(
        plan(
            [fo(10, fo_line(100, 500))],
            [package("p1", line(line_item=500), carrier="Wintop")],
        )
    )
    assert isinstance(action, CreateFulfillment)
    assert action.tracking_urls == ()


def test_settings_control_notification_overrides_and_urls() -> None:
    push_settings = PushSettings(
        notify_customer=False,
        carrier_overrides={"CJPacket Ordinary": "USPS"},
        always_send_tracking_url=True,
    )
    action = only(
        plan(
            [fo(10, fo_line(100, 500))],
            [
                package(
                    "p1",
                    line(line_item=500),
                    carrier="CJPacket Ordinary",
                    url="https://u/1",
                )
            ],
            push_settings=push_settings,
        )
    )
    assert isinstance(action, CreateFulfillment)
    assert action.notify_customer is False
    assert action.tracking_company == "USPS"
    assert action.tracking_urls == ("https://u/1",)


def _pushed(
    fulfillment_id: int = 7, tracking: str = "OLD1", supplier_order: str = "SO1"
) -> PushedPackage:
    return PushedPackage(
        package_id=PackageId("old"),
        supplier_order_id=supplier_order,
        fulfillment_id=FulfillmentId(fulfillment_id),
        tracking_number_normalized=tracking,
    )


def test_new_tracking_number_on_single_package_order_updates_fulfillment() -> None:
    result = plan(
        [fo(10, fo_line(100, 500, remaining=0))],
        [package("p1", line(line_item=500), tracking="NEW-1", carrier="4PX")],
        fulfillments=[fulfillment(7, "OLD1")],
        pushed=[_pushed()],
        push_settings=PushSettings(notify_customer_on_tracking_update=False),
    )
    action = only(result)
    assert isinstance(action, UpdateTracking)
    assert action.fulfillment_id == 7
    assert action.tracking_number == "NEW-1"
    assert action.tracking_company == "4PX"
    assert action.tracking_url is None
    assert action.notify_customer is False
    assert action.replaces_tracking_number == "OLD1"
    assert action.idempotency_key.startswith("trk:")
    assert result.updates == (action,)


def test_update_sends_url_for_unknown_carrier() -> None:
    action = only(
        plan(
            [fo(10, fo_line(100, 500, remaining=0))],
            [package("p1", tracking="NEW1", carrier="Yanwen", url="https://yw/1")],
            fulfillments=[fulfillment(7, "OLD1")],
            pushed=[_pushed()],
        )
    )
    assert isinstance(action, UpdateTracking)
    assert action.tracking_url == "https://yw/1"


@pytest.mark.parametrize(
    ("pushed", "fulfillments", "count"),
    [
        (
            [_pushed(), _pushed(fulfillment_id=8)],
            [fulfillment(7, "OLD1")],
            1,
        ),  # two pushed
        ([_pushed()], [fulfillment(7, "OLD1", status="CANCELLED")], 1),  # gone
        ([_pushed(supplier_order="SO9")], [fulfillment(7, "OLD1")], 1),  # other order
        ([_pushed()], [fulfillment(7, "OLD1")], 2),  # order has two packages
        ([_pushed(tracking="TRKP1")], [fulfillment(7, "OLD1")], 1),  # same number
    ],
)
def test_update_only_in_the_single_package_case(
    pushed: list[PushedPackage], fulfillments: list[ExistingFulfillment], count: int
) -> None:
    fos = [fo(10, fo_line(100, 500))]
    action = only(
        plan(
            fos,
            [package("p1", line(line_item=500), count=count)],
            fulfillments=fulfillments,
            pushed=pushed,
        )
    )
    assert not isinstance(action, UpdateTracking)


def test_unitemised_group_is_never_an_update() -> None:
    fos = [fo(10, fo_line(100, 500, remaining=2))]
    result = plan(
        fos,
        [package("p1", count=2), package("p2", count=2)],
        pushed=[_pushed()],
        fulfillments=[fulfillment(7, "OLD1")],
    )
    assert isinstance(only(result), CreateFulfillment)


def test_duplicate_package_ids_are_a_caller_bug() -> None:
    with pytest.raises(PlanInputError, match="listed twice"):
        plan([], [package("p1"), package("p1")])


def test_non_positive_quantity_is_a_caller_bug() -> None:
    with pytest.raises(PlanInputError, match="quantities must be positive"):
        plan([], [package("p1", line(line_item=1, quantity=0))])


# ----------------------------------------------------------------------- properties

line_item_ids = st.integers(min_value=1, max_value=6)


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[list[FulfillmentOrderState], list[PackageToPush], list[ExistingFulfillment]]:
    fos: list[FulfillmentOrderState] = []
    next_line = 100
    for fo_id in range(draw(st.integers(0, 4))):
        fo_lines = []
        for _ in range(draw(st.integers(1, 3))):
            next_line += 1
            fo_lines.append(
                fo_line(
                    next_line,
                    draw(line_item_ids),
                    remaining=draw(st.integers(0, 3)),
                    sku=f"S{next_line % 4}",
                )
            )
        fos.append(
            fo(
                fo_id + 10,
                *fo_lines,
                location=draw(st.sampled_from([1, 2, 3, None])),
                actions=draw(st.sampled_from([CREATE, frozenset()])),
                status=draw(st.sampled_from(list(FulfillmentOrderStatus))),
            )
        )
    packages: list[PackageToPush] = []
    for index in range(draw(st.integers(0, 5))):
        lines = draw(
            st.lists(
                st.one_of(
                    st.builds(line, line_item=line_item_ids, quantity=st.integers(1, 3)),
                    st.builds(
                        line,
                        sku=st.sampled_from(["S0", "S1", "s2 "]),
                        quantity=st.integers(1, 3),
                    ),
                ),
                max_size=3,
            )
        )
        packages.append(
            package(
                f"p{index}",
                *lines,
                tracking=f"T{draw(st.integers(0, 6))}-{index}",
                supplier_order=f"SO{draw(st.integers(0, 2))}",
                carrier=draw(st.sampled_from(["USPS", "4PX", None])),
                count=draw(st.integers(1, 2)),
            )
        )
    fulfillments = [
        fulfillment(
            draw(st.integers(1, 50)),
            f"T{draw(st.integers(0, 6))}-{draw(st.integers(0, 5))}",
        )
        for _ in range(draw(st.integers(0, 2)))
    ]
    return fos, packages, fulfillments


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_plan_never_over_fulfils_and_never_mixes_locations(
    scenario: tuple[list[FulfillmentOrderState], list[PackageToPush], list[ExistingFulfillment]],
) -> None:
    fos, packages, fulfillments = scenario
    result = plan(fos, packages, fulfillments=fulfillments)
    by_id = {f.fulfillment_order_id: f for f in fos}
    used: Counter[FulfillmentOrderLineItemId] = Counter()
    for action in result.creates:
        locations = {
            by_id[group.fulfillment_order_id].location_id
            for group in action.line_items_by_fulfillment_order
        }
        assert locations == {action.location_id}
        for group in action.line_items_by_fulfillment_order:
            assert by_id[group.fulfillment_order_id].can_create_fulfillment
            for allocated in group.lines:
                assert allocated.quantity > 0
                used[allocated.fulfillment_order_line_item_id] += allocated.quantity
    remaining = {
        line.fulfillment_order_line_item_id: line.remaining_quantity
        for f in fos
        for line in f.line_items
    }
    assert all(used[line_id] <= remaining[line_id] for line_id in used)


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios(), seed=st.integers(0, 1000))
def test_plan_is_deterministic_and_accounts_for_every_package(
    scenario: tuple[list[FulfillmentOrderState], list[PackageToPush], list[ExistingFulfillment]],
    seed: int,
) -> None:
    fos, packages, fulfillments = scenario
    first = plan(fos, packages, fulfillments=fulfillments)
    shuffled_packages = list(packages)
    shuffled_fos = list(fos)
    random.Random(seed).shuffle(shuffled_packages)
    random.Random(seed + 1).shuffle(shuffled_fos)
    second = plan(shuffled_fos, shuffled_packages, fulfillments=fulfillments)
    assert first == second
    covered = {pid for action in first.actions for pid in action.package_ids}
    assert covered == {p.package_id for p in packages}


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios())
def test_adopt_wins_whenever_the_number_exists(
    scenario: tuple[list[FulfillmentOrderState], list[PackageToPush], list[ExistingFulfillment]],
) -> None:
    fos, packages, fulfillments = scenario
    existing = {normalize_tracking_number(n) for f in fulfillments for n in f.tracking_numbers}
    result = plan(fos, packages, fulfillments=fulfillments)
    adopted = {pid for action in result.adoptions for pid in action.package_ids}
    assert adopted == {p.package_id for p in packages if p.tracking_number_normalized in existing}
    for action in result.creates:
        assert not {normalize_tracking_number(n) for n in action.tracking_numbers} & existing
