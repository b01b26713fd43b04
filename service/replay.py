"""Replaying stored deliveries: set them back to pending and nudge their apply jobs.

Shared by `dropsync replay` and `POST /deliveries/replay`. Applying is idempotent (newer state
is never overwritten, equal state is left alone), so a replay only changes what a delivery can
still change. Deliveries whose bodies were erased (retention, customers/redact) are not replayed.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from arq.connections import ArqRedis

from schema.db import Pool
from schema.queries.inbox import requeue_shopify_deliveries, requeue_supplier_deliveries
from workers.names import APPLY_SHOPIFY, APPLY_SUPPLIER
from workers.trigger import job_id, trigger

__all__ = ["DeliverySource", "ReplayResult", "replay_deliveries"]


class DeliverySource(StrEnum):
    SHOPIFY = "shopify"
    SUPPLIER = "supplier"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult:
    shopify: dict[int, int]
    supplier: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.shopify.values()) + sum(self.supplier.values())


async def replay_deliveries(
    pool: Pool,
    redis: ArqRedis,
    *,
    queue_name: str,
    source: DeliverySource | None = None,
    shop_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    delivery_ids: Sequence[int] | None = None,
) -> ReplayResult:
    shopify: dict[int, int] = {}
    supplier: dict[int, int] = {}
    async with pool.acquire() as connection, connection.transaction():
        if source in (None, DeliverySource.SHOPIFY):
            shopify = await requeue_shopify_deliveries(
                connection, shop_id=shop_id, since=since, until=until, delivery_ids=delivery_ids
            )
        if source in (None, DeliverySource.SUPPLIER):
            supplier = await requeue_supplier_deliveries(
                connection, shop_id=shop_id, since=since, until=until, delivery_ids=delivery_ids
            )
    for function, keys in ((APPLY_SHOPIFY, shopify), (APPLY_SUPPLIER, supplier)):
        for key in keys:
            unique = job_id(queue_name, function, key, "replay", datetime.now().timestamp())
            await trigger(redis, function, key, queue_name=queue_name, unique_id=unique)
    return ReplayResult(shopify=shopify, supplier=supplier)
