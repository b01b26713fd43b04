"""Our generic supplier event format (Standard Webhooks delivery).

Any supplier or script can feed dropsync by POSTing Standard Webhooks deliveries
(headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; verify them with
:func:`core.signatures.verify_standard_webhook`) whose body is::

    {"type": "order.shipped",
     "timestamp": "2026-11-27T10:00:00Z",
     "data": {"supplier_order_id": "SO-1",
              "shopify_order_id": 820982911946154508,   # or a GID, or use order_name
              "order_name": "#1001",
              "occurred_at": "2026-11-27T18:00:00+08:00",
              "packages": [{"tracking_number": "LP00123456789CN",
                            "carrier": "YunExpress",
                            "tracking_url": "https://...",
                            "previous_tracking_number": null,  # set on a relabel
                            "line_items": [{"shopify_line_item_id": 1,
                                            "quantity": 2}]}]}}

Event types: ``order.placed``, ``order.shipped`` (``packages`` required),
``tracking.updated`` (``packages`` with ``status``/``events``), ``order.cancelled``
(optional ``reason``), ``order.split`` (``split_into`` required). The JSON Schema is
``core/generic_event.schema.json`` (:data:`GENERIC_EVENT_SCHEMA_PATH`); this parser
enforces the same rules with precise messages. ``occurred_at`` must carry a zone.
The dedup key is the ``webhook-id`` when given, else a hash of the body.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.errors import PayloadError
from core.ids import LineItemId, VariantId, parse_gid_id, require_id
from core.json_reader import JsonObject, load_json_object
from core.supplier_model import (
    PackageItem,
    ShippedPackage,
    SplitPart,
    Supplier,
    SupplierEvent,
    SupplierEventKind,
    TrackingEvent,
    TrackingStatus,
)
from core.tracking import make_tracking_number

__all__ = ["GENERIC_EVENT_SCHEMA_PATH", "parse_generic_event"]

GENERIC_EVENT_SCHEMA_PATH = Path(__file__).with_name("generic_event.schema.json")

_NEEDS_PACKAGES = {SupplierEventKind.ORDER_SHIPPED, SupplierEventKind.TRACKING_UPDATED}


def parse_generic_event(body: bytes, *, msg_id: str | None = None) -> SupplierEvent:
    """Parse one generic supplier event body.

    Parameters
    ----------
    body
        The raw request body (already verified).
    msg_id
        The ``webhook-id`` header, used as the dedup key.

    Raises
    ------
    PayloadError
        If the body breaks the format; the message names the field.
    """
    envelope = load_json_object(body, what="generic event")
    kind = _kind(envelope)
    data = envelope.req_obj("data")
    packages = tuple(_package(item) for item in data.objs("packages"))
    if kind in _NEEDS_PACKAGES and not packages:
        raise PayloadError(f"is required and non-empty for {kind}", field=data.field("packages"))
    split_into = tuple(_split_part(item) for item in data.objs("split_into"))
    if kind is SupplierEventKind.ORDER_SPLIT and not split_into:
        raise PayloadError(f"is required and non-empty for {kind}", field=data.field("split_into"))
    key = msg_id.strip() if msg_id and msg_id.strip() else hashlib.sha256(body).hexdigest()
    return SupplierEvent(
        supplier=Supplier.GENERIC,
        kind=kind,
        dedup_key=f"generic:{key}",
        supplier_order_id=data.req_id_text("supplier_order_id"),
        shopify_reference=_shopify_reference(data),
        occurred_at=data.req_timestamp("occurred_at"),
        supplier_status=data.opt_str("status"),
        packages=packages,
        split_into=split_into,
        reason=data.opt_str("reason"),
    )


def _kind(envelope: JsonObject) -> SupplierEventKind:
    raw = envelope.req_str("type")
    try:
        return SupplierEventKind(raw)
    except ValueError as exc:
        allowed = ", ".join(kind.value for kind in SupplierEventKind)
        raise PayloadError(f"{raw!r} is not one of {allowed}", field="type") from exc


def _shopify_reference(data: JsonObject) -> str:
    raw = data.raw("shopify_order_id")
    field = data.field("shopify_order_id")
    if isinstance(raw, str):
        return f"gid://shopify/Order/{parse_gid_id(raw, expected='Order', field=field)}"
    if raw is not None:
        return str(require_id(raw, field=field))
    name = data.opt_str("order_name")
    if name is None or not name.strip():
        raise PayloadError(
            "one of shopify_order_id or order_name is required",
            field=data.field("order_name"),
        )
    return name.strip()


def _package(item: JsonObject) -> ShippedPackage:
    status = item.opt_str("status")
    previous = item.opt_str("previous_tracking_number")
    return ShippedPackage(
        tracking=make_tracking_number(
            item.req_str("tracking_number"), field=item.field("tracking_number")
        ),
        carrier=item.opt_str("carrier"),
        tracking_url=item.opt_str("tracking_url"),
        items=tuple(_line_item(line) for line in item.objs("line_items")),
        status=_status(status, field=item.field("status")) if status is not None else None,
        events=tuple(
            sorted(
                (_event(event) for event in item.objs("events")),
                key=lambda event: event.occurred_at,
            )
        ),
        previous_tracking=make_tracking_number(
            previous, field=item.field("previous_tracking_number")
        )
        if previous is not None
        else None,
    )


def _line_item(item: JsonObject) -> PackageItem:
    line_item = _optional_gid_or_int(item, "shopify_line_item_id", "LineItem")
    variant = _optional_gid_or_int(item, "variant_id", "ProductVariant")
    sku = item.opt_str("sku")
    if line_item is None and variant is None and not (sku and sku.strip()):
        raise PayloadError(
            "needs at least one of shopify_line_item_id, sku or variant_id",
            field=item.path,
        )
    quantity = item.req_int("quantity")
    if quantity < 1:
        raise PayloadError(f"must be at least 1, got {quantity}", field=item.field("quantity"))
    return PackageItem(
        shopify_line_item_id=LineItemId(line_item) if line_item is not None else None,
        sku=sku.strip() if sku and sku.strip() else None,
        variant_id=VariantId(variant) if variant is not None else None,
        supplier_variant_id=None,
        quantity=quantity,
    )


def _split_part(item: JsonObject) -> SplitPart:
    return SplitPart(
        supplier_order_id=item.req_id_text("supplier_order_id"),
        status=item.opt_str("status"),
        items=tuple(_line_item(line) for line in item.objs("line_items")),
        created_at=item.opt_timestamp("created_at"),
    )


def _event(item: JsonObject) -> TrackingEvent:
    status = item.opt_str("status")
    return TrackingEvent(
        occurred_at=item.req_timestamp("occurred_at"),
        status=_status(status, field=item.field("status")) if status is not None else None,
        description=item.req_str("description"),
        location=item.opt_str("location"),
    )


def _status(raw: str, *, field: str) -> TrackingStatus:
    try:
        return TrackingStatus(raw)
    except ValueError as exc:
        allowed = ", ".join(status.value for status in TrackingStatus)
        raise PayloadError(f"{raw!r} is not one of {allowed}", field=field) from exc


def _optional_gid_or_int(item: JsonObject, key: str, resource: str) -> int | None:
    raw = item.raw(key)
    if raw is None:
        return None
    if isinstance(raw, str):
        return parse_gid_id(raw, expected=resource, field=item.field(key))
    return require_id(raw, field=item.field(key))
