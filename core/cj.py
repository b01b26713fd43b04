"""CJdropshipping adapters: webhook messages and the order-detail API response.

Webhook envelope (facts doc 7.3): ``{messageId, type, messageType, openId, params}``.
``messageId`` is the dedup key (CJ retries up to three times and signs nothing, so
every message is also re-read through the API before it changes anything).

* ``ORDER``: ``cjOrderId``, ``orderNumber`` (the merchant's reference; ``orderNum``
  is the deprecated name), ``orderStatus``, ``logisticName``, ``trackNumber`` (sic),
  ``trackingUrl`` and dates. With a tracking number it becomes ``order.shipped``
  with one unitemised package; a cancelled status becomes ``order.cancelled``;
  anything else ``order.placed`` (the supplier order exists, `supplier_status` says
  how far it is).
* ``LOGISTIC``: ``orderId``, ``logisticName``, ``trackingNumber``, ``trackingUrl``,
  ``trackingStatus`` (0-14) and ``logisticsTrackEvents``, a JSON-encoded *string*.
  Becomes ``tracking.updated``. The newer ``storeOrderNumbers[]`` (third-party
  report) gives the Shopify reference when present.
* ``ORDERSPLIT``: ``originalOrderId``, ``orderSplitTime`` and
  ``splitOrderList[{orderCode, createAt, orderStatus, productList[{productCode, vid,
  quantity, sku}]}]``. Becomes ``order.split``.
* Other types (``PRODUCT``, ``STOCK``...) are returned as
  :class:`~core.supplier_model.IgnoredSupplierMessage`.

CJ dates are ``yyyy-MM-dd HH:mm:ss`` without a zone; the caller passes the CJ
account's zone as `tz`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo

from core.errors import PayloadError, RemoteRejected
from core.json_reader import JsonObject, load_json, load_json_object
from core.supplier_model import (
    IgnoredSupplierMessage,
    PackageItem,
    ShippedPackage,
    SplitPart,
    Supplier,
    SupplierEvent,
    SupplierEventKind,
    SupplierOrderState,
    TrackingEvent,
    tracking_status_from_cj,
)
from core.tracking import make_tracking_number

__all__ = ["CJ_CANCELLED_STATUSES", "parse_cj_message", "parse_cj_order_detail"]

# CJ order statuses that mean the order will not ship.
CJ_CANCELLED_STATUSES = frozenset({"CANCELLED", "CANCELED", "TRASH", "CLOSED"})


def parse_cj_message(
    body: bytes, *, tz: tzinfo
) -> SupplierEvent | IgnoredSupplierMessage:
    """Parse one CJ webhook message.

    Parameters
    ----------
    body
        The raw request body.
    tz
        The CJ account's time zone (CJ dates carry none).

    Raises
    ------
    PayloadError
        If the envelope or the params of a supported type are malformed.
    """
    envelope = load_json_object(body, what="CJ message")
    message_id = envelope.req_id_text("messageId")
    message_type = envelope.req_str("type").strip().upper()
    dedup_key = f"cj:{message_id}"
    parser = _MESSAGE_PARSERS.get(message_type)
    if parser is None:
        return IgnoredSupplierMessage(
            supplier=Supplier.CJ, message_type=message_type, dedup_key=dedup_key
        )
    return parser(envelope.req_obj("params"), dedup_key, tz)


def parse_cj_order_detail(
    response: bytes | str | Mapping[str, object], *, tz: tzinfo
) -> SupplierOrderState:
    """Parse CJ's ``shopping/order/getOrderDetail`` response.

    Accepts the raw body or the parsed envelope ``{code, result, message, data}``.
    A ``trackNumber`` holding several comma-separated numbers yields one package
    each (defensive: CJ does not document the format for multi-parcel orders).

    Raises
    ------
    RemoteRejected
        If the envelope reports a failure (``code`` other than 200 or
        ``result: false``); the message is CJ's.
    PayloadError
        If the response is malformed.
    """
    envelope = _as_object(response)
    code = envelope.raw("code")
    if code not in (None, 200, "200") or envelope.raw("result") is False:
        raise RemoteRejected(f"CJ order detail failed: {envelope.raw('message')!r}")
    data = envelope.req_obj("data")
    status = data.opt_str("orderStatus")
    carrier = data.opt_str("logisticName")
    url = data.opt_str("trackingUrl")
    numbers = [n for n in (data.opt_str("trackNumber") or "").split(",") if n.strip()]
    return SupplierOrderState(
        supplier=Supplier.CJ,
        supplier_order_id=data.opt_id_text("cjOrderId") or data.req_id_text("orderId"),
        shopify_reference=data.opt_id_text("orderNumber")
        or data.opt_id_text("orderNum"),
        status=status,
        logistics_status=None,
        cancelled=(status or "").upper() in CJ_CANCELLED_STATUSES,
        created_at=data.opt_local_timestamp("createDate", tz=tz),
        items=tuple(_product(item) for item in data.objs("productList")),
        packages=tuple(
            _package(number, carrier=carrier, url=url, field=data.field("trackNumber"))
            for number in numbers
        ),
    )


def _parse_order(params: JsonObject, dedup_key: str, tz: tzinfo) -> SupplierEvent:
    status = params.opt_str("orderStatus")
    number = params.opt_str("trackNumber")
    packages: tuple[ShippedPackage, ...] = ()
    if number and number.strip():
        kind = SupplierEventKind.ORDER_SHIPPED
        packages = (
            _package(
                number,
                carrier=params.opt_str("logisticName"),
                url=params.opt_str("trackingUrl"),
                field=params.field("trackNumber"),
            ),
        )
    elif (status or "").upper() in CJ_CANCELLED_STATUSES:
        kind = SupplierEventKind.ORDER_CANCELLED
    else:
        kind = SupplierEventKind.ORDER_PLACED
    return SupplierEvent(
        supplier=Supplier.CJ,
        kind=kind,
        dedup_key=dedup_key,
        supplier_order_id=params.req_id_text("cjOrderId"),
        shopify_reference=params.opt_id_text("orderNumber")
        or params.opt_id_text("orderNum"),
        occurred_at=_first_time(
            params,
            ("updateDate", "completeDate", "deliveryDate", "payDate", "createDate"),
            tz,
        ),
        supplier_status=status,
        packages=packages,
        split_into=(),
        reason=None,
    )


def _parse_logistic(params: JsonObject, dedup_key: str, tz: tzinfo) -> SupplierEvent:
    events = _track_events(params, tz)
    code = params.opt_int("trackingStatus")
    status = tracking_status_from_cj(code) if code is not None else None
    package = ShippedPackage(
        tracking=make_tracking_number(
            params.req_str("trackingNumber"), field=params.field("trackingNumber")
        ),
        carrier=params.opt_str("logisticName"),
        tracking_url=params.opt_str("trackingUrl"),
        items=(),
        status=status,
        events=events,
    )
    store_numbers = params.strs("storeOrderNumbers")
    return SupplierEvent(
        supplier=Supplier.CJ,
        kind=SupplierEventKind.TRACKING_UPDATED,
        dedup_key=dedup_key,
        supplier_order_id=params.req_id_text("orderId"),
        shopify_reference=store_numbers[0] if store_numbers else None,
        occurred_at=max((event.occurred_at for event in events), default=None),
        supplier_status=str(code) if code is not None else None,
        packages=(package,),
        split_into=(),
        reason=None,
    )


def _parse_split(params: JsonObject, dedup_key: str, tz: tzinfo) -> SupplierEvent:
    parts = tuple(
        SplitPart(
            supplier_order_id=part.req_id_text("orderCode"),
            status=part.opt_str("orderStatus"),
            items=tuple(_product(item) for item in part.objs("productList")),
            created_at=part.opt_local_timestamp("createAt", tz=tz),
        )
        for part in params.objs("splitOrderList", required=True)
    )
    if not parts:
        raise PayloadError(
            "is empty; a split needs at least one part",
            field=params.field("splitOrderList"),
        )
    return SupplierEvent(
        supplier=Supplier.CJ,
        kind=SupplierEventKind.ORDER_SPLIT,
        dedup_key=dedup_key,
        supplier_order_id=params.req_id_text("originalOrderId"),
        shopify_reference=None,
        occurred_at=params.opt_local_timestamp("orderSplitTime", tz=tz),
        supplier_status=None,
        packages=(),
        split_into=parts,
        reason=None,
    )


_MESSAGE_PARSERS = {
    "ORDER": _parse_order,
    "LOGISTIC": _parse_logistic,
    "ORDERSPLIT": _parse_split,
}


def _track_events(params: JsonObject, tz: tzinfo) -> tuple[TrackingEvent, ...]:
    raw = params.raw("logisticsTrackEvents")
    field = params.field("logisticsTrackEvents")
    if raw is None or raw == "":
        return ()
    decoded = load_json(raw, what=field) if isinstance(raw, str) else raw
    if not isinstance(decoded, list):
        raise PayloadError(
            "must be a JSON array (or a string encoding one)", field=field
        )
    holder = JsonObject({"events": decoded}, path=params.path)
    events = [_track_event(item, tz) for item in holder.objs("events")]
    return tuple(sorted(events, key=lambda event: event.occurred_at))


def _track_event(item: JsonObject, tz: tzinfo) -> TrackingEvent:
    code = item.opt_int("status")
    description = next(
        (
            text.strip()
            for key in ("activity", "statusDesc", "thirdActivity")
            if (text := item.opt_str(key)) and text.strip()
        ),
        "",
    )
    location = (item.opt_str("location") or item.opt_str("thirdLocation") or "").strip()
    time_key = "eventTime" if item.has("eventTime") else "thirdEventTime"
    return TrackingEvent(
        occurred_at=item.req_local_timestamp(time_key, tz=tz),
        status=tracking_status_from_cj(code) if code is not None else None,
        description=description,
        location=location or None,
    )


def _product(item: JsonObject) -> PackageItem:
    return PackageItem(
        shopify_line_item_id=None,
        sku=item.opt_str("sku") or None,
        variant_id=None,
        supplier_variant_id=item.opt_id_text("vid"),
        quantity=item.req_count("quantity"),
    )


def _package(
    number: str, *, carrier: str | None, url: str | None, field: str
) -> ShippedPackage:
    return ShippedPackage(
        tracking=make_tracking_number(number, field=field),
        carrier=carrier,
        tracking_url=url or None,
        items=(),
        status=None,
        events=(),
    )


def _first_time(
    params: JsonObject, keys: tuple[str, ...], tz: tzinfo
) -> datetime | None:
    for key in keys:
        value = params.opt_local_timestamp(key, tz=tz)
        if value is not None:
            return value
    return None


def _as_object(response: bytes | str | Mapping[str, object]) -> JsonObject:
    if isinstance(response, bytes | str):
        return load_json_object(response, what="CJ response")
    return JsonObject(response, path="")
