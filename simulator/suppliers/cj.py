"""CJdropshipping wire formats: webhook messages and API response bodies.

Field names follow CJ's "Webhook Mechanism" page as summarised in
shopify-facts.md section 7.3: the ``messageId/type/messageType/openId/params``
envelope, ORDER (``trackNumber``), LOGISTIC (``trackingNumber``,
``trackingStatus`` 0-14, ``logisticsTrackEvents`` as a JSON *string*) and
ORDERSPLIT. Dates are ``yyyy-MM-dd HH:mm:ss`` without a zone, rendered in a
configurable zone (China time by default).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from simulator.suppliers.model import (
    CjTrackingStatus,
    LineItem,
    OrderStatus,
    Package,
    SupplierOrder,
)

__all__ = [
    "CHINA_TIME",
    "CJ_DATE_FORMAT",
    "DEFAULT_LOGISTIC_NAME",
    "CjError",
    "envelope",
    "format_date",
    "logistic_message",
    "order_detail",
    "order_message",
    "order_status",
    "split_message",
    "track_info",
    "tracking_url",
]

CJ_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
CHINA_TIME = timezone(timedelta(hours=8), "CST")
DEFAULT_LOGISTIC_NAME = "CJPacket Ordinary"


class CjError:
    """CJ API error codes the simulator answers with (see the report: unconfirmed)."""

    INVALID_TOKEN = 1600001
    PARAM_ERROR = 1600100
    TOO_MANY_REQUESTS = 1600200
    SERVER_ERROR = 1600000


def format_date(moment: datetime | None, *, zone: tzinfo) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(zone).strftime(CJ_DATE_FORMAT)


def tracking_url(tracking_number: str) -> str:
    return f"https://t.17track.net/en#nums={tracking_number}"


def order_status(order: SupplierOrder) -> str:
    """CJ ``orderStatus`` for the simulator's lifecycle state."""
    match order.status:
        case OrderStatus.PLACED | OrderStatus.SPLIT:
            # CJ does not document what the original of a split order reports;
            # it stays "paid, waiting to ship".
            return "UNSHIPPED"
        case OrderStatus.SHIPPED | OrderStatus.IN_TRANSIT:
            return "SHIPPED"
        case OrderStatus.DELIVERED:
            return "DELIVERED"
        case OrderStatus.CANCELLED:
            return "CANCELLED"


def _message(
    *, message_id: str, kind: str, message_type: str, open_id: int, params: Any
) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "type": kind,
        "messageType": message_type,
        "openId": open_id,
        "params": params,
    }


def order_message(
    order: SupplierOrder,
    *,
    message_id: str,
    message_type: str,
    open_id: int,
    zone: tzinfo,
    newer_fields: bool = False,
) -> dict[str, Any]:
    """The ORDER webhook (``messageType`` INSERT on creation, UPDATE after).

    ``newer_fields`` adds ``trackingProvider``, which newer docs reportedly
    carry (third-party reading, unconfirmed).
    """
    package = order.packages[-1] if order.packages else None
    params = {
        "cjOrderId": order.supplier_order_id,
        "orderNumber": order.merchant_reference,
        "orderStatus": order_status(order),
        "logisticName": package.carrier if package else order.logistic_name,
        "trackNumber": package.tracking_number if package else None,
        "trackingUrl": package.tracking_url if package else None,
        "createDate": format_date(order.created_at, zone=zone),
        "updateDate": format_date(order.updated_at, zone=zone),
        "payDate": format_date(order.paid_at, zone=zone),
        "deliveryDate": format_date(order.shipped_at, zone=zone),
        "completeDate": format_date(order.delivered_at, zone=zone),
    }
    if newer_fields:
        params["trackingProvider"] = package.carrier if package else None
    return _message(
        message_id=message_id,
        kind="ORDER",
        message_type=message_type,
        open_id=open_id,
        params=params,
    )


def _track_events(package: Package, *, zone: tzinfo) -> str:
    events = package.chronological_events()[::-1]
    rows = []
    for event in events:
        when = format_date(event.occurred_at, zone=zone)
        rows.append(
            {
                "status": int(event.status),
                # CJ's documented sample carries a leading space on these two.
                "activity": " " + event.description,
                "location": " " + event.location,
                "eventTime": when,
                "statusDesc": event.status.description,
                "thirdActivity": event.description,
                "thirdLocation": event.location,
                "thirdEventTime": when,
            }
        )
    return json.dumps(rows, separators=(",", ":"))


def logistic_message(
    order: SupplierOrder,
    package: Package,
    *,
    message_id: str,
    open_id: int,
    zone: tzinfo,
    newer_fields: bool = False,
) -> dict[str, Any]:
    """The LOGISTIC webhook for one package.

    ``newer_fields`` adds ``storeOrderNumbers`` and ``trackingProvider``, which
    newer docs reportedly carry (third-party reading, unconfirmed).
    """
    params: dict[str, Any] = {
        "orderId": order.supplier_order_id,
        "logisticName": package.carrier,
        "trackingNumber": package.tracking_number,
        "trackingUrl": package.tracking_url,
        "trackingStatus": int(package.latest_status),
        "logisticsTrackEvents": _track_events(package, zone=zone),
    }
    if newer_fields:
        params["storeOrderNumbers"] = [order.merchant_reference]
        params["trackingProvider"] = package.carrier
    return _message(
        message_id=message_id,
        kind="LOGISTIC",
        message_type="UPDATE",
        open_id=open_id,
        params=params,
    )


def _product_list(items: Sequence[LineItem]) -> list[dict[str, Any]]:
    return [
        {
            "productCode": item.product_id,
            "vid": item.variant_id,
            "quantity": item.quantity,
            "sku": item.sku,
        }
        for item in items
    ]


def split_message(
    original: SupplierOrder,
    children: Sequence[SupplierOrder],
    *,
    message_id: str,
    open_id: int,
    split_at: datetime,
    zone: tzinfo,
) -> dict[str, Any]:
    """The ORDERSPLIT webhook: one CJ order became several."""
    params = {
        "originalOrderId": original.supplier_order_id,
        "orderSplitTime": format_date(split_at, zone=zone),
        "splitOrderList": [
            {
                "orderCode": child.supplier_order_id,
                "createAt": format_date(child.created_at, zone=zone),
                "orderStatus": order_status(child),
                "productList": _product_list(child.line_items),
            }
            for child in children
        ],
    }
    return _message(
        message_id=message_id,
        kind="ORDERSPLIT",
        message_type="INSERT",
        open_id=open_id,
        params=params,
    )


def envelope(
    data: Any,
    *,
    request_id: str,
    code: int = 200,
    message: str = "Success",
) -> dict[str, Any]:
    """CJ's API envelope: ``code``, ``result``, ``message``, ``data``, ``requestId``."""
    return {
        "code": code,
        "result": code == 200,
        "message": message,
        "data": data,
        "requestId": request_id,
    }


def _money(amount: float) -> float:
    return round(amount, 2)


def order_detail(order: SupplierOrder, *, zone: tzinfo, shipping_country: str) -> dict[str, Any]:
    """``data`` of ``GET /api2.0/v1/shopping/order/getOrderDetail``."""
    package = order.packages[-1] if order.packages else None
    product_amount = sum(float(i.unit_price) * i.quantity for i in order.line_items)
    postage = 2.0
    return {
        "orderId": order.supplier_order_id,
        "orderNum": order.merchant_reference,
        "cjOrderId": order.supplier_order_id,
        "shippingCountryCode": shipping_country,
        "shippingProvince": "California",
        "shippingCity": "San Jose",
        "shippingAddress": "1 Main Street",
        "shippingCustomerName": "Jane Doe",
        "shippingPhone": "+14085550100",
        "remark": "",
        "logisticName": package.carrier if package else order.logistic_name,
        "trackNumber": package.tracking_number if package else None,
        "trackingUrl": package.tracking_url if package else None,
        "orderWeight": 120 * sum(i.quantity for i in order.line_items),
        "orderAmount": _money(product_amount + postage),
        "productAmount": _money(product_amount),
        "postageAmount": _money(postage),
        "orderStatus": order_status(order),
        "createDate": format_date(order.created_at, zone=zone),
        "paymentDate": format_date(order.paid_at, zone=zone),
        "productList": [
            {
                "vid": item.variant_id,
                "sku": item.sku,
                "quantity": item.quantity,
                "sellPrice": float(item.unit_price),
            }
            for item in order.line_items
        ],
    }


def track_info(
    order: SupplierOrder, package: Package, *, zone: tzinfo, shipping_country: str
) -> dict[str, Any]:
    """One element of ``data`` from ``GET /api2.0/v1/logistic/trackInfo``."""
    delivered_at = next(
        (e.occurred_at for e in package.events if e.status is CjTrackingStatus.DELIVERED),
        None,
    )
    days = None
    if delivered_at is not None:
        days = str((delivered_at - package.shipped_at).days)
    return {
        "trackingNumber": package.tracking_number,
        "logisticName": package.carrier,
        "trackingFrom": "CN",
        "trackingTo": shipping_country,
        "deliveryDay": days,
        "deliveryTime": format_date(delivered_at, zone=zone),
        "trackingStatus": package.latest_status.description,
        "lastMileCarrier": None,
        "lastTrackNumber": None,
        "orderId": order.supplier_order_id,
    }
