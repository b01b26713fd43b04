"""Changes scheduled for later simulator time, such as a parcel's journey over days.

The timeline only stores actions by due time; ``SupplierSimulator.tick`` and
``SupplierSimulator.advance`` run them when the clock reaches them.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from simulator.suppliers.model import CjTrackingStatus

__all__ = ["STANDARD_ROUTE", "RouteStep", "ScheduledAction", "Timeline"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteStep:
    status: CjTrackingStatus
    description: str
    location: str


# A typical China -> US parcel after it left the warehouse.
STANDARD_ROUTE: tuple[RouteStep, ...] = (
    RouteStep(
        status=CjTrackingStatus.FIRST_LEG,
        description="Departed from the origin sorting center",
        location="Shenzhen, CN",
    ),
    RouteStep(
        status=CjTrackingStatus.ARRIVED_IN_DESTINATION,
        description="Arrived in the destination country",
        location="Los Angeles, CA, US",
    ),
    RouteStep(
        status=CjTrackingStatus.CUSTOMS_STARTED,
        description="Customs clearance started",
        location="Los Angeles, CA, US",
    ),
    RouteStep(
        status=CjTrackingStatus.CUSTOMS_CLEARED,
        description="Customs clearance completed",
        location="Los Angeles, CA, US",
    ),
    RouteStep(
        status=CjTrackingStatus.LAST_MILE_PICKUP,
        description="Handed over to the last-mile carrier",
        location="Los Angeles, CA, US",
    ),
    RouteStep(
        status=CjTrackingStatus.OUT_FOR_DELIVERY,
        description="Out for delivery",
        location="San Jose, CA, US",
    ),
    RouteStep(
        status=CjTrackingStatus.DELIVERED,
        description="Delivered, front door",
        location="San Jose, CA, US",
    ),
)


@dataclass(frozen=True, slots=True, order=True)
class ScheduledAction:
    due: datetime
    sequence: int
    label: str = field(compare=False)
    action: Callable[[], object] = field(compare=False)


class Timeline:
    """A min-heap of actions ordered by due time, then by scheduling order."""

    def __init__(self) -> None:
        self._heap: list[ScheduledAction] = []
        self._sequence = itertools.count()

    def add(self, due: datetime, action: Callable[[], object], *, label: str) -> None:
        entry = ScheduledAction(due=due, sequence=next(self._sequence), label=label, action=action)
        heapq.heappush(self._heap, entry)

    def next_due(self) -> datetime | None:
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: datetime) -> ScheduledAction | None:
        if self._heap and self._heap[0].due <= now:
            return heapq.heappop(self._heap)
        return None

    def labels(self) -> list[tuple[datetime, str]]:
        return [(e.due, e.label) for e in sorted(self._heap)]

    def __len__(self) -> int:
        return len(self._heap)
