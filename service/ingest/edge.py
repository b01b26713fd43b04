"""Per-process state of the webhook edge, created on first use for the app's resources."""

from dataclasses import dataclass

from schema.queries.inbox import (
    NewShopifyDelivery,
    NewSupplierDelivery,
    insert_shopify_deliveries,
    insert_supplier_deliveries,
)
from service.ingest.group_commit import GroupCommitWriter
from service.ingest.nudger import ApplyNudger
from service.ingest.secret_cache import ShopSecretCache
from service.runtime import Resources
from workers import names

__all__ = ["IngestEdge", "close_ingest_edge", "ingest_edge"]


@dataclass(kw_only=True)
class IngestEdge:
    resources: Resources
    secrets: ShopSecretCache
    shopify_inbox: GroupCommitWriter[NewShopifyDelivery]
    supplier_inbox: GroupCommitWriter[NewSupplierDelivery]
    shopify_nudger: ApplyNudger
    supplier_nudger: ApplyNudger

    async def aclose(self) -> None:
        """Let in-flight commits finish and nudges go out, before the pool and Redis close."""
        await self.shopify_inbox.wait_idle()
        await self.supplier_inbox.wait_idle()
        await self.shopify_nudger.wait_idle()
        await self.supplier_nudger.wait_idle()


def _build(resources: Resources) -> IngestEdge:
    queue = resources.runtime.settings.queue_name
    shopify_nudger = ApplyNudger(resources.redis, function=names.APPLY_SHOPIFY, queue_name=queue)
    supplier_nudger = ApplyNudger(resources.redis, function=names.APPLY_SUPPLIER, queue_name=queue)
    return IngestEdge(
        resources=resources,
        secrets=ShopSecretCache(resources.pool, resources.runtime.secrets),
        shopify_inbox=GroupCommitWriter(
            resources.pool,
            insert_shopify_deliveries,
            after_commit=lambda rows: shopify_nudger.nudge(
                {row.shop_id for row in rows if row.status == "pending"}
            ),
        ),
        supplier_inbox=GroupCommitWriter(
            resources.pool,
            insert_supplier_deliveries,
            after_commit=lambda rows: supplier_nudger.nudge(
                {row.account_id for row in rows if row.status == "pending"}
            ),
        ),
        shopify_nudger=shopify_nudger,
        supplier_nudger=supplier_nudger,
    )


def ingest_edge(state: object, resources: Resources) -> IngestEdge:
    """The edge for these resources, kept on `app.state` (rebuilt if the resources changed)."""
    edge = getattr(state, "ingest_edge", None)
    if not isinstance(edge, IngestEdge) or edge.resources is not resources:
        edge = _build(resources)
        setattr(state, "ingest_edge", edge)  # noqa: B010  (Starlette's State is untyped)
    return edge


async def close_ingest_edge(state: object) -> None:
    """Called by the app's lifespan on shutdown."""
    edge = getattr(state, "ingest_edge", None)
    if isinstance(edge, IngestEdge):
        await edge.aclose()
        # ArqRedis built on an explicit ConnectionPool does not disconnect it on aclose(); do it
        # here so nudges' connections do not outlive the app (the lifespan closes Redis next).
        await edge.resources.redis.connection_pool.disconnect()
