"""Supplier events: the one normalised model and every adapter, in one import.

This module only gathers the public names of the modules that do the work, so
callers can write ``from core.supplier_events import parse_cj_message``:

* :mod:`core.supplier_model`: :class:`SupplierEvent`, :class:`SupplierHint`,
  :class:`SupplierOrderState`, packages, items, tracking events and statuses;
* :mod:`core.cj`: CJdropshipping webhook messages and order detail;
* :mod:`core.aliexpress`: AliExpress message push and ``trade.ds.order.get``;
* :mod:`core.generic_events`: our Standard Webhooks generic format;
* :mod:`core.signatures`: signature checks for every inbound channel.
"""

from __future__ import annotations

from core.aliexpress import parse_aliexpress_order_detail, parse_aliexpress_push
from core.cj import parse_cj_message, parse_cj_order_detail
from core.generic_events import GENERIC_EVENT_SCHEMA_PATH, parse_generic_event
from core.signatures import (
    verify_oauth_query,
    verify_shopify_hmac,
    verify_standard_webhook,
)
from core.supplier_model import (
    CJ_TRACKING_STATUS,
    IgnoredSupplierMessage,
    PackageItem,
    ShippedPackage,
    SplitPart,
    Supplier,
    SupplierEvent,
    SupplierEventKind,
    SupplierHint,
    SupplierOrderState,
    TrackingEvent,
    TrackingStatus,
)

__all__ = [
    "CJ_TRACKING_STATUS",
    "GENERIC_EVENT_SCHEMA_PATH",
    "IgnoredSupplierMessage",
    "PackageItem",
    "ShippedPackage",
    "SplitPart",
    "Supplier",
    "SupplierEvent",
    "SupplierEventKind",
    "SupplierHint",
    "SupplierOrderState",
    "TrackingEvent",
    "TrackingStatus",
    "parse_aliexpress_order_detail",
    "parse_aliexpress_push",
    "parse_cj_message",
    "parse_cj_order_detail",
    "parse_generic_event",
    "verify_oauth_query",
    "verify_shopify_hmac",
    "verify_standard_webhook",
]
