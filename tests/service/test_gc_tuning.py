"""Start-up objects are frozen out of the collector's sight while serving, and handed back."""

import gc

from service.gc_tuning import freeze_startup_objects, unfreeze_startup_objects


def test_freeze_exempts_live_objects_and_unfreeze_returns_them() -> None:
    survivor = [object() for _ in range(100)]
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= len(survivor)
    finally:
        unfreeze_startup_objects()
    assert gc.get_freeze_count() == 0


def test_freeze_collects_cyclic_garbage_first() -> None:
    class Node:
        partner: "Node | None" = None

    collected_before = gc.get_stats()[2]["collected"]
    first, second = Node(), Node()
    first.partner, second.partner = second, first
    del first, second
    try:
        freeze_startup_objects()
    finally:
        unfreeze_startup_objects()
    # The cycle was freed by the full collection rather than frozen for the process's life.
    assert gc.get_stats()[2]["collected"] >= collected_before + 2
