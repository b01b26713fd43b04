"""AliExpress adapters: message push hints and the DS order-detail response.

* Message push (facts doc 7.1, reported by public integrations, official page not
  read): topic ``DROPSHIPPER_ORDER_STATUS_UPDATE``, ``message_type`` 53,
  ``{"data": {"buyerId", "orderId", "orderStatus"}, "message_type": 53,
  "seller_id", "site", "timestamp"}``. The signature scheme is unconfirmed, so a push
  is only a :class:`~core.supplier_model.SupplierHint`: re-read the order through
  ``aliexpress.trade.ds.order.get`` before acting. Other message types are returned
  as :class:`~core.supplier_model.IgnoredSupplierMessage`.
* ``aliexpress.trade.ds.order.get`` response: ``order_status``,
  ``logistics_status``, ``gmt_create``, ``child_order_list[]`` and
  ``logistics_info_list[{logistics_no, logistics_service}]``; one order may have
  several ``logistics_no`` (split shipments), none of them itemised. The TOP-style
  wrappers (``{"aliexpress_trade_ds_order_get_response": {"result": ...}}``,
  ``{"ae_order_logistics_info": [...]}``) are accepted as well as bare objects.
  The result does not name the order, so the caller passes `order_id`.

Unverified: which ``order_status`` values mean cancelled (we treat
:data:`AE_CANCELLED_STATUSES` so) and the zone of ``gmt_create`` (pass `tz`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

from core.errors import PayloadError, RemoteRejected
from core.json_reader import JsonObject, load_json_object
from core.supplier_model import (
    IgnoredSupplierMessage,
    PackageItem,
    ShippedPackage,
    Supplier,
    SupplierHint,
    SupplierOrderState,
)
from core.tracking import make_tracking_number

__all__ = [
    "AE_CANCELLED_STATUSES",
    "AE_ORDER_STATUS_MESSAGE_TYPE",
    "parse_aliexpress_order_detail",
    "parse_aliexpress_push",
]

AE_ORDER_STATUS_MESSAGE_TYPE = 53
AE_CANCELLED_STATUSES = frozenset({"IN_CANCEL", "CANCELLED", "CLOSED", "ORDER_CLOSED"})


def parse_aliexpress_push(body: bytes) -> SupplierHint | IgnoredSupplierMessage:
    """Parse one AliExpress message push.

    Raises
    ------
    PayloadError
        If the body, ``message_type`` or ``data.orderId`` is malformed.
    """
    envelope = load_json_object(body, what="AliExpress push")
    message_type = envelope.req_id_text("message_type")
    if message_type != str(AE_ORDER_STATUS_MESSAGE_TYPE):
        return IgnoredSupplierMessage(
            supplier=Supplier.ALIEXPRESS, message_type=message_type, dedup_key=None
        )
    data = envelope.req_obj("data")
    order_id = data.req_id_text("orderId")
    status = data.opt_str("orderStatus")
    sent_at = envelope.opt_int("timestamp")
    return SupplierHint(
        supplier=Supplier.ALIEXPRESS,
        dedup_key=f"ae:{message_type}:{order_id}:{status}:{sent_at}",
        supplier_order_id=order_id,
        status=status,
        occurred_at=datetime.fromtimestamp(sent_at, tz=UTC) if sent_at else None,
    )


def parse_aliexpress_order_detail(
    response: bytes | str | Mapping[str, object],
    *,
    order_id: str | int | None = None,
    tz: tzinfo = UTC,
) -> SupplierOrderState:
    """Parse an ``aliexpress.trade.ds.order.get`` response.

    Parameters
    ----------
    response
        The raw body or the parsed JSON, wrapped or bare.
    order_id
        The AliExpress order id that was queried (used when the result lacks one).
    tz
        The zone of ``gmt_create`` (undocumented; UTC unless known).

    Raises
    ------
    RemoteRejected
        For an ``error_response`` envelope.
    PayloadError
        If the response is malformed or no order id is known.
    """
    result = _unwrap(
        response
        if isinstance(response, Mapping)
        else load_json_object(response, what="AliExpress response").data
    )
    supplier_order_id = result.opt_id_text("order_id") or (
        str(order_id).strip()
        if order_id is not None and str(order_id).strip()
        else None
    )
    if supplier_order_id is None:
        raise PayloadError("the response names no order and no order_id was given")
    status = result.opt_str("order_status")
    return SupplierOrderState(
        supplier=Supplier.ALIEXPRESS,
        supplier_order_id=supplier_order_id,
        shopify_reference=result.opt_id_text("out_order_id"),
        status=status,
        logistics_status=result.opt_str("logistics_status"),
        cancelled=(status or "").upper() in AE_CANCELLED_STATUSES,
        created_at=result.opt_local_timestamp("gmt_create", tz=tz),
        items=tuple(
            _child_order(item) for item in _listing(result, "child_order_list")
        ),
        packages=_packages(_listing(result, "logistics_info_list")),
    )


def _unwrap(document: Mapping[str, object]) -> JsonObject:
    top = JsonObject(document, path="")
    error = top.opt_obj("error_response")
    if error is not None:
        parts = [
            str(error.raw(key))
            for key in ("code", "sub_code", "msg", "sub_msg")
            if error.raw(key) is not None
        ]
        raise RemoteRejected(f"AliExpress order detail failed: {' '.join(parts)}")
    wrappers = [key for key in document if key.endswith("_response")]
    inner = top.req_obj(wrappers[0]) if len(wrappers) == 1 else top
    return inner.req_obj("result") if inner.has("result") else inner


def _listing(result: JsonObject, key: str) -> tuple[JsonObject, ...]:
    raw = result.raw(key)
    if isinstance(raw, dict) and len(raw) == 1:
        # TOP-style wrapper: {"logistics_info_list": {"ae_order_logistics_info": [...]}}
        return result.req_obj(key).objs(next(iter(raw)))
    return result.objs(key)


def _child_order(item: JsonObject) -> PackageItem:
    return PackageItem(
        shopify_line_item_id=None,
        sku=None,
        variant_id=None,
        supplier_variant_id=item.opt_id_text("sku_attr")
        or item.opt_id_text("product_id"),
        quantity=item.req_count("product_count"),
    )


def _packages(entries: tuple[JsonObject, ...]) -> tuple[ShippedPackage, ...]:
    packages: dict[str, ShippedPackage] = {}
    for entry in entries:
        number = entry.opt_id_text("logistics_no")
        if number is None:
            continue
        tracking = make_tracking_number(number, field=entry.field("logistics_no"))
        packages.setdefault(
            tracking.normalized,
            ShippedPackage(
                tracking=tracking,
                carrier=entry.opt_str("logistics_service"),
                tracking_url=None,
                items=(),
                status=None,
                events=(),
            ),
        )
    return tuple(packages.values())
