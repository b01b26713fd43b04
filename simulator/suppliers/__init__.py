"""Fake dropshipping suppliers (CJdropshipping, AliExpress, generic) for dropsync.

``SupplierSimulator`` holds supplier orders in memory and emits each supplier's
webhooks on change; ``create_app`` serves the suppliers' APIs plus ``/_sim``
control endpoints. Run standalone with ``python -m simulator.suppliers``.
This package imports nothing from dropsync itself, on purpose.
"""

from simulator.suppliers.app import create_app
from simulator.suppliers.clock import Clock, ManualClock, SystemClock
from simulator.suppliers.delivery import (
    DeliveryAttempt,
    DeliveryKnobs,
    DeliveryReport,
    WebhookMessage,
)
from simulator.suppliers.errors import InvalidTransitionError, UnknownOrderError
from simulator.suppliers.faults import FaultKnobs
from simulator.suppliers.model import (
    CjTrackingStatus,
    LineItem,
    OrderStatus,
    Package,
    Supplier,
    SupplierOrder,
    TrackingEvent,
)
from simulator.suppliers.settings import SupplierSettings
from simulator.suppliers.simulator import (
    ScheduleFailure,
    ShipmentSpec,
    SupplierSimulator,
)
from simulator.suppliers.timeline import STANDARD_ROUTE, RouteStep

__all__ = [
    "STANDARD_ROUTE",
    "CjTrackingStatus",
    "Clock",
    "DeliveryAttempt",
    "DeliveryKnobs",
    "DeliveryReport",
    "FaultKnobs",
    "InvalidTransitionError",
    "LineItem",
    "ManualClock",
    "OrderStatus",
    "Package",
    "RouteStep",
    "ScheduleFailure",
    "ShipmentSpec",
    "Supplier",
    "SupplierOrder",
    "SupplierSettings",
    "SupplierSimulator",
    "SystemClock",
    "TrackingEvent",
    "UnknownOrderError",
    "WebhookMessage",
    "create_app",
]
