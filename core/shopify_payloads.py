"""Turn Shopify webhook bodies into domain snapshots.

One entry point, :func:`parse_shopify_payload`, takes the ``X-Shopify-Topic`` header and
the raw body and returns one member of :data:`ParsedPayload`:

=========================================  ============================================
Topic                                      Result
=========================================  ============================================
``orders/create|updated|paid|cancelled``,  :class:`OrderSnapshot`
``orders/fulfilled|partially_fulfilled``
``fulfillments/create|update``             :class:`FulfillmentSnapshot`
``fulfillment_orders/*``                   :class:`FulfillmentOrderHint` (re-read order)
``customers/data_request``                 :class:`CustomersDataRequest`
``customers/redact``                       :class:`CustomersRedact`
``shop/redact``                            :class:`ShopRedact`
``app/uninstalled``                        :class:`AppUninstalled`
anything else                              :class:`UnsupportedTopic` (kept, not used)
=========================================  ============================================

Bodies are REST-shaped JSON, parsed with orjson so ids stay exact; ids follow the rule
of :mod:`core.ids` (GraphQL id first, JSON floats refused). Timestamps must carry a UTC
offset and come back in UTC. A malformed body raises
:class:`~core.errors.PayloadError` naming the field and the problem. Fields the sync
does not use are ignored, so new Shopify fields never break ingestion.

Personal data (customer email, phone, id, shipping address) sits in
:class:`OrderPii`, apart from the order facts, so the database layer can store it in
its own columns and erase it on ``customers/redact`` without touching the rest.
Fulfilment webhooks also carry the destination address and email; they are not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.errors import PayloadError
from core.ids import (
    CustomerId,
    FulfillmentId,
    FulfillmentOrderId,
    LineItemId,
    LocationId,
    OrderId,
    ProductId,
    ShopId,
    VariantId,
    parse_gid_id,
    require_id,
)
from core.json_reader import JsonObject, load_json_object

__all__ = [
    "AppUninstalled",
    "CustomersDataRequest",
    "CustomersRedact",
    "FulfilledLine",
    "FulfillmentOrderHint",
    "FulfillmentOrderRef",
    "FulfillmentSnapshot",
    "LineItemSnapshot",
    "OrderPii",
    "OrderSnapshot",
    "ParsedPayload",
    "PostalAddress",
    "ShopRedact",
    "ShopifyTopic",
    "UnsupportedTopic",
    "parse_shopify_payload",
]


class ShopifyTopic(StrEnum):
    """The webhook topics dropsync applies (REST spelling, as in X-Shopify-Topic)."""

    ORDERS_CREATE = "orders/create"
    ORDERS_UPDATED = "orders/updated"
    ORDERS_PAID = "orders/paid"
    ORDERS_CANCELLED = "orders/cancelled"
    ORDERS_FULFILLED = "orders/fulfilled"
    ORDERS_PARTIALLY_FULFILLED = "orders/partially_fulfilled"
    FULFILLMENTS_CREATE = "fulfillments/create"
    FULFILLMENTS_UPDATE = "fulfillments/update"
    FULFILLMENT_ORDERS_ORDER_ROUTING_COMPLETE = (
        "fulfillment_orders/order_routing_complete"
    )
    FULFILLMENT_ORDERS_PLACED_ON_HOLD = "fulfillment_orders/placed_on_hold"
    FULFILLMENT_ORDERS_HOLD_RELEASED = "fulfillment_orders/hold_released"
    FULFILLMENT_ORDERS_CANCELLED = "fulfillment_orders/cancelled"
    FULFILLMENT_ORDERS_FULFILLMENT_REQUEST_SUBMITTED = (
        "fulfillment_orders/fulfillment_request_submitted"
    )
    CUSTOMERS_DATA_REQUEST = "customers/data_request"
    CUSTOMERS_REDACT = "customers/redact"
    SHOP_REDACT = "shop/redact"
    APP_UNINSTALLED = "app/uninstalled"


@dataclass(frozen=True, slots=True, kw_only=True)
class PostalAddress:
    """A postal address as Shopify sends it (personal data)."""

    name: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    address1: str | None
    address2: str | None
    city: str | None
    province: str | None
    province_code: str | None
    zip: str | None
    country: str | None
    country_code: str | None
    phone: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPii:
    """The personal data of an order, kept apart so it can be erased."""

    email: str | None
    contact_email: str | None
    phone: str | None
    customer_id: CustomerId | None
    customer_email: str | None
    shipping_address: PostalAddress | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineItemSnapshot:
    """One order line item."""

    line_item_id: LineItemId
    sku: str | None
    variant_id: VariantId | None
    product_id: ProductId | None
    title: str
    quantity: int
    current_quantity: int | None
    fulfillable_quantity: int
    fulfillment_status: str | None
    requires_shipping: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfilledLine:
    """A line item and the quantity a fulfilment covers of it."""

    line_item_id: LineItemId
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentSnapshot:
    """A fulfilment (from ``fulfillments/*`` or inside an order payload).

    `status` and `shipment_status` are Shopify's lower-case REST values
    (``pending``, ``open``, ``success``, ``cancelled``, ``error``, ``failure``).
    `tracking_numbers` merges ``tracking_numbers`` and the legacy ``tracking_number``.
    """

    fulfillment_id: FulfillmentId
    order_id: OrderId
    name: str | None
    status: str
    shipment_status: str | None
    tracking_company: str | None
    tracking_numbers: tuple[str, ...]
    tracking_urls: tuple[str, ...]
    line_items: tuple[FulfilledLine, ...]
    location_id: LocationId | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSnapshot:
    """The facts of an order that the sync uses, with its personal data apart."""

    order_id: OrderId
    name: str
    order_number: int
    financial_status: str | None
    fulfillment_status: str | None
    cancelled_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    note_attributes: tuple[tuple[str, str], ...]
    test: bool
    line_items: tuple[LineItemSnapshot, ...]
    fulfillments: tuple[FulfillmentSnapshot, ...]
    pii: OrderPii


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentOrderRef:
    """A fulfillment order named in a ``fulfillment_orders/*`` payload.

    `role` is the payload key it came from (``fulfillment_order``,
    ``replacement_fulfillment_order``, ``remaining_fulfillment_order``...).
    """

    fulfillment_order_id: FulfillmentOrderId
    status: str | None
    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FulfillmentOrderHint:
    """A ``fulfillment_orders/*`` delivery: it only marks an order for re-reading.

    These payloads carry little more than ids and statuses, and usually no order id;
    the consumer looks the order up by `fulfillment_order_id` (or any of `related`)
    and re-reads its fulfillment orders from Shopify.
    """

    topic: str
    fulfillment_order_id: FulfillmentOrderId
    status: str | None
    order_id: OrderId | None
    related: tuple[FulfillmentOrderRef, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomersDataRequest:
    """``customers/data_request``: report what we hold on a customer within 30 days."""

    shop_id: ShopId
    shop_domain: str
    customer_id: CustomerId | None
    customer_email: str | None
    customer_phone: str | None
    orders_requested: tuple[OrderId, ...]
    data_request_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomersRedact:
    """``customers/redact``: erase a customer's personal data within 30 days."""

    shop_id: ShopId
    shop_domain: str
    customer_id: CustomerId | None
    customer_email: str | None
    customer_phone: str | None
    orders_to_redact: tuple[OrderId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopRedact:
    """``shop/redact``: erase everything about a shop (48 h after uninstall)."""

    shop_id: ShopId
    shop_domain: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppUninstalled:
    """``app/uninstalled``: stop syncing the shop and drop its token."""

    shop_id: ShopId
    myshopify_domain: str | None
    domain: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsupportedTopic:
    """A topic dropsync stores but does not apply; the body was not parsed."""

    topic: str


ParsedPayload = (
    OrderSnapshot
    | FulfillmentSnapshot
    | FulfillmentOrderHint
    | CustomersDataRequest
    | CustomersRedact
    | ShopRedact
    | AppUninstalled
    | UnsupportedTopic
)

_ORDER_TOPICS = frozenset(
    {
        ShopifyTopic.ORDERS_CREATE,
        ShopifyTopic.ORDERS_UPDATED,
        ShopifyTopic.ORDERS_PAID,
        ShopifyTopic.ORDERS_CANCELLED,
        ShopifyTopic.ORDERS_FULFILLED,
        ShopifyTopic.ORDERS_PARTIALLY_FULFILLED,
    }
)
_FULFILLMENT_TOPICS = frozenset(
    {ShopifyTopic.FULFILLMENTS_CREATE, ShopifyTopic.FULFILLMENTS_UPDATE}
)


def parse_shopify_payload(topic: str, body: bytes) -> ParsedPayload:
    """Parse one webhook body according to its topic.

    Parameters
    ----------
    topic
        The ``X-Shopify-Topic`` header (case and outer spaces are ignored).
    body
        The raw request body, exactly as received.

    Returns
    -------
    ParsedPayload
        A snapshot, a hint, a compliance request, or :class:`UnsupportedTopic`.

    Raises
    ------
    PayloadError
        If the body of a supported topic is malformed; the message names the field.
    """
    name = topic.strip().lower()
    if name in _ORDER_TOPICS:
        return parse_order(load_json_object(body, what=f"{name} body"))
    if name in _FULFILLMENT_TOPICS:
        return parse_fulfillment(load_json_object(body, what=f"{name} body"))
    if name.startswith("fulfillment_orders/"):
        return _parse_fulfillment_order_hint(name, load_json_object(body, what=name))
    parser = _COMPLIANCE_PARSERS.get(name)
    if parser is None:
        return UnsupportedTopic(topic=name)
    return parser(load_json_object(body, what=f"{name} body"))


def parse_order(obj: JsonObject) -> OrderSnapshot:
    """Read a REST order object (the body of ``orders/*``)."""
    return OrderSnapshot(
        order_id=OrderId(obj.shopify_id("Order")),
        name=obj.req_str("name"),
        order_number=obj.req_int("order_number"),
        financial_status=obj.opt_str("financial_status"),
        fulfillment_status=obj.opt_str("fulfillment_status"),
        cancelled_at=obj.opt_timestamp("cancelled_at"),
        closed_at=obj.opt_timestamp("closed_at"),
        created_at=obj.req_timestamp("created_at"),
        updated_at=obj.req_timestamp("updated_at"),
        note_attributes=tuple(
            _note_attribute(item) for item in obj.objs("note_attributes")
        ),
        test=obj.opt_bool("test", default=False),
        line_items=tuple(
            _line_item(item) for item in obj.objs("line_items", required=True)
        ),
        fulfillments=tuple(
            parse_fulfillment(item) for item in obj.objs("fulfillments")
        ),
        pii=_order_pii(obj),
    )


def parse_fulfillment(obj: JsonObject) -> FulfillmentSnapshot:
    """Read a REST fulfillment object (``fulfillments/*`` body or order entry)."""
    numbers = obj.strs("tracking_numbers")
    if not numbers and obj.has("tracking_number"):
        numbers = (obj.req_str("tracking_number"),)
    urls = obj.strs("tracking_urls")
    if not urls and obj.has("tracking_url"):
        urls = (obj.req_str("tracking_url"),)
    return FulfillmentSnapshot(
        fulfillment_id=FulfillmentId(obj.shopify_id("Fulfillment")),
        order_id=OrderId(obj.req_ref_id("order_id")),
        name=obj.opt_str("name"),
        status=obj.req_str("status"),
        shipment_status=obj.opt_str("shipment_status"),
        tracking_company=obj.opt_str("tracking_company"),
        tracking_numbers=numbers,
        tracking_urls=urls,
        line_items=tuple(
            FulfilledLine(
                line_item_id=LineItemId(item.shopify_id("LineItem")),
                quantity=item.req_count("quantity"),
            )
            for item in obj.objs("line_items")
        ),
        location_id=_opt_location(obj),
        created_at=obj.req_timestamp("created_at"),
        updated_at=obj.req_timestamp("updated_at"),
    )


def _line_item(obj: JsonObject) -> LineItemSnapshot:
    variant = obj.opt_ref_id("variant_id")
    product = obj.opt_ref_id("product_id")
    return LineItemSnapshot(
        line_item_id=LineItemId(obj.shopify_id("LineItem")),
        sku=obj.opt_str("sku") or None,
        variant_id=VariantId(variant) if variant is not None else None,
        product_id=ProductId(product) if product is not None else None,
        title=obj.req_str("title"),
        quantity=obj.req_count("quantity"),
        current_quantity=(
            obj.req_count("current_quantity") if obj.has("current_quantity") else None
        ),
        fulfillable_quantity=obj.req_count("fulfillable_quantity"),
        fulfillment_status=obj.opt_str("fulfillment_status"),
        requires_shipping=obj.opt_bool("requires_shipping", default=True),
    )


def _note_attribute(obj: JsonObject) -> tuple[str, str]:
    return (obj.req_str("name"), obj.opt_str("value") or "")


def _order_pii(obj: JsonObject) -> OrderPii:
    customer = obj.opt_obj("customer")
    address = obj.opt_obj("shipping_address")
    return OrderPii(
        email=obj.opt_str("email") or None,
        contact_email=obj.opt_str("contact_email") or None,
        phone=obj.opt_str("phone") or None,
        customer_id=_customer_id(customer),
        customer_email=(customer.opt_str("email") or None) if customer else None,
        shipping_address=_address(address) if address else None,
    )


def _address(obj: JsonObject) -> PostalAddress:
    return PostalAddress(
        name=obj.opt_str("name"),
        first_name=obj.opt_str("first_name"),
        last_name=obj.opt_str("last_name"),
        company=obj.opt_str("company"),
        address1=obj.opt_str("address1"),
        address2=obj.opt_str("address2"),
        city=obj.opt_str("city"),
        province=obj.opt_str("province"),
        province_code=obj.opt_str("province_code"),
        zip=obj.opt_str("zip"),
        country=obj.opt_str("country"),
        country_code=obj.opt_str("country_code"),
        phone=obj.opt_str("phone"),
    )


def _opt_location(obj: JsonObject) -> LocationId | None:
    location = obj.opt_ref_id("location_id")
    return LocationId(location) if location is not None else None


# Keys whose object names the fulfillment order the event is about, best first.
_PRIMARY_FO_KEYS = ("fulfillment_order", "original_fulfillment_order")


def _parse_fulfillment_order_hint(topic: str, obj: JsonObject) -> FulfillmentOrderHint:
    found = _fulfillment_order_refs(obj)
    if not found:
        raise PayloadError(
            "names no fulfillment order (expected an object with an id under "
            "'fulfillment_order' or another '*fulfillment_order' key)"
        )
    primary, primary_obj = next(
        (pair for key in _PRIMARY_FO_KEYS for pair in found if pair[0].role == key),
        found[0],
    )
    return FulfillmentOrderHint(
        topic=topic,
        fulfillment_order_id=primary.fulfillment_order_id,
        status=primary.status,
        order_id=_hint_order_id(primary_obj) or _hint_order_id(obj),
        related=tuple(ref for ref, _ in found if ref is not primary),
    )


def _fulfillment_order_refs(
    obj: JsonObject,
) -> list[tuple[FulfillmentOrderRef, JsonObject]]:
    found: list[JsonObject] = []
    roles: list[str] = []
    for key in obj.data:
        if key.endswith("fulfillment_order") and obj.has(key):
            found.append(obj.req_obj(key))
            roles.append(key)
        elif key.endswith("fulfillment_orders"):
            items = obj.objs(key)
            found.extend(items)
            roles.extend(key for _ in items)
    return [
        (_fulfillment_order_ref(item, role=role), item)
        for item, role in zip(found, roles, strict=True)
    ]


def _fulfillment_order_ref(obj: JsonObject, *, role: str) -> FulfillmentOrderRef:
    status = obj.opt_str("status")
    return FulfillmentOrderRef(
        fulfillment_order_id=FulfillmentOrderId(obj.shopify_id("FulfillmentOrder")),
        status=status.lower() if status else None,
        role=role,
    )


def _hint_order_id(obj: JsonObject) -> OrderId | None:
    raw = obj.raw("order_id")
    if raw is None:
        return None
    field = obj.field("order_id")
    if isinstance(raw, str):
        return OrderId(parse_gid_id(raw, expected="Order", field=field))
    return OrderId(require_id(raw, field=field))


def _parse_data_request(obj: JsonObject) -> CustomersDataRequest:
    customer = obj.opt_obj("customer")
    data_request = obj.opt_obj("data_request")
    return CustomersDataRequest(
        shop_id=ShopId(obj.req_ref_id("shop_id")),
        shop_domain=obj.req_str("shop_domain"),
        customer_id=_customer_id(customer),
        customer_email=customer.opt_str("email") if customer else None,
        customer_phone=customer.opt_str("phone") if customer else None,
        orders_requested=_order_ids(obj, "orders_requested"),
        data_request_id=data_request.opt_ref_id("id") if data_request else None,
    )


def _parse_customers_redact(obj: JsonObject) -> CustomersRedact:
    customer = obj.opt_obj("customer")
    return CustomersRedact(
        shop_id=ShopId(obj.req_ref_id("shop_id")),
        shop_domain=obj.req_str("shop_domain"),
        customer_id=_customer_id(customer),
        customer_email=customer.opt_str("email") if customer else None,
        customer_phone=customer.opt_str("phone") if customer else None,
        orders_to_redact=_order_ids(obj, "orders_to_redact"),
    )


def _parse_shop_redact(obj: JsonObject) -> ShopRedact:
    return ShopRedact(
        shop_id=ShopId(obj.req_ref_id("shop_id")),
        shop_domain=obj.req_str("shop_domain"),
    )


def _parse_app_uninstalled(obj: JsonObject) -> AppUninstalled:
    return AppUninstalled(
        shop_id=ShopId(obj.shopify_id("Shop")),
        myshopify_domain=obj.opt_str("myshopify_domain"),
        domain=obj.opt_str("domain"),
    )


def _customer_id(customer: JsonObject | None) -> CustomerId | None:
    if customer is None:
        return None
    if not (customer.has("id") or customer.has("admin_graphql_api_id")):
        return None
    return CustomerId(customer.shopify_id("Customer"))


def _order_ids(obj: JsonObject, key: str) -> tuple[OrderId, ...]:
    field = obj.field(key)
    return tuple(
        OrderId(require_id(item, field=f"{field}[{index}]"))
        for index, item in enumerate(obj.opt_list(key))
    )


_COMPLIANCE_PARSERS: dict[str, Callable[[JsonObject], ParsedPayload]] = {
    ShopifyTopic.CUSTOMERS_DATA_REQUEST.value: _parse_data_request,
    ShopifyTopic.CUSTOMERS_REDACT.value: _parse_customers_redact,
    ShopifyTopic.SHOP_REDACT.value: _parse_shop_redact,
    ShopifyTopic.APP_UNINSTALLED.value: _parse_app_uninstalled,
}
