"""While serving, start-up objects are frozen and young passes are rare; both are undone after."""

import gc

from service.gc_tuning import (
    SERVING_YOUNG_THRESHOLD,
    prepare_collector_for_serving,
    restore_collector,
)


def test_freeze_exempts_live_objects_and_restore_returns_them() -> None:
    survivor = [object() for _ in range(100)]
    try:
        prepare_collector_for_serving()
        assert gc.get_freeze_count() >= len(survivor)
    finally:
        restore_collector()
    assert gc.get_freeze_count() == 0


def test_freeze_collects_cyclic_garbage_first() -> None:
    class Node:
        partner: "Node | None" = None

    collected_before = gc.get_stats()[2]["collected"]
    first, second = Node(), Node()
    first.partner, second.partner = second, first
    del first, second
    try:
        prepare_collector_for_serving()
    finally:
        restore_collector()
    # The cycle was freed by the full collection rather than frozen for the process's life.
    assert gc.get_stats()[2]["collected"] >= collected_before + 2


def test_young_threshold_is_raised_while_serving_and_restored_after() -> None:
    before = gc.get_threshold()
    try:
        prepare_collector_for_serving()
        young, middle, old = gc.get_threshold()
        assert young == max(before[0], SERVING_YOUNG_THRESHOLD)
        assert (middle, old) == before[1:]
    finally:
        restore_collector()
    assert gc.get_threshold() == before


def test_nested_apps_restore_the_original_thresholds() -> None:
    before = gc.get_threshold()
    prepare_collector_for_serving()
    prepare_collector_for_serving()  # a second app in the same process
    restore_collector()
    restore_collector()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
