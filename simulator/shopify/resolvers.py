"""GraphQL resolvers that read and change the in-memory shop.

One generic field resolver serves the whole 2026-10 schema: it looks up a resolver for
(type, field) in `RESOLVERS`, falls back to dict keys (payloads, connections), and
otherwise returns an empty value of the right shape (null, `[]`, `false`, an empty
object), so a valid query for a field the simulator does not model never crashes. Every
resolved field is metered for the actual query cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLUnionType,
)

from simulator.shopify.arguments import parse_id_argument, require_id
from simulator.shopify.behaviour import supported_actions
from simulator.shopify.context import ExecutionContext
from simulator.shopify.ids import gid
from simulator.shopify.model import (
    PLAN_DISPLAY_NAMES,
    Fulfillment,
    FulfillmentHold,
    FulfillmentLineItem,
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    FulfillmentOrderStatus,
    LineItem,
    Location,
    Order,
    Plan,
    Shop,
    WebhookSubscription,
)
from simulator.shopify.mutations import MUTATION_RESOLVERS
from simulator.shopify.pagination import connection
from simulator.shopify.payloads import fulfilled_quantities
from simulator.shopify.search import parse_order_query
from simulator.shopify.timefmt import graphql_datetime

__all__ = ["RESOLVERS", "field_resolver", "type_resolver"]

Resolver = Callable[[Any, ExecutionContext, dict[str, Any]], Any]
_MISSING = object()

_TYPE_NAMES: dict[type, str] = {
    Shop: "Shop",
    Order: "Order",
    LineItem: "LineItem",
    FulfillmentOrder: "FulfillmentOrder",
    FulfillmentOrderLineItem: "FulfillmentOrderLineItem",
    FulfillmentHold: "FulfillmentHold",
    Fulfillment: "Fulfillment",
    FulfillmentLineItem: "FulfillmentLineItem",
    Location: "Location",
    WebhookSubscription: "WebhookSubscription",
}

_SCALAR_ZERO: dict[str, Any] = {
    "Boolean": False,
    "Int": 0,
    "Float": 0.0,
    "UnsignedInt64": "0",
    "Money": "0.0",
    "Decimal": "0.0",
    "DateTime": "1970-01-01T00:00:00Z",
    "Date": "1970-01-01",
    "JSON": {},
}


def field_resolver(source: Any, info: GraphQLResolveInfo, /, **args: Any) -> Any:
    """Resolve any field of the schema (see module docstring)."""
    context: ExecutionContext = info.context
    table = RESOLVERS.get(info.parent_type.name)
    resolver = table.get(info.field_name) if table else None
    value: Any = _MISSING
    if resolver is not None:
        value = resolver(source, context, args)
    elif isinstance(source, dict):
        value = source.get(info.field_name, _MISSING)
    if value is _MISSING or not _fits_enum(info.return_type, value):
        value = zero_value(info.return_type)
    context.meter.record(info.parent_type, info.return_type, value)
    return value


def _fits_enum(type_: GraphQLOutputType, value: Any) -> bool:
    """Return False for an enum value the field's enum does not have.

    Payloads share error codes across mutations; a code another payload's enum lacks
    becomes null (or the enum's first value) rather than a serialization error.
    """
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if not isinstance(inner, GraphQLEnumType) or value is None:
        return True
    return value in inner.values


def type_resolver(
    value: Any,
    _info: GraphQLResolveInfo,
    abstract_type: GraphQLAbstractType,
) -> str | None:
    """Name the concrete type of an interface or union value."""
    if isinstance(value, dict):
        typename = value.get("__typename")
        return str(typename) if typename else None
    return _TYPE_NAMES.get(type(value), abstract_type.name)


def zero_value(type_: GraphQLOutputType) -> Any:
    """Return the empty value of a type: null if nullable, else [], false, {}, ..."""
    if not isinstance(type_, GraphQLNonNull):
        return None
    inner = type_.of_type
    if isinstance(inner, GraphQLList):
        return []
    if isinstance(inner, GraphQLEnumType):
        return next(iter(inner.values))
    if isinstance(inner, GraphQLInterfaceType | GraphQLUnionType):
        return {"__typename": _first_possible_type(inner)}
    if hasattr(inner, "fields"):
        return {}
    return _SCALAR_ZERO.get(inner.name, "")


def _first_possible_type(abstract: GraphQLInterfaceType | GraphQLUnionType) -> str:
    from simulator.shopify.schema import load_admin_schema  # noqa: PLC0415 - cycle

    return load_admin_schema().get_possible_types(abstract)[0].name


# --------------------------------------------------------------------- roots


def _find_node(shop: Shop, value: Any) -> Any:
    type_name, number = parse_id_argument(value)
    if type_name == "LineItem":
        order_id = shop.line_item_index.get(number)
        order = shop.orders.get(order_id) if order_id else None
        return next((i for i in order.line_items if i.id == number), None) if order else None
    if type_name == "FulfillmentOrderLineItem":
        fo_id = shop.fo_line_item_index.get(number)
        fo = shop.fulfillment_orders.get(fo_id) if fo_id else None
        return next((i for i in fo.line_items if i.id == number), None) if fo else None
    if type_name == "FulfillmentHold":
        fo_id = shop.hold_index.get(number)
        fo = shop.fulfillment_orders.get(fo_id) if fo_id else None
        return next((h for h in fo.holds if h.id == number), None) if fo else None
    tables: dict[str, dict[int, Any]] = {
        "Order": shop.orders,
        "FulfillmentOrder": shop.fulfillment_orders,
        "Fulfillment": shop.fulfillments,
        "Location": shop.locations,
        "WebhookSubscription": shop.subscriptions,
    }
    if type_name == "Shop":
        return shop if number == shop.id else None
    table = tables.get(type_name)
    return table.get(number) if table is not None else None


def _orders(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Any:
    shop = ctx.shop
    matches = parse_order_query(args.get("query"), timezone=shop.timezone)
    orders = [order for order in shop.orders.values() if matches(shop, order)]
    sort_key = args.get("sortKey") or "ID"
    key_functions: dict[str, Callable[[Order], tuple[Any, int]]] = {
        "UPDATED_AT": lambda o: (o.updated_at.timestamp(), o.id),
        "CREATED_AT": lambda o: (o.created_at.timestamp(), o.id),
        "PROCESSED_AT": lambda o: (o.created_at.timestamp(), o.id),
        "ORDER_NUMBER": lambda o: (o.number, o.id),
    }
    return connection(orders, args, key=key_functions.get(sort_key, lambda o: (o.id, o.id)))


def _fulfillment_orders(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Any:
    closed = {FulfillmentOrderStatus.CLOSED, FulfillmentOrderStatus.CANCELLED}
    items = [
        fo
        for fo in ctx.shop.fulfillment_orders.values()
        if args.get("includeClosed") or fo.status not in closed
    ]
    return connection(items, args, key=lambda fo: (fo.id, fo.id))


def _webhook_subscriptions(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Any:
    topics = set(args.get("topics") or [])
    uri = args.get("uri") or args.get("callbackUrl")
    items = [
        s
        for s in ctx.shop.subscriptions.values()
        if (not topics or s.topic in topics) and (not uri or s.uri == uri)
    ]
    return connection(items, args, key=lambda s: (s.id, s.id))


def _by_id(table: str, type_name: str) -> Resolver:
    def resolve(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Any:
        number = require_id(args["id"], type_name)
        return getattr(ctx.shop, table).get(number) if number else None

    return resolve


QUERY_RESOLVERS: dict[str, Resolver] = {
    "shop": lambda _r, ctx, _a: ctx.shop,
    "order": _by_id("orders", "Order"),
    "orders": _orders,
    "fulfillmentOrder": _by_id("fulfillment_orders", "FulfillmentOrder"),
    "fulfillmentOrders": _fulfillment_orders,
    "fulfillment": _by_id("fulfillments", "Fulfillment"),
    "location": lambda _r, ctx, a: (
        _by_id("locations", "Location")(_r, ctx, a)
        if a.get("id")
        else ctx.shop.locations[ctx.shop.primary_location_id]
    ),
    "locations": lambda _r, ctx, a: connection(
        list(ctx.shop.locations.values()), a, key=lambda loc: (loc.id, loc.id)
    ),
    "webhookSubscription": _by_id("subscriptions", "WebhookSubscription"),
    "webhookSubscriptions": _webhook_subscriptions,
    "node": lambda _r, ctx, a: _find_node(ctx.shop, a["id"]),
    "nodes": lambda _r, ctx, a: [_find_node(ctx.shop, i) for i in a["ids"]],
}

# --------------------------------------------------------------------- types


def _shop_plan(shop: Shop, _ctx: ExecutionContext, _args: dict[str, Any]) -> Any:
    return {
        "displayName": PLAN_DISPLAY_NAMES[shop.plan],
        "publicDisplayName": PLAN_DISPLAY_NAMES[shop.plan],
        "partnerDevelopment": False,
        "shopifyPlus": shop.plan in {Plan.PLUS, Plan.ENTERPRISE},
    }


SHOP_RESOLVERS: dict[str, Resolver] = {
    "id": lambda s, _c, _a: gid("Shop", s.id),
    "name": lambda s, _c, _a: s.name,
    "myshopifyDomain": lambda s, _c, _a: s.domain,
    "email": lambda s, _c, _a: s.email,
    "contactEmail": lambda s, _c, _a: s.email,
    "ianaTimezone": lambda s, _c, _a: s.timezone,
    "currencyCode": lambda _s, _c, _a: "USD",
    "url": lambda s, _c, _a: f"https://{s.domain}",
    "createdAt": lambda s, _c, _a: graphql_datetime(s.created_at),
    "plan": _shop_plan,
}


def _display_fulfillment_status(shop: Shop, order: Order) -> str:
    fulfilled = sum(fulfilled_quantities(shop, order).values())
    wanted = sum(item.current_quantity for item in order.line_items)
    if fulfilled and fulfilled >= wanted:
        return "FULFILLED"
    if fulfilled:
        return "PARTIALLY_FULFILLED"
    statuses = {shop.fulfillment_orders[i].status for i in order.fulfillment_order_ids}
    if FulfillmentOrderStatus.ON_HOLD in statuses:
        return "ON_HOLD"
    if FulfillmentOrderStatus.IN_PROGRESS in statuses:
        return "IN_PROGRESS"
    return "UNFULFILLED"


def _order_fulfillments(order: Order, ctx: ExecutionContext, args: dict[str, Any]) -> Any:
    items = [ctx.shop.fulfillments[i] for i in order.fulfillment_ids]
    first = args.get("first")
    return items[:first] if isinstance(first, int) else items


def _order_fulfillment_orders(order: Order, ctx: ExecutionContext, args: dict[str, Any]) -> Any:
    items = [ctx.shop.fulfillment_orders[i] for i in order.fulfillment_order_ids]
    return connection(items, args, key=lambda fo: (fo.id, fo.id))


def _customer(order: Order, _ctx: ExecutionContext, _args: dict[str, Any]) -> Any:
    customer = order.customer
    if customer is None:
        return None
    return {
        "id": gid("Customer", int(customer.get("id") or 0)),
        "firstName": customer.get("first_name"),
        "lastName": customer.get("last_name"),
        "email": customer.get("email"),
        "phone": customer.get("phone"),
        "displayName": " ".join(
            part for part in (customer.get("first_name"), customer.get("last_name")) if part
        ),
    }


def _address(order: Order, _ctx: ExecutionContext, _args: dict[str, Any]) -> Any:
    address = order.shipping_address
    if address is None:
        return None
    return {
        "__typename": "MailingAddress",
        "firstName": address.get("first_name"),
        "lastName": address.get("last_name"),
        "name": address.get("name"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "zip": address.get("zip"),
        "province": address.get("province"),
        "provinceCode": address.get("province_code"),
        "country": address.get("country"),
        "countryCodeV2": address.get("country_code"),
        "phone": address.get("phone"),
        "company": address.get("company"),
    }


ORDER_RESOLVERS: dict[str, Resolver] = {
    "id": lambda o, _c, _a: gid("Order", o.id),
    "legacyResourceId": lambda o, _c, _a: str(o.id),
    "name": lambda o, _c, _a: o.name,
    "number": lambda o, _c, _a: o.number - 1000,
    "createdAt": lambda o, _c, _a: graphql_datetime(o.created_at),
    "processedAt": lambda o, _c, _a: graphql_datetime(o.created_at),
    "updatedAt": lambda o, _c, _a: graphql_datetime(o.updated_at),
    "cancelledAt": lambda o, _c, _a: graphql_datetime(o.cancelled_at),
    "cancelReason": lambda o, _c, _a: o.cancel_reason,
    "closed": lambda o, _c, _a: o.closed_at is not None,
    "closedAt": lambda o, _c, _a: graphql_datetime(o.closed_at),
    "confirmed": lambda _o, _c, _a: True,
    "test": lambda o, _c, _a: o.test,
    "email": lambda o, _c, _a: o.email,
    "phone": lambda o, _c, _a: o.phone,
    "note": lambda o, _c, _a: o.note,
    "tags": lambda o, _c, _a: list(o.tags),
    "currencyCode": lambda o, _c, _a: o.currency,
    "displayFinancialStatus": lambda o, _c, _a: o.financial_status.upper(),
    "displayFulfillmentStatus": lambda o, c, _a: _display_fulfillment_status(c.shop, o),
    "fullyPaid": lambda o, _c, _a: o.financial_status == "paid",
    "unpaid": lambda o, _c, _a: o.financial_status in {"pending", "authorized"},
    "requiresShipping": lambda o, _c, _a: any(i.requires_shipping for i in o.line_items),
    "fulfillable": lambda o, c, _a: any(
        c.shop.fulfillment_orders[i].status
        in {FulfillmentOrderStatus.OPEN, FulfillmentOrderStatus.IN_PROGRESS}
        for i in o.fulfillment_order_ids
    ),
    "customAttributes": lambda o, _c, _a: [
        {"key": key, "value": value} for key, value in o.custom_attributes
    ],
    "customer": _customer,
    "shippingAddress": _address,
    "lineItems": lambda o, _c, a: connection(o.line_items, a, key=lambda i: (i.id, i.id)),
    "fulfillmentOrders": _order_fulfillment_orders,
    "fulfillments": _order_fulfillments,
}


def _unfulfilled(item: LineItem, ctx: ExecutionContext) -> int:
    order = ctx.shop.orders[ctx.shop.line_item_index[item.id]]
    done = fulfilled_quantities(ctx.shop, order).get(item.id, 0)
    return max(item.current_quantity - done, 0)


def _variant(item: LineItem) -> Any:
    if item.variant_id is None:
        return None
    return {
        "id": gid("ProductVariant", item.variant_id),
        "legacyResourceId": str(item.variant_id),
        "sku": item.sku,
        "title": item.title,
        "displayName": item.title,
        "price": item.price,
        "product": {"id": gid("Product", item.product_id or 0), "title": item.title},
    }


LINE_ITEM_RESOLVERS: dict[str, Resolver] = {
    "id": lambda i, _c, _a: gid("LineItem", i.id),
    "sku": lambda i, _c, _a: i.sku,
    "name": lambda i, _c, _a: i.title,
    "title": lambda i, _c, _a: i.title,
    "quantity": lambda i, _c, _a: i.quantity,
    "currentQuantity": lambda i, _c, _a: i.current_quantity,
    "unfulfilledQuantity": lambda i, c, _a: _unfulfilled(i, c),
    "fulfillableQuantity": lambda i, c, _a: _unfulfilled(i, c),
    "nonFulfillableQuantity": lambda i, c, _a: i.current_quantity - _unfulfilled(i, c),
    "requiresShipping": lambda i, _c, _a: i.requires_shipping,
    "customAttributes": lambda _i, _c, _a: [],
    "variant": lambda i, _c, _a: _variant(i),
    "product": lambda i, _c, _a: (
        {"id": gid("Product", i.product_id), "title": i.title} if i.product_id else None
    ),
}


def _line_item_of(item: FulfillmentOrderLineItem | FulfillmentLineItem, shop: Shop) -> Any:
    order = shop.orders[shop.line_item_index[item.line_item_id]]
    return next(i for i in order.line_items if i.id == item.line_item_id)


def _assigned_location(fo: FulfillmentOrder, ctx: ExecutionContext, _a: Any) -> Any:
    location = ctx.shop.locations[fo.location_id]
    return {"location": location, "name": location.name, "countryCode": "US"}


def _fo_fulfillments(fo: FulfillmentOrder, ctx: ExecutionContext, args: Any) -> Any:
    items = [ctx.shop.fulfillments[i] for i in fo.fulfillment_ids]
    return connection(items, args, key=lambda f: (f.id, f.id))


FULFILLMENT_ORDER_RESOLVERS: dict[str, Resolver] = {
    "id": lambda fo, _c, _a: gid("FulfillmentOrder", fo.id),
    "status": lambda fo, _c, _a: fo.status.value,
    "requestStatus": lambda fo, _c, _a: fo.request_status,
    "fulfillAt": lambda fo, _c, _a: graphql_datetime(fo.fulfill_at or fo.created_at),
    "createdAt": lambda fo, _c, _a: graphql_datetime(fo.created_at),
    "updatedAt": lambda fo, _c, _a: graphql_datetime(fo.updated_at),
    "assignedLocation": _assigned_location,
    "supportedActions": lambda fo, c, _a: [
        {"action": action} for action in supported_actions(c.shop, fo)
    ],
    "fulfillmentHolds": lambda fo, _c, _a: list(fo.holds),
    "lineItems": lambda fo, _c, a: connection(fo.line_items, a, key=lambda i: (i.id, i.id)),
    "order": lambda fo, c, _a: c.shop.orders[fo.order_id],
    "fulfillments": _fo_fulfillments,
}

FO_LINE_ITEM_RESOLVERS: dict[str, Resolver] = {
    "id": lambda i, _c, _a: gid("FulfillmentOrderLineItem", i.id),
    "totalQuantity": lambda i, _c, _a: i.total_quantity,
    "remainingQuantity": lambda i, _c, _a: i.remaining_quantity,
    "lineItem": lambda i, c, _a: _line_item_of(i, c.shop),
    "sku": lambda i, c, _a: _line_item_of(i, c.shop).sku,
    "requiresShipping": lambda i, c, _a: _line_item_of(i, c.shop).requires_shipping,
    "variant": lambda i, c, _a: _variant(_line_item_of(i, c.shop)),
}

HOLD_RESOLVERS: dict[str, Resolver] = {
    "id": lambda h, _c, _a: gid("FulfillmentHold", h.id),
    "reason": lambda h, _c, _a: h.reason,
    "reasonNotes": lambda h, _c, _a: h.reason_notes,
    "handle": lambda h, _c, _a: h.handle,
    "displayReason": lambda h, _c, _a: h.reason.replace("_", " ").capitalize(),
    "heldByRequestingApp": lambda _h, _c, _a: True,
}


def _tracking_info(f: Fulfillment, _ctx: ExecutionContext, args: dict[str, Any]) -> Any:
    entries = [{"number": t.number, "url": t.url, "company": t.company} for t in f.tracking]
    first = args.get("first")
    return entries[:first] if isinstance(first, int) else entries


FULFILLMENT_RESOLVERS: dict[str, Resolver] = {
    "id": lambda f, _c, _a: gid("Fulfillment", f.id),
    "legacyResourceId": lambda f, _c, _a: str(f.id),
    "name": lambda f, _c, _a: f.name,
    "status": lambda f, _c, _a: f.status,
    "displayStatus": lambda f, _c, _a: "FULFILLED" if f.status == "SUCCESS" else "CANCELED",
    "createdAt": lambda f, _c, _a: graphql_datetime(f.created_at),
    "updatedAt": lambda f, _c, _a: graphql_datetime(f.updated_at),
    "totalQuantity": lambda f, _c, _a: f.total_quantity(),
    "requiresShipping": lambda _f, _c, _a: True,
    "trackingInfo": _tracking_info,
    "fulfillmentLineItems": lambda f, _c, a: connection(
        f.line_items, a, key=lambda i: (i.id, i.id)
    ),
    "fulfillmentOrders": lambda f, c, a: connection(
        [c.shop.fulfillment_orders[i] for i in f.fulfillment_order_ids],
        a,
        key=lambda fo: (fo.id, fo.id),
    ),
    "location": lambda f, c, _a: c.shop.locations.get(f.location_id),
    "order": lambda f, c, _a: c.shop.orders[f.order_id],
    "originAddress": lambda f, _c, _a: (
        {
            "address1": f.origin_address.get("address1"),
            "address2": f.origin_address.get("address2"),
            "city": f.origin_address.get("city"),
            "zip": f.origin_address.get("zip"),
            "provinceCode": f.origin_address.get("provinceCode"),
            "countryCode": f.origin_address.get("countryCode", ""),
        }
        if f.origin_address
        else None
    ),
}

FULFILLMENT_LINE_ITEM_RESOLVERS: dict[str, Resolver] = {
    "id": lambda i, _c, _a: gid("FulfillmentLineItem", i.id),
    "quantity": lambda i, _c, _a: i.quantity,
    "lineItem": lambda i, c, _a: _line_item_of(i, c.shop),
}

LOCATION_RESOLVERS: dict[str, Resolver] = {
    "id": lambda loc, _c, _a: gid("Location", loc.id),
    "legacyResourceId": lambda loc, _c, _a: str(loc.id),
    "name": lambda loc, _c, _a: loc.name,
    "isActive": lambda _l, _c, _a: True,
    "fulfillsOnlineOrders": lambda _l, _c, _a: True,
    "shipsInventory": lambda _l, _c, _a: True,
    "createdAt": lambda loc, _c, _a: graphql_datetime(loc.created_at),
    "updatedAt": lambda loc, _c, _a: graphql_datetime(loc.created_at),
}

SUBSCRIPTION_RESOLVERS: dict[str, Resolver] = {
    "id": lambda s, _c, _a: gid("WebhookSubscription", s.id),
    "legacyResourceId": lambda s, _c, _a: str(s.id),
    "topic": lambda s, _c, _a: s.topic,
    "uri": lambda s, _c, _a: s.uri,
    "callbackUrl": lambda s, _c, _a: s.uri if s.uri.startswith("http") else None,
    "format": lambda s, _c, _a: s.format,
    "includeFields": lambda s, _c, _a: list(s.include_fields),
    "metafieldNamespaces": lambda s, _c, _a: list(s.metafield_namespaces),
    "name": lambda s, _c, _a: s.name,
    "filter": lambda s, _c, _a: s.filter,
    "createdAt": lambda s, _c, _a: graphql_datetime(s.created_at),
    "updatedAt": lambda s, _c, _a: graphql_datetime(s.updated_at),
    "apiVersion": lambda s, _c, _a: {
        "handle": s.api_version,
        "displayName": s.api_version,
        "supported": True,
    },
}

RESOLVERS: dict[str, dict[str, Resolver]] = {
    "QueryRoot": QUERY_RESOLVERS,
    "Mutation": MUTATION_RESOLVERS,
    "Shop": SHOP_RESOLVERS,
    "Order": ORDER_RESOLVERS,
    "LineItem": LINE_ITEM_RESOLVERS,
    "FulfillmentOrder": FULFILLMENT_ORDER_RESOLVERS,
    "FulfillmentOrderLineItem": FO_LINE_ITEM_RESOLVERS,
    "FulfillmentHold": HOLD_RESOLVERS,
    "Fulfillment": FULFILLMENT_RESOLVERS,
    "FulfillmentLineItem": FULFILLMENT_LINE_ITEM_RESOLVERS,
    "Location": LOCATION_RESOLVERS,
    "WebhookSubscription": SUBSCRIPTION_RESOLVERS,
}
