"""Backfilling a large shop through a bulk operation instead of thousands of paged queries.

`start_bulk_orders` submits `bulkOperationRunQuery` for the orders updated in `[since, until)`
with their line items; Shopify runs it on its side (no rate limit, up to ten days) and
`bulk_operation` reports its status. When it is `COMPLETED`, `read_bulk_orders` streams the
JSONL result from `url` (valid seven days): each order's line, followed by its line items
(`__parentId`, grouped because the query asks for `groupObjects`), and yields the orders as the
same snapshots the paged reads produce, in chunks.
"""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson

from clients.shopify import ShopifyClient, ShopifyRequestError, mutation_result
from clients.shopify_documents import register
from clients.shopify_sync import order_window_query, parse_order
from core.shopify_payloads import OrderSnapshot

__all__ = [
    "BULK_OPERATION",
    "BULK_ORDERS_RUN",
    "BulkOperation",
    "BulkRefusedError",
    "bulk_operation",
    "bulk_orders_query",
    "read_bulk_orders",
    "start_bulk_orders",
]

BULK_ORDERS_RUN = register(
    "SyncBulkOrdersRun",
    """
mutation DropsyncBulkOrdersRun($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
""",
)

BULK_OPERATION = register(
    "SyncBulkOperation",
    """
query DropsyncBulkOperation($id: ID!) {
  bulkOperation(id: $id) { id status errorCode objectCount rootObjectCount url partialDataUrl }
}
""",
)

_ORDER_FIELDS = """
id name number displayFinancialStatus displayFulfillmentStatus cancelledAt closedAt createdAt
updatedAt test email phone customAttributes { key value } customer { id }
shippingAddress {
  name firstName lastName company address1 address2 city province provinceCode zip country
  countryCodeV2 phone
}
lineItems {
  edges { node {
    id sku title quantity currentQuantity unfulfilledQuantity requiresShipping variant { id }
  } }
}
"""


def bulk_orders_query(*, since: datetime, until: datetime) -> str:
    """The bulk query text: orders updated in `[since, until)`, with their line items."""
    search = order_window_query(since=since, until=until).replace('"', '\\"')
    return (
        f'{{ orders(query: "{search}", sortKey: UPDATED_AT) '
        f"{{ edges {{ node {{ {_ORDER_FIELDS} }} }} }} }}"
    )


class BulkRefusedError(ShopifyRequestError):
    """`bulkOperationRunQuery` answered with userErrors (one already running, a bad query)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkOperation:
    gid: str
    # CREATED, RUNNING, COMPLETED, FAILED, CANCELING, CANCELED or EXPIRED
    status: str
    error_code: str | None = None
    object_count: int | None = None
    root_object_count: int | None = None
    url: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in {"COMPLETED", "FAILED", "CANCELED", "EXPIRED"}


def _operation(node: Mapping[str, Any]) -> BulkOperation:
    def count(key: str) -> int | None:
        value = node.get(key)
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    return BulkOperation(
        gid=str(node.get("id")),
        status=str(node.get("status") or ""),
        error_code=node.get("errorCode"),
        object_count=count("objectCount"),
        root_object_count=count("rootObjectCount"),
        url=node.get("url"),
    )


async def start_bulk_orders(
    client: ShopifyClient, shop: str, access_token: str, *, since: datetime, until: datetime
) -> BulkOperation:
    data = await client.execute(
        shop, access_token, BULK_ORDERS_RUN, {"query": bulk_orders_query(since=since, until=until)}
    )
    result = mutation_result(data, "bulkOperationRunQuery")
    created = result.payload.get("bulkOperation")
    if result.user_errors or not isinstance(created, Mapping):
        messages = "; ".join(error.message for error in result.user_errors) or "no operation"
        msg = f"bulkOperationRunQuery: {messages}"
        raise BulkRefusedError(msg, shop=shop)
    return _operation(created)


async def bulk_operation(
    client: ShopifyClient, shop: str, access_token: str, *, gid: str
) -> BulkOperation | None:
    data = await client.execute(shop, access_token, BULK_OPERATION, {"id": gid})
    node = data.get("bulkOperation")
    return _operation(node) if isinstance(node, Mapping) else None


def _as_node(order: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {**order, "lineItems": {"nodes": lines}}


async def read_bulk_orders(
    http: httpx.AsyncClient, url: str, *, chunk: int = 250
) -> AsyncIterator[list[OrderSnapshot]]:
    """Stream a finished operation's orders, `chunk` at a time."""
    batch: list[OrderSnapshot] = []
    order: dict[str, Any] | None = None
    lines: list[dict[str, Any]] = []
    async with http.stream("GET", url) as response:
        if response.status_code != 200:
            msg = f"bulk result download answered {response.status_code}"
            raise ShopifyRequestError(msg, shop="", status_code=response.status_code)
        async for raw in response.aiter_lines():
            if not raw.strip():
                continue
            row = orjson.loads(raw)
            if not isinstance(row, dict):
                continue
            if "__parentId" in row:
                lines.append(row)
                continue
            if order is not None:
                batch.append(parse_order(_as_node(order, lines)))
            order, lines = row, []
            if len(batch) >= chunk:
                yield batch
                batch = []
    if order is not None:
        batch.append(parse_order(_as_node(order, lines)))
    if batch:
        yield batch
