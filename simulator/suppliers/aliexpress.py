"""AliExpress Open Platform (dropshipping) wire formats.

Covers the request signature (HMAC-SHA256 over the name-sorted parameters
concatenated as ``name+value``, uppercase hex), the ``/sync`` gateway's success
and ``error_response`` envelopes, ``aliexpress.trade.ds.order.get`` and
``aliexpress.ds.order.tracking.get`` result bodies, and the message push with
``message_type`` 53 (DROPSHIPPER_ORDER_STATUS_UPDATE), which only names the
order and its new status.

Without ``simplify=true`` the live gateway wraps lists in an object keyed by the
element type (``{"aeop_order_logistics_info": [...]}``) and sends a one-element
list as a bare object; both quirks are reproduced (the second is a knob).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from simulator.suppliers.model import (
    CjTrackingStatus,
    OrderStatus,
    Package,
    SupplierOrder,
)

__all__ = [
    "AE_DATE_FORMAT",
    "DEFAULT_LOGISTICS_SERVICE",
    "MESSAGE_TYPE_ORDER_STATUS",
    "PACIFIC_TIME",
    "ListStyle",
    "carrier_display_name",
    "error_response",
    "order_get_result",
    "push_message",
    "push_status",
    "response_key",
    "sign",
    "success_response",
    "tracking_get_result",
    "tracking_not_found",
    "tracking_url",
]

AE_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
PACIFIC_TIME: tzinfo = ZoneInfo("America/Los_Angeles")
MESSAGE_TYPE_ORDER_STATUS = 53
DEFAULT_LOGISTICS_SERVICE = "CAINIAO_STANDARD"

_CARRIER_NAMES = {
    "CAINIAO_STANDARD": "AliExpress Selection Standard",
    "CAINIAO_PREMIUM": "AliExpress Premium Shipping",
    "CAINIAO_ECONOMY": "AliExpress Saver Shipping",
    "YANWEN_JYT": "Yanwen Special Line-YW",
}


def sign(params: Mapping[str, str], *, secret: str, api_path: str = "") -> str:
    """Sign request parameters the way the platform does.

    ``sign`` itself is excluded; ``api_path`` is prepended only for the
    ``/rest`` system APIs (``/auth/token/create``), never for ``/sync``.
    """
    base = api_path + "".join(
        name + value for name, value in sorted(params.items()) if name != "sign"
    )
    digest = hmac.new(secret.encode(), base.encode(), hashlib.sha256)
    return digest.hexdigest().upper()


def response_key(method: str) -> str:
    """Map ``a.b.c`` to ``a_b_c_response``, the key the gateway wraps results in."""
    return method.replace(".", "_") + "_response"


def success_response(method: str, body: Mapping[str, Any], *, request_id: str) -> Any:
    return {response_key(method): {**body, "request_id": request_id}}


def error_response(
    *,
    code: str,
    msg: str,
    request_id: str,
    sub_code: str | None = None,
    sub_msg: str | None = None,
    error_type: str = "ISV",
) -> dict[str, Any]:
    """The gateway's ``error_response`` envelope."""
    body: dict[str, Any] = {"type": error_type, "code": code, "msg": msg}
    if sub_code is not None:
        body["sub_code"] = sub_code
    if sub_msg is not None:
        body["sub_msg"] = sub_msg
    body["request_id"] = request_id
    return {"error_response": body}


class ListStyle:
    """How lists are rendered: wrapped or plain, and whether one element collapses."""

    __slots__ = ("collapse_single", "simplify")

    def __init__(self, *, simplify: bool, collapse_single: bool) -> None:
        self.simplify = simplify
        self.collapse_single = collapse_single

    def render(self, items: Sequence[Any], element: str) -> Any:
        if self.simplify:
            return list(items)
        if self.collapse_single and len(items) == 1:
            return {element: items[0]}
        return {element: list(items)}


def format_date(moment: datetime | None, *, zone: tzinfo) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(zone).strftime(AE_DATE_FORMAT)


def carrier_display_name(service: str) -> str:
    return _CARRIER_NAMES.get(service, service)


def tracking_url(tracking_number: str) -> str:
    return f"https://global.cainiao.com/newDetail.htm?mailNoList={tracking_number}"


def _statuses(order: SupplierOrder) -> tuple[str, str]:
    match order.status:
        case OrderStatus.PLACED | OrderStatus.SPLIT:
            return "WAIT_SELLER_SEND_GOODS", "WAIT_SELLER_SEND_GOODS"
        case OrderStatus.SHIPPED | OrderStatus.IN_TRANSIT:
            return "WAIT_BUYER_ACCEPT_GOODS", "SELLER_SEND_GOODS"
        case OrderStatus.DELIVERED:
            return "FINISH", "BUYER_ACCEPT_GOODS"
        case OrderStatus.CANCELLED:
            return "FINISH", "NO_LOGISTICS"


def _price(amount: float) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currency_code": "USD"}


def order_get_result(
    order: SupplierOrder,
    *,
    style: ListStyle,
    zone: tzinfo,
    store_id: int,
) -> dict[str, Any]:
    """``result`` of ``aliexpress.trade.ds.order.get``."""
    order_status, logistics_status = _statuses(order)
    children = []
    for item in order.line_items:
        child: dict[str, Any] = {
            "product_id": int(item.product_id) if item.product_id else 0,
            "product_count": item.quantity,
            "product_price": _price(float(item.unit_price)),
            "product_name": item.title or item.sku or "Product",
            "sku_attr": item.variant_id or "",
        }
        if order.status is OrderStatus.CANCELLED:
            child["end_reason"] = "CANCELED"
        children.append(child)
    total = sum(float(i.unit_price) * i.quantity for i in order.line_items) + 2.0
    result: dict[str, Any] = {
        "gmt_create": format_date(order.created_at, zone=zone),
        "order_status": order_status,
        "logistics_status": logistics_status,
        "order_amount": _price(total),
        "child_order_list": style.render(children, "aeop_child_order_info"),
        "store_info": {
            "store_id": store_id,
            "store_name": "Simulated Store",
            "store_url": f"https://www.aliexpress.com/store/{store_id}",
        },
    }
    if order.packages:
        logistics = [
            {"logistics_no": p.tracking_number, "logistics_service": p.carrier}
            for p in order.packages
        ]
        result["logistics_info_list"] = style.render(logistics, "aeop_order_logistics_info")
    return result


def tracking_not_found() -> dict[str, Any]:
    """What the gateway says for an unshipped *or* unknown order (they look alike)."""
    return {"result": {"ret": False, "msg": "TRACKING DATA NOT FOUND", "code": "1001"}}


def _node(status: CjTrackingStatus, description: str, when: datetime) -> dict[str, Any]:
    delivered = status is CjTrackingStatus.DELIVERED
    name = "Delivery update" if delivered else "Shipping update"
    return {
        "time_stamp": int(when.timestamp() * 1000),
        "tracking_name": name,
        "tracking_detail_desc": description,
    }


def _tracking_line(package: Package, *, style: ListStyle) -> dict[str, Any]:
    events = package.chronological_events()[::-1]
    nodes = [_node(e.status, e.description, e.occurred_at) for e in events]
    items = [
        {
            "item_id": item.product_id or "",
            "sku_desc": item.variant_id or item.sku or "",
            "quantity": str(item.quantity),
            "item_title": item.title or item.sku or "Product",
        }
        for item in package.line_items
    ]
    eta = package.shipped_at + timedelta(days=14)
    return {
        "mail_no": package.tracking_number,
        "carrier_name": carrier_display_name(package.carrier),
        "eta_time_stamps": int(eta.timestamp() * 1000),
        "detail_node_list": style.render(nodes, "detail_node"),
        "package_item_list": style.render(items, "package_item"),
    }


def tracking_get_result(order: SupplierOrder, *, style: ListStyle) -> dict[str, Any]:
    """Body of ``aliexpress.ds.order.tracking.get`` (before the request id)."""
    if not order.packages:
        return tracking_not_found()
    lines = [_tracking_line(p, style=style) for p in order.packages]
    return {
        "result": {
            "ret": True,
            "code": "0",
            "msg": "success",
            "data": {
                "tracking_detail_line_list": style.render(lines, "tracking_detail"),
            },
        }
    }


def push_status(order: SupplierOrder) -> str:
    """The ``orderStatus`` a push would carry for the order's current state."""
    match order.status:
        case OrderStatus.PLACED | OrderStatus.SPLIT:
            return "OrderCreated"
        case OrderStatus.SHIPPED | OrderStatus.IN_TRANSIT:
            return "OrderShipped"
        case OrderStatus.DELIVERED:
            return "OrderConfirmed"
        case OrderStatus.CANCELLED:
            return "OrderClosed"


def push_message(
    order: SupplierOrder,
    *,
    status: str,
    buyer_id: int,
    seller_id: str,
    sent_at: datetime,
) -> dict[str, Any]:
    """DROPSHIPPER_ORDER_STATUS_UPDATE: a hint naming the order, nothing more."""
    return {
        "data": {
            "buyerId": buyer_id,
            "orderId": int(order.supplier_order_id),
            "orderStatus": status,
        },
        "message_type": MESSAGE_TYPE_ORDER_STATUS,
        "seller_id": seller_id,
        "site": "ae_global",
        "timestamp": int(sent_at.timestamp()),
    }
