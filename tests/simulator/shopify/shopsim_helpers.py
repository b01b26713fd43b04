"""Helpers for the Shopify simulator tests: an API client, a webhook receiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SHOP = "dropsync-test.myshopify.com"
API_PATH = "/admin/api/2026-10/graphql.json"


@dataclass
class WebhookReceiver:
    """An ASGI endpoint that records webhook requests and answers a chosen status."""

    status: int = 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=self.status)

        return Starlette(routes=[Route("/hooks", hook, methods=["POST"])])


class AdminClient:
    """A minimal Admin API client over the simulator's ASGI app."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    async def post(self, body: Any, *, token: str | None = None) -> httpx.Response:
        return await self.http.post(
            API_PATH,
            json=body,
            headers={"X-Shopify-Access-Token": token or self.token},
        )

    async def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.post({"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


ORDER_FOS = """
query OrderFOs($id: ID!) {
  order(id: $id) {
    id name displayFulfillmentStatus updatedAt
    lineItems(first: 10) { nodes { id sku quantity unfulfilledQuantity } }
    fulfillmentOrders(first: 10) {
      nodes {
        id status updatedAt
        assignedLocation { name location { id } }
        supportedActions { action }
        fulfillmentHolds { id reason }
        lineItems(first: 10) {
          nodes { id totalQuantity remainingQuantity lineItem { id sku } }
        }
      }
    }
    fulfillments(first: 10) { id status trackingInfo { number company url } }
  }
}
"""

FULFILLMENT_CREATE = """
mutation fulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status name trackingInfo { number company url } }
    userErrors { field message }
  }
}
"""
