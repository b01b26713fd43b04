"""Re-read orders whose fulfillment orders changed in Shopify.

`fulfillment_orders/*` webhooks (hold placed or released, split, moved, cancelled, routing
complete) only say *that* something changed; the ingest worker marks the order
`needs_refresh`. `refresh_orders(ctx, shop_id)` re-reads each marked order through the Admin
API, stores its fulfillment orders, lines and fulfilments, and clears the flag only if nothing
marked the order again meanwhile. When the shop then has packages to push (a hold released,
say) it triggers the push.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from clients.shopify import ShopifyClient, ShopifyError, ShopifyShopError, ShopifyTransientError
from clients.shopify_fulfillment import read_order_fulfillment_state
from clients.shopify_tokens import TokenRenewal, current_token
from schema.db import Pool
from schema.queries.fulfillment_orders import (
    clear_refresh_flag,
    orders_needing_refresh,
    store_order_fulfillment_state,
)
from schema.queries.push import mark_shop_needs_attention, pushable_orders
from schema.queries.shops import get_shop
from schema.secrets import SecretBox
from workers import names
from workers.context import resources
from workers.jobs.push import lock_order
from workers.shopify import shopify_client
from workers.trigger import job_id, trigger

__all__ = ["RefreshDeps", "RefreshSummary", "refresh_orders", "run_refresh_orders"]

log = structlog.get_logger()

_BATCH = 100


@dataclass(frozen=True, kw_only=True)
class RefreshDeps:
    pool: Pool
    shopify: ShopifyClient
    secrets: SecretBox
    grace: timedelta = timedelta(0)
    concurrency: int = 4
    # Shopify's OAuth endpoints, where expiring tokens are renewed before a re-read.
    oauth_url_template: str = "https://{shop}/admin/oauth/{endpoint}"
    token_renew_margin: timedelta = timedelta(hours=1)

    def tokens(self) -> TokenRenewal:
        return TokenRenewal(
            secrets=self.secrets,
            oauth_url_template=self.oauth_url_template,
            renew_margin=self.token_renew_margin,
        )


@dataclass(kw_only=True)
class RefreshSummary:
    refreshed: int = 0
    skipped: int = 0
    failed: int = 0
    more: bool = False
    has_pushable: bool = False


async def run_refresh_orders(deps: RefreshDeps, *, shop_id: int) -> RefreshSummary:
    """Re-read up to one batch of the shop's marked orders."""
    summary = RefreshSummary()
    async with deps.pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
        if shop is None or shop.status != "active" or shop.access_token_enc is None:
            return summary
        marked = await orders_needing_refresh(connection, shop_id=shop_id, limit=_BATCH)
        token = await current_token(deps.tokens(), connection, deps.shopify.http, shop_id=shop_id)
    if token is None:
        return summary
    summary.more = len(marked) == _BATCH
    semaphore = asyncio.Semaphore(deps.concurrency)
    unavailable = asyncio.Event()

    async def one(order_id: int, version: str) -> None:
        async with semaphore:
            if unavailable.is_set():
                return
            try:
                done = await _refresh_one(
                    deps, shop_id, shop.domain, token, order_id=order_id, version=version
                )
            except ShopifyShopError as error:
                unavailable.set()
                async with deps.pool.acquire() as connection:
                    await mark_shop_needs_attention(
                        connection, shop_id=shop_id, reason=f"Shopify refused: {error}"
                    )
                summary.failed += 1
                return
            except (ShopifyTransientError, ShopifyError) as error:
                log.warning("refresh.failed", shop_id=shop_id, order_id=order_id, error=str(error))
                summary.failed += 1
                return
            if done:
                summary.refreshed += 1
            else:
                summary.skipped += 1

    await asyncio.gather(*(one(order_id, version) for order_id, version in marked))
    async with deps.pool.acquire() as connection:
        summary.has_pushable = bool(
            await pushable_orders(connection, shop_id=shop_id, grace=deps.grace, limit=1)
        )
    if marked:
        log.info(
            "refresh.done",
            shop_id=shop_id,
            refreshed=summary.refreshed,
            skipped=summary.skipped,
            failed=summary.failed,
        )
    return summary


async def _refresh_one(
    deps: RefreshDeps, shop_id: int, domain: str, token: str, *, order_id: int, version: str
) -> bool:
    """Re-read and store one order; False when a push holds the order (it reads fresh)."""
    async with (
        deps.pool.acquire() as connection,
        lock_order(connection, shop_id=shop_id, order_id=order_id) as locked,
    ):
        if not locked:
            return False
        state = await read_order_fulfillment_state(deps.shopify, domain, token, order_id=order_id)
        async with connection.transaction():
            # Clear first: storing the state touches the order row and so its version.
            await clear_refresh_flag(
                connection, shop_id=shop_id, order_id=order_id, version=version
            )
            if state is not None:
                await store_order_fulfillment_state(connection, shop_id=shop_id, state=state)
        return True


async def refresh_orders(ctx: dict[str, Any], shop_id: int) -> dict[str, int]:
    """arq job: re-read the shop's marked orders, then nudge the push if there is work."""
    res = resources(ctx)
    settings = res.runtime.settings
    deps = RefreshDeps(
        pool=res.pool,
        shopify=shopify_client(ctx),
        secrets=res.runtime.secrets,
        grace=settings.push_grace_period,
        oauth_url_template=settings.shopify_oauth_url_template,
        token_renew_margin=settings.token_renew_margin,
    )
    summary = await run_refresh_orders(deps, shop_id=shop_id)
    queue = settings.queue_name
    if summary.more:
        await trigger(
            res.redis,
            names.REFRESH_ORDERS,
            shop_id,
            queue_name=queue,
            unique_id=job_id(queue, "refresh-more", shop_id),
        )
    if summary.has_pushable:
        await trigger(res.redis, names.PUSH_SHOP, shop_id, queue_name=queue)
    return {"refreshed": summary.refreshed, "failed": summary.failed}
