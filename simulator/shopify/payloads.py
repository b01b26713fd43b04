"""REST-style webhook payloads, shaped like Shopify's documented examples.

Key sets and order follow the `orders/create`, `fulfillments/create` and
`fulfillment_orders/*` samples of the 2026-01 docs. Numeric ids are full 64-bit
integers; `admin_graphql_api_id` carries the same id as a GraphQL global id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulator.shopify.ids import gid
from simulator.shopify.model import (
    Fulfillment,
    FulfillmentHold,
    FulfillmentOrder,
    LineItem,
    Order,
    Shop,
)
from simulator.shopify.timefmt import rest_datetime

__all__ = [
    "app_uninstalled_payload",
    "fulfillment_order_brief",
    "fulfillment_payload",
    "hold_payload",
    "order_payload",
    "placed_on_hold_payload",
]


def _money(amount: Decimal | str, currency: str) -> dict[str, Any]:
    text = f"{Decimal(amount):.2f}"
    money = {"amount": text, "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def fulfilled_quantities(shop: Shop, order: Order) -> dict[int, int]:
    """Return units fulfilled per line item id, counting successful fulfillments."""
    fulfilled: dict[int, int] = {}
    for fulfillment_id in order.fulfillment_ids:
        fulfillment = shop.fulfillments[fulfillment_id]
        if fulfillment.status != "SUCCESS":
            continue
        for item in fulfillment.line_items:
            fulfilled[item.line_item_id] = (
                fulfilled.get(item.line_item_id, 0) + item.quantity
            )
    return fulfilled


def rest_fulfillment_status(shop: Shop, order: Order) -> str | None:
    """Return the REST `fulfillment_status`: null, `partial` or `fulfilled`."""
    fulfilled = fulfilled_quantities(shop, order)
    done = sum(fulfilled.values())
    wanted = sum(item.current_quantity for item in order.line_items)
    if done == 0:
        return None
    return "fulfilled" if done >= wanted else "partial"


def _line_item(
    item: LineItem, currency: str, fulfilled: int, *, for_order: bool
) -> dict[str, Any]:
    remaining = max(item.current_quantity - fulfilled, 0)
    status = None
    if fulfilled:
        status = "fulfilled" if remaining == 0 else "partial"
    zero = _money("0", currency)
    body: dict[str, Any] = {
        "id": item.id,
        "admin_graphql_api_id": gid("LineItem", item.id),
        "attributed_staffs": [],
        "current_quantity": item.current_quantity,
        "fulfillable_quantity": remaining,
        "fulfillment_service": "manual",
        "fulfillment_status": status,
        "gift_card": False,
        "grams": 0,
        "name": item.title,
        "price": f"{Decimal(item.price):.2f}",
        "price_set": _money(item.price, currency),
        "product_exists": item.product_id is not None,
        "product_id": item.product_id,
        "properties": [],
        "quantity": item.quantity,
        "requires_shipping": item.requires_shipping,
        "sales_line_item_group_id": None,
        "sku": item.sku,
        "taxable": True,
        "title": item.title,
        "total_discount": "0.00",
        "total_discount_set": zero,
        "variant_id": item.variant_id,
        "variant_inventory_management": None,
        "variant_title": None,
        "vendor": None,
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }
    if not for_order:
        for key in ("attributed_staffs", "sales_line_item_group_id"):
            del body[key]
    return body


def _customer(order: Order) -> dict[str, Any] | None:
    if order.customer is None:
        return None
    customer = order.customer
    return {
        "id": customer.get("id"),
        "created_at": None,
        "updated_at": None,
        "first_name": customer.get("first_name"),
        "last_name": customer.get("last_name"),
        "state": "disabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "email": customer.get("email"),
        "phone": customer.get("phone"),
        "currency": order.currency,
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", int(customer.get("id") or 0)),
        "default_address": customer.get("default_address"),
    }


def order_payload(shop: Shop, order: Order) -> dict[str, Any]:
    """Return the `orders/*` webhook body for an order, in its current state."""
    tz = shop.timezone
    currency = order.currency
    total = sum(
        (Decimal(item.price) * item.current_quantity for item in order.line_items),
        Decimal(0),
    )
    zero = _money("0", currency)
    fulfilled = fulfilled_quantities(shop, order)
    money_total = f"{total:.2f}"
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "app_id": None,
        "browser_ip": None,
        "buyer_accepts_marketing": False,
        "cancel_reason": order.cancel_reason.lower() if order.cancel_reason else None,
        "cancelled_at": rest_datetime(order.cancelled_at, tz),
        "cart_token": None,
        "checkout_id": None,
        "checkout_token": None,
        "client_details": None,
        "closed_at": rest_datetime(order.closed_at, tz),
        "confirmation_number": None,
        "confirmed": True,
        "contact_email": order.email,
        "created_at": rest_datetime(order.created_at, tz),
        "currency": currency,
        "current_shipping_price_set": zero,
        "current_subtotal_price": money_total,
        "current_subtotal_price_set": _money(total, currency),
        "current_total_additional_fees_set": None,
        "current_total_discounts": "0.00",
        "current_total_discounts_set": zero,
        "current_total_duties_set": None,
        "current_total_price": money_total,
        "current_total_price_set": _money(total, currency),
        "current_total_tax": "0.00",
        "current_total_tax_set": zero,
        "customer_locale": "en",
        "device_id": None,
        "discount_codes": [],
        "duties_included": False,
        "email": order.email,
        "estimated_taxes": False,
        "financial_status": order.financial_status,
        "fulfillment_status": rest_fulfillment_status(shop, order),
        "landing_site": None,
        "landing_site_ref": None,
        "location_id": None,
        "merchant_business_entity_id": None,
        "merchant_of_record_app_id": None,
        "name": order.name,
        "note": order.note,
        "note_attributes": [
            {"name": key, "value": value} for key, value in order.custom_attributes
        ],
        "number": order.number - 1000,
        "order_number": order.number,
        "order_status_url": f"https://{shop.domain}/{shop.id}/orders/{order.id}/authenticate",
        "original_total_additional_fees_set": None,
        "original_total_duties_set": None,
        "payment_gateway_names": ["bogus"],
        "phone": order.phone,
        "po_number": None,
        "presentment_currency": currency,
        "processed_at": rest_datetime(order.created_at, tz),
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": "web",
        "source_url": None,
        "subtotal_price": money_total,
        "subtotal_price_set": _money(total, currency),
        "tags": ", ".join(order.tags),
        "tax_exempt": False,
        "tax_lines": [],
        "taxes_included": False,
        "test": order.test,
        "token": f"{order.id:x}",
        "total_cash_rounding_payment_adjustment_set": zero,
        "total_cash_rounding_refund_adjustment_set": zero,
        "total_discounts": "0.00",
        "total_discounts_set": zero,
        "total_line_items_price": money_total,
        "total_line_items_price_set": _money(total, currency),
        "total_outstanding": "0.00"
        if order.financial_status == "paid"
        else money_total,
        "total_price": money_total,
        "total_price_set": _money(total, currency),
        "total_shipping_price_set": zero,
        "total_tax": "0.00",
        "total_tax_set": zero,
        "total_tip_received": "0.00",
        "total_weight": 0,
        "updated_at": rest_datetime(order.updated_at, tz),
        "user_id": None,
        "billing_address": order.shipping_address,
        "customer": _customer(order),
        "discount_applications": [],
        "fulfillments": [
            fulfillment_payload(shop, shop.fulfillments[fulfillment_id])
            for fulfillment_id in order.fulfillment_ids
        ],
        "line_items": [
            _line_item(item, currency, fulfilled.get(item.id, 0), for_order=True)
            for item in order.line_items
        ],
        "payment_terms": None,
        "refunds": [],
        "shipping_address": order.shipping_address,
        "shipping_lines": [],
        "returns": [],
    }


def fulfillment_payload(shop: Shop, fulfillment: Fulfillment) -> dict[str, Any]:
    """Return the `fulfillments/*` webhook body for a fulfillment."""
    tz = shop.timezone
    order = shop.orders[fulfillment.order_id]
    by_line_item = {item.id: item for item in order.line_items}
    numbers = [info.number for info in fulfillment.tracking if info.number]
    urls = [info.url for info in fulfillment.tracking if info.url]
    company = fulfillment.tracking[0].company if fulfillment.tracking else None
    line_items = []
    for item in fulfillment.line_items:
        body = _line_item(
            by_line_item[item.line_item_id], order.currency, 0, for_order=False
        )
        body["quantity"] = item.quantity
        line_items.append(body)
    return {
        "id": fulfillment.id,
        "order_id": order.id,
        "status": fulfillment.status.lower(),
        "created_at": rest_datetime(fulfillment.created_at, tz),
        "service": "manual",
        "updated_at": rest_datetime(fulfillment.updated_at, tz),
        "tracking_company": company,
        "shipment_status": None,
        "location_id": fulfillment.location_id,
        "origin_address": fulfillment.origin_address,
        "email": order.email,
        "destination": order.shipping_address,
        "line_items": line_items,
        "tracking_number": numbers[0] if numbers else None,
        "tracking_numbers": numbers,
        "tracking_url": urls[0] if urls else None,
        "tracking_urls": urls,
        "receipt": {},
        "name": fulfillment.name,
        "admin_graphql_api_id": gid("Fulfillment", fulfillment.id),
    }


def fulfillment_order_brief(fulfillment_order: FulfillmentOrder) -> dict[str, Any]:
    """Return `{id, status}` as the `fulfillment_orders/*` payloads carry it."""
    return {
        "id": gid("FulfillmentOrder", fulfillment_order.id),
        "status": fulfillment_order.status.lower(),
    }


def hold_payload(hold: FulfillmentHold) -> dict[str, Any]:
    """Return one hold as the `fulfillment_orders/placed_on_hold` payload lists it."""
    return {
        "id": gid("FulfillmentHold", hold.id),
        "reason": hold.reason.lower(),
        "reason_notes": hold.reason_notes,
        "held_by_requesting_app": True,
        "handle": hold.handle,
        "held_by_app": None,
    }


def placed_on_hold_payload(
    fulfillment_order: FulfillmentOrder,
    *,
    created_hold: FulfillmentHold,
    remaining: FulfillmentOrder | None,
) -> dict[str, Any]:
    """Return the `fulfillment_orders/placed_on_hold` webhook body."""
    brief = fulfillment_order_brief(fulfillment_order)
    brief["fulfillment_holds"] = [
        hold_payload(hold) for hold in fulfillment_order.holds
    ]
    return {
        "fulfillment_order": brief,
        "remaining_fulfillment_order": (
            fulfillment_order_brief(remaining) if remaining else None
        ),
        "held_fulfillment_order_line_items": [
            {
                "id": gid("FulfillmentOrderLineItem", item.id),
                "quantity": item.total_quantity,
            }
            for item in fulfillment_order.line_items
        ],
        "created_fulfillment_hold": hold_payload(created_hold),
    }


def app_uninstalled_payload(shop: Shop) -> dict[str, Any]:
    """Return the `app/uninstalled` body: the shop object."""
    return {
        "id": shop.id,
        "name": shop.name,
        "email": shop.email,
        "domain": shop.domain,
        "myshopify_domain": shop.domain,
        "plan_name": shop.plan.value,
        "plan_display_name": shop.plan.value.title(),
        "iana_timezone": shop.timezone,
        "created_at": rest_datetime(shop.created_at, shop.timezone),
        "admin_graphql_api_id": gid("Shop", shop.id),
    }
