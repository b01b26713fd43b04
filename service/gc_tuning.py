"""Keep the cyclic garbage collector off the request path of a serving process.

Full passes: a running API holds about 140,000 objects built at start-up (routes, models,
settings, the pool), all alive until the process ends. Every full (generation 2) collection
walked all of them: under webhook load one ran about once a second and took 80-150 ms on a busy
2-core machine, stalling every request in flight and setting the p99. Freezing the start-up
objects moves them to the collector's permanent generation, so full passes only walk what was
created since, and take well under a millisecond.

Young passes: a stored webhook stays in flight until its commit, so at 32 connections a few
thousand live objects (requests, tasks, futures, rows) outnumber the default young-generation
threshold of 700 net allocations. The collector then ran about 170 young, 15 middle and 1-2 full
passes a second, each walking the in-flight objects only to promote them, about 5 % of the API's
CPU and the source of millisecond stalls (docs/ingest.md). Requests free their objects by
reference counting when they finish; the collector is only needed for cycles, which the app
rarely makes, so a threshold of 20,000 costs a few megabytes of delayed cycle collection at
worst and removes nearly all of those passes.

`restore_collector` undoes both at shutdown, so a process that starts many apps (the test suite)
does not keep the objects frozen forever or the raised threshold.
"""

import gc

__all__ = ["SERVING_YOUNG_THRESHOLD", "prepare_collector_for_serving", "restore_collector"]

SERVING_YOUNG_THRESHOLD = 20_000

# The thresholds before the first `prepare_collector_for_serving`, restored by
# `restore_collector` (a list so that nested apps in one process share one saved value).
_saved_thresholds: list[tuple[int, int, int]] = []


def prepare_collector_for_serving() -> None:
    """Collect once, freeze every object alive now, and raise the young-generation threshold."""
    # Collect first: cyclic garbage frozen now would never be freed.
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if not _saved_thresholds:
        _saved_thresholds.append((young, middle, old))
    gc.set_threshold(max(young, SERVING_YOUNG_THRESHOLD), middle, old)


def restore_collector() -> None:
    """Hand the frozen objects back to the collector and restore its thresholds (at shutdown)."""
    gc.unfreeze()
    if _saved_thresholds:
        gc.set_threshold(*_saved_thresholds.pop())
