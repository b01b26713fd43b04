"""The worker process's Shopify client: one per process, so its per-shop cost limiter sees
every call the process makes to a shop."""

from typing import Any

from clients.shopify import ShopifyClient
from workers.context import resources

__all__ = ["shopify_client"]


def shopify_client(ctx: dict[str, Any]) -> ShopifyClient:
    """The process's client, built on first use from the shared httpx client and settings."""
    found = ctx.get("shopify")
    if isinstance(found, ShopifyClient):
        return found
    res = resources(ctx)
    settings = res.runtime.settings
    client = ShopifyClient(
        http=res.http,
        url_template=settings.shopify_graphql_url_template,
        api_version=settings.shopify_api_version,
    )
    ctx["shopify"] = client
    return client
