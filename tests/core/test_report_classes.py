"""The report taxonomy's pure rules: priorities by age, outcomes, ageing buckets, thresholds."""

from datetime import UTC, datetime, timedelta

import pytest

from core.report_classes import (
    CLASS_SPECS,
    CUTOVER_ACTION,
    ActionBy,
    AgeBuckets,
    MismatchClass,
    Outcome,
    SubjectKind,
    Thresholds,
    action_for,
    effective_priority,
    invalid_overrides,
    outcome_at,
    parse_duration,
    resolve_thresholds,
)

DAY = timedelta(days=1)


def test_every_class_has_a_spec_with_a_priority_and_an_action() -> None:
    assert set(CLASS_SPECS) == set(MismatchClass)
    for spec in CLASS_SPECS.values():
        assert 1 <= spec.base_priority <= 4
        assert spec.action_break
        assert spec.meaning
        assert spec.threshold is None or hasattr(Thresholds(), spec.threshold)


def test_taxonomy_covers_the_required_classes() -> None:
    required = {
        "shipped_not_synced",
        "tracking_mismatch",
        "partially_synced",
        "fulfilled_without_supplier_shipment",
        "paid_not_placed",
        "cancelled_at_supplier_open_in_shopify",
        "cancelled_in_shopify_active_at_supplier",
        "duplicate_fulfilment",
        "carrier_not_recognised",
        "push_failed",
        "held_in_shopify",
        "payment_pending",
        "archived_unfulfilled",
        "supplier_order_without_shopify_order",
        "tracking_stalled",
        "shop_needs_attention",
    }
    assert {c.value for c in MismatchClass} == required
    assert CLASS_SPECS[MismatchClass.SHOP_NEEDS_ATTENTION].subject is SubjectKind.SHOP


@pytest.mark.parametrize(
    ("base", "age", "expected"),
    [
        (4, timedelta(0), 4),
        (4, 3 * DAY - timedelta(seconds=1), 4),
        (4, 3 * DAY, 3),
        (4, 9 * DAY, 1),
        (2, 30 * DAY, 1),
        (1, 100 * DAY, 1),
        (3, -DAY, 3),
    ],
)
def test_priority_rises_one_level_per_step_of_age(base: int, age: timedelta, expected: int) -> None:
    assert effective_priority(base, age=age, step=3 * DAY) == expected


def test_priority_is_fixed_when_step_is_zero() -> None:
    assert effective_priority(3, age=100 * DAY, step=timedelta(0)) == 3


def test_outcome_is_pending_until_breaks_at_then_break() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert outcome_at(now + timedelta(seconds=1), now=now) is Outcome.PENDING
    assert outcome_at(now, now=now) is Outcome.BREAK
    assert outcome_at(now - DAY, now=now) is Outcome.BREAK


def test_age_buckets_are_half_open_and_cover_every_age() -> None:
    buckets = AgeBuckets((DAY, 3 * DAY, 7 * DAY))
    assert buckets.labels == ("0-1d", "1d-3d", "3d-7d", "7d+")
    assert buckets.bucket_for(timedelta(0)) == "0-1d"
    assert buckets.bucket_for(DAY - timedelta(microseconds=1)) == "0-1d"
    assert buckets.bucket_for(DAY) == "1d-3d"
    assert buckets.bucket_for(7 * DAY) == "7d+"
    assert buckets.bucket_for(-DAY) == "0-1d"
    assert [upper for _label, _lower, upper in buckets.ranges()] == [DAY, 3 * DAY, 7 * DAY, None]


def test_age_bucket_labels_use_the_largest_whole_unit() -> None:
    assert AgeBuckets((timedelta(hours=6), timedelta(hours=36))).labels == (
        "0-6h",
        "6h-36h",
        "36h+",
    )


@pytest.mark.parametrize(
    "boundaries", [(), (DAY, DAY), (3 * DAY, DAY), (timedelta(0),), (-DAY, DAY)]
)
def test_age_buckets_reject_overlapping_or_empty_boundaries(
    boundaries: tuple[timedelta, ...],
) -> None:
    with pytest.raises(ValueError, match="age bucket"):
        AgeBuckets(boundaries)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (3600, timedelta(hours=1)),
        (1.5, timedelta(seconds=1.5)),
        ("48h", timedelta(hours=48)),
        ("7d", timedelta(days=7)),
        ("90m", timedelta(minutes=90)),
        ("30", timedelta(seconds=30)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_parse_duration_accepts_seconds_and_units(raw: object, expected: timedelta) -> None:
    assert parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["soon", "-5h", -1, True, None, "5y"])
def test_parse_duration_rejects_nonsense(raw: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(raw)


def test_shop_overrides_replace_known_thresholds_and_ignore_the_rest() -> None:
    resolved = resolve_thresholds(
        Thresholds(),
        {"sync_grace": "2h", "paid_not_placed_after": 7200, "bogus": "1h", "hold_grace": "x"},
    )
    assert resolved.sync_grace == timedelta(hours=2)
    assert resolved.paid_not_placed_after == timedelta(hours=2)
    assert resolved.hold_grace == Thresholds().hold_grace
    assert sorted(invalid_overrides({"bogus": 1, "hold_grace": "x", "sync_grace": 5})) == [
        "bogus",
        "hold_grace",
    ]


def test_action_depends_on_outcome() -> None:
    pending = action_for(MismatchClass.SHIPPED_NOT_SYNCED, Outcome.PENDING)
    broken = action_for(MismatchClass.SHIPPED_NOT_SYNCED, Outcome.BREAK)
    assert "dropsync" in pending
    assert pending != broken
    assert CLASS_SPECS[MismatchClass.SHIPPED_NOT_SYNCED].action_by is ActionBy.DROPSYNC
    assert action_for(MismatchClass.PUSH_FAILED, Outcome.PENDING) == action_for(
        MismatchClass.PUSH_FAILED, Outcome.BREAK
    )


def test_action_for_packages_before_the_cutover_asks_to_opt_in_or_sync_manually() -> None:
    for outcome in (Outcome.PENDING, Outcome.BREAK):
        text = action_for(MismatchClass.SHIPPED_NOT_SYNCED, outcome, before_cutover=True)
        assert text == CUTOVER_ACTION
    assert "opt in to push" in CUTOVER_ACTION
    assert "manually" in CUTOVER_ACTION
    assert action_for(MismatchClass.PUSH_FAILED, Outcome.BREAK, before_cutover=True) == (
        action_for(MismatchClass.PUSH_FAILED, Outcome.BREAK)
    )


def test_age_bucket_labels_fall_back_to_seconds() -> None:
    assert AgeBuckets((timedelta(seconds=90), timedelta(hours=1))).labels == (
        "0-90s",
        "90s-1h",
        "1h+",
    )
