"""Per-process state of the webhook edge, created on first use for the app's resources."""

from dataclasses import dataclass

from schema.queries.inbox import (
    NewShopifyDelivery,
    NewSupplierDelivery,
    insert_shopify_deliveries,
    insert_supplier_deliveries,
)
from service.ingest.account_cache import SupplierAccountCache
from service.ingest.group_commit import GroupCommitWriter
from service.ingest.nudger import ApplyNudger
from service.ingest.secret_cache import ShopSecretCache
from service.runtime import Resources
from workers.names import APPLY_SHOPIFY, APPLY_SUPPLIER

__all__ = ["IngestEdge", "close_ingest_edge", "ingest_edge"]


@dataclass(kw_only=True)
class IngestEdge:
    resources: Resources
    secrets: ShopSecretCache
    accounts: SupplierAccountCache
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


# Leave a couple of pool connections for the rest of the app (secret lookups, API, health).
_POOL_RESERVE = 2
# Flushes in flight per inbox. PostgreSQL folds commits waiting on the same WAL flush into one
# fsync, so parallel flushes cost little, while a row queued behind a busy one waits a whole
# commit. Measured with `python -m bench.ingest` on 2 cores: 2 in flight gave about 2,600
# stored/s at 8 connections, 8 about 4,500 (docs/ingest.md); more would outgrow the default
# pool of 10.
_MAX_FLUSHES_IN_FLIGHT = 8


def _flushes_in_flight(pool_max: int) -> int:
    return max(1, min(_MAX_FLUSHES_IN_FLIGHT, pool_max - _POOL_RESERVE))


def _build(resources: Resources) -> IngestEdge:
    queue = resources.runtime.settings.queue_name
    in_flight = _flushes_in_flight(resources.runtime.settings.db_pool_max)
    shopify_nudger = ApplyNudger(resources.redis, function=APPLY_SHOPIFY, queue_name=queue)
    supplier_nudger = ApplyNudger(resources.redis, function=APPLY_SUPPLIER, queue_name=queue)
    return IngestEdge(
        resources=resources,
        secrets=ShopSecretCache(resources.pool, resources.runtime.secrets),
        accounts=SupplierAccountCache(resources.pool, resources.runtime.secrets),
        shopify_inbox=GroupCommitWriter(
            resources.pool,
            insert_shopify_deliveries,
            max_in_flight=in_flight,
            after_commit=lambda rows: shopify_nudger.nudge(
                {row.shop_id for row in rows if row.status == "pending"}
            ),
        ),
        supplier_inbox=GroupCommitWriter(
            resources.pool,
            insert_supplier_deliveries,
            max_in_flight=in_flight,
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
