"""Reading a shop's orders for backfill and polling, and managing its webhook subscriptions.

Orders are read updated-at ascending within a half-open window `[since, until)`:
`updated_at:>='since' AND updated_at:<'until'`, so consecutive windows neither skip nor repeat
an instant, and a window capped at the run's start never races an update that lands while the
run pages. Each page's orders come back as core `OrderSnapshot`s (their fulfilments are read by
`clients.shopify_fulfillment.read_order_fulfillment_state`).

Webhook subscriptions are created through `webhookSubscriptionCreate` only where the shop has
none for the topic and URI, so connecting twice creates nothing twice. Compliance topics are
never created here: Shopify only accepts them in the app's configuration.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clients.shopify import ShopifyClient, ShopifyRequestError, mutation_result
from clients.shopify_documents import register
from core.ids import (
    CustomerId,
    LineItemId,
    OrderId,
    VariantId,
    parse_gid_id,
)
from core.shopify_payloads import LineItemSnapshot, OrderPii, OrderSnapshot, PostalAddress

__all__ = [
    "ORDERS_COUNT",
    "ORDERS_PAGE",
    "SYNC_TOPICS",
    "WEBHOOK_SUBSCRIPTIONS",
    "WEBHOOK_SUBSCRIPTION_CREATE",
    "OrdersPage",
    "Subscription",
    "count_orders",
    "create_subscription",
    "ensure_subscriptions",
    "list_subscriptions",
    "order_window_query",
    "parse_order",
    "read_orders_page",
]

# Every topic dropsync applies, as GraphQL enum values; compliance topics are not here on
# purpose (they live in shopify.app.toml).
SYNC_TOPICS: tuple[str, ...] = (
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_CANCELLED",
    "FULFILLMENTS_CREATE",
    "FULFILLMENTS_UPDATE",
    "FULFILLMENT_ORDERS_ORDER_ROUTING_COMPLETE",
    "FULFILLMENT_ORDERS_PLACED_ON_HOLD",
    "FULFILLMENT_ORDERS_HOLD_RELEASED",
    "FULFILLMENT_ORDERS_CANCELLED",
    "APP_UNINSTALLED",
)

ORDERS_PAGE = register(
    "SyncOrdersPage",
    """
query DropsyncSyncOrdersPage($query: String!, $after: String) {
  orders(first: 10, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      name
      number
      displayFinancialStatus
      displayFulfillmentStatus
      cancelledAt
      closedAt
      createdAt
      updatedAt
      test
      email
      phone
      customAttributes { key value }
      customer { id }
      shippingAddress {
        name firstName lastName company address1 address2 city province provinceCode
        zip country countryCodeV2 phone
      }
      lineItems(first: 30) {
        pageInfo { hasNextPage }
        nodes {
          id sku title quantity currentQuantity unfulfilledQuantity requiresShipping
          variant { id }
        }
      }
    }
  }
}
""",
)

ORDERS_COUNT = register(
    "SyncOrdersCount",
    """
query DropsyncSyncOrdersCount($query: String!) {
  ordersCount(query: $query, limit: null) { count }
}
""",
)

WEBHOOK_SUBSCRIPTIONS = register(
    "SyncWebhookSubscriptions",
    """
query DropsyncWebhookSubscriptions($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id topic uri }
  }
}
""",
)

WEBHOOK_SUBSCRIPTION_CREATE = register(
    "SyncWebhookSubscriptionCreate",
    """
mutation DropsyncWebhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    userErrors { field message }
    webhookSubscription { id topic uri }
  }
}
""",
)

_MAX_SUBSCRIPTION_PAGES = 20


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_window_query(*, since: datetime, until: datetime) -> str:
    """Shopify search syntax for orders updated in `[since, until)`."""
    return f"updated_at:>='{_iso(since)}' AND updated_at:<'{_iso(until)}'"


def _datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _required_datetime(value: object, *, field: str) -> datetime:
    found = _datetime(value)
    if found is None:
        msg = f"order field {field} is missing"
        raise ShopifyRequestError(msg, shop="")
    return found


def _optional_id(node: object, resource: str) -> int | None:
    if not isinstance(node, Mapping) or node.get("id") is None:
        return None
    return parse_gid_id(node["id"], expected=resource)


_FULFILLMENT_STATUS = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "UNFULFILLED": None,
    "RESTOCKED": "restocked",
}


def _fulfillment_status(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return _FULFILLMENT_STATUS.get(value, value.lower())


def _address(node: object) -> PostalAddress | None:
    if not isinstance(node, Mapping):
        return None

    def text(key: str) -> str | None:
        found = node.get(key)
        return str(found) if found is not None else None

    return PostalAddress(
        name=text("name"),
        first_name=text("firstName"),
        last_name=text("lastName"),
        company=text("company"),
        address1=text("address1"),
        address2=text("address2"),
        city=text("city"),
        province=text("province"),
        province_code=text("provinceCode"),
        zip=text("zip"),
        country=text("country"),
        country_code=text("countryCodeV2"),
        phone=text("phone"),
    )


def _line_item(node: Mapping[str, Any]) -> LineItemSnapshot:
    variant = _optional_id(node.get("variant"), "ProductVariant")
    unfulfilled = int(node.get("unfulfilledQuantity") or 0)
    current = node.get("currentQuantity")
    return LineItemSnapshot(
        line_item_id=LineItemId(parse_gid_id(node.get("id"), expected="LineItem")),
        sku=node.get("sku") or None,
        variant_id=VariantId(variant) if variant is not None else None,
        product_id=None,
        title=str(node.get("title") or ""),
        quantity=int(node.get("quantity") or 0),
        current_quantity=int(current) if isinstance(current, int) else None,
        fulfillable_quantity=unfulfilled,
        fulfillment_status=None if unfulfilled else "fulfilled",
        requires_shipping=bool(node.get("requiresShipping", True)),
    )


def parse_order(node: Mapping[str, Any]) -> OrderSnapshot:
    """An `Order` node of `ORDERS_PAGE` as the snapshot webhooks produce (no fulfilments)."""
    customer = _optional_id(node.get("customer"), "Customer")
    lines = node.get("lineItems")
    line_nodes = lines.get("nodes") if isinstance(lines, Mapping) else None
    financial = node.get("displayFinancialStatus")
    return OrderSnapshot(
        order_id=OrderId(parse_gid_id(node.get("id"), expected="Order", field="order.id")),
        name=str(node.get("name") or ""),
        order_number=int(node.get("number") or 0),
        financial_status=financial.lower() if isinstance(financial, str) else None,
        fulfillment_status=_fulfillment_status(node.get("displayFulfillmentStatus")),
        cancelled_at=_datetime(node.get("cancelledAt")),
        closed_at=_datetime(node.get("closedAt")),
        created_at=_required_datetime(node.get("createdAt"), field="createdAt"),
        updated_at=_required_datetime(node.get("updatedAt"), field="updatedAt"),
        note_attributes=tuple(
            (str(entry.get("key") or ""), str(entry.get("value") or ""))
            for entry in node.get("customAttributes") or []
            if isinstance(entry, Mapping)
        ),
        test=bool(node.get("test")),
        line_items=tuple(
            _line_item(item) for item in line_nodes or [] if isinstance(item, Mapping)
        ),
        fulfillments=(),
        pii=OrderPii(
            email=node.get("email"),
            contact_email=node.get("email"),
            phone=node.get("phone"),
            customer_id=CustomerId(customer) if customer is not None else None,
            customer_email=None,
            shipping_address=_address(node.get("shippingAddress")),
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrdersPage:
    orders: tuple[OrderSnapshot, ...]
    end_cursor: str | None
    has_next_page: bool


async def read_orders_page(
    client: ShopifyClient, shop: str, access_token: str, *, query: str, after: str | None
) -> OrdersPage:
    data = await client.execute(shop, access_token, ORDERS_PAGE, {"query": query, "after": after})
    connection = data.get("orders")
    if not isinstance(connection, Mapping):
        msg = "orders query answered without orders"
        raise ShopifyRequestError(msg, shop=shop)
    info = connection.get("pageInfo") or {}
    nodes: Sequence[Any] = connection.get("nodes") or []
    return OrdersPage(
        orders=tuple(parse_order(node) for node in nodes if isinstance(node, Mapping)),
        end_cursor=info.get("endCursor"),
        has_next_page=bool(info.get("hasNextPage")),
    )


async def count_orders(
    client: ShopifyClient, shop: str, access_token: str, *, query: str
) -> int | None:
    data = await client.execute(shop, access_token, ORDERS_COUNT, {"query": query})
    found = data.get("ordersCount")
    if isinstance(found, Mapping) and isinstance(found.get("count"), int):
        return int(found["count"])
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    gid: str
    topic: str
    uri: str


async def list_subscriptions(
    client: ShopifyClient, shop: str, access_token: str
) -> list[Subscription]:
    found: list[Subscription] = []
    after: str | None = None
    for _ in range(_MAX_SUBSCRIPTION_PAGES):
        data = await client.execute(shop, access_token, WEBHOOK_SUBSCRIPTIONS, {"after": after})
        connection = data.get("webhookSubscriptions") or {}
        for node in connection.get("nodes") or []:
            if isinstance(node, Mapping):
                found.append(
                    Subscription(
                        gid=str(node.get("id")),
                        topic=str(node.get("topic")),
                        uri=str(node.get("uri")),
                    )
                )
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            break
        after = info.get("endCursor")
    return found


class SubscriptionRefusedError(ShopifyRequestError):
    """`webhookSubscriptionCreate` answered with userErrors."""


async def create_subscription(
    client: ShopifyClient, shop: str, access_token: str, *, topic: str, uri: str
) -> Subscription:
    data = await client.execute(
        shop,
        access_token,
        WEBHOOK_SUBSCRIPTION_CREATE,
        {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}},
    )
    result = mutation_result(data, "webhookSubscriptionCreate")
    created = result.payload.get("webhookSubscription")
    if result.user_errors or not isinstance(created, Mapping):
        messages = "; ".join(error.message for error in result.user_errors) or "no subscription"
        msg = f"webhookSubscriptionCreate {topic}: {messages}"
        raise SubscriptionRefusedError(msg, shop=shop)
    return Subscription(gid=str(created.get("id")), topic=topic, uri=uri)


async def ensure_subscriptions(
    client: ShopifyClient,
    shop: str,
    access_token: str,
    *,
    uri: str,
    topics: Sequence[str] = SYNC_TOPICS,
) -> tuple[list[Subscription], list[str]]:
    """Every topic subscribed at `uri`: (the subscriptions, the topics created just now)."""
    existing = {
        sub.topic: sub
        for sub in await list_subscriptions(client, shop, access_token)
        if sub.uri == uri
    }
    created: list[str] = []
    for topic in topics:
        if topic in existing:
            continue
        existing[topic] = await create_subscription(
            client, shop, access_token, topic=topic, uri=uri
        )
        created.append(topic)
    return [existing[topic] for topic in topics], created
