"""A shop's sync status (backfill progress, polls, webhooks) and its push cut-over date."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from schema.queries.connect import set_shop_setting
from schema.queries.shops import get_shop
from schema.queries.sync_state import (
    get_shop_sync_state,
    list_webhook_subscriptions,
    start_backfill,
)
from service.auth import PrincipalDep
from service.connect import CUTOVER_SETTING, request_connect
from service.errors import ApiError
from service.runtime import Resources

__all__ = ["router"]

router = APIRouter(prefix="/shops", tags=["sync"])


class BackfillOut(BaseModel):
    status: str = Field(description="none, pending, running, done or failed.")
    since: datetime | None
    orders_read: int
    orders_total: int | None = Field(description="Shopify's count of orders in the window.")
    started_at: datetime | None
    finished_at: datetime | None


class SyncOut(BaseModel):
    shop_id: int
    shop_status: str
    attention_reason: str | None
    push_shipped_since: datetime | None = Field(
        description="Packages shipped before this are reported, not pushed."
    )
    backfill: BackfillOut
    orders_watermark: datetime | None
    last_poll_started_at: datetime | None
    last_poll_ok_at: datetime | None
    last_full_pass_at: datetime | None
    poll_failures: int
    last_error: str | None
    webhooks_checked_at: datetime | None
    webhook_topics: list[str]


def _cutover(settings: dict[str, object]) -> datetime | None:
    raw = settings.get(CUTOVER_SETTING)
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


@router.get("/{shop_id}/sync", summary="Backfill progress, polling and webhook status")
async def read_sync(shop_id: int, request: Request, principal: PrincipalDep) -> SyncOut:
    principal.require_shop(shop_id)
    resources: Resources = request.app.state.resources
    async with resources.pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
        if shop is None:
            raise ApiError(404, "shop_not_found", f"no shop with id {shop_id}")
        state = await get_shop_sync_state(connection, shop_id)
        subscriptions = await list_webhook_subscriptions(connection, shop_id)
    return SyncOut(
        shop_id=shop_id,
        shop_status=shop.status,
        attention_reason=shop.attention_reason,
        push_shipped_since=_cutover(shop.settings),
        backfill=BackfillOut(
            status=state.backfill_status if state else "none",
            since=state.backfill_since if state else None,
            orders_read=state.backfill_orders if state else 0,
            orders_total=state.backfill_total if state else None,
            started_at=state.backfill_started_at if state else None,
            finished_at=state.backfill_finished_at if state else None,
        ),
        orders_watermark=state.orders_watermark if state else None,
        last_poll_started_at=state.last_poll_started_at if state else None,
        last_poll_ok_at=state.last_poll_ok_at if state else None,
        last_full_pass_at=state.last_full_pass_at if state else None,
        poll_failures=state.poll_failures if state else 0,
        last_error=state.last_error if state else None,
        webhooks_checked_at=state.webhooks_checked_at if state else None,
        webhook_topics=[subscription.topic for subscription in subscriptions],
    )


class BackfillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=60, ge=1, le=3650, description="Orders updated in the last N days.")


@router.post("/{shop_id}/sync/backfill", status_code=202, summary="Start a new backfill")
async def request_backfill(
    shop_id: int, body: BackfillIn, request: Request, principal: PrincipalDep
) -> SyncOut:
    principal.require_shop(shop_id)
    principal.require_write()
    resources: Resources = request.app.state.resources
    async with resources.pool.acquire() as connection:
        if await get_shop(connection, shop_id) is None:
            raise ApiError(404, "shop_not_found", f"no shop with id {shop_id}")
        await start_backfill(
            connection, shop_id=shop_id, since=datetime.now(UTC) - timedelta(days=body.days)
        )
    queue = resources.runtime.settings.queue_name
    await request_connect(resources.redis, queue_name=queue, shop_id=shop_id)
    return await read_sync(shop_id, request, principal)


class CutoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    push_shipped_since: datetime = Field(
        description="Push packages shipped at or after this instant (time zone required)."
    )


@router.put("/{shop_id}/cutover", summary="Opt in to pushing packages shipped since a date")
async def set_cutover(
    shop_id: int, body: CutoverIn, request: Request, principal: PrincipalDep
) -> SyncOut:
    principal.require_shop(shop_id)
    principal.require_write()
    if body.push_shipped_since.tzinfo is None:
        raise ApiError(422, "invalid_request", "push_shipped_since needs a time zone")
    resources: Resources = request.app.state.resources
    async with resources.pool.acquire() as connection:
        updated = await set_shop_setting(
            connection,
            shop_id=shop_id,
            key=CUTOVER_SETTING,
            value=body.push_shipped_since.astimezone(UTC).isoformat(),
        )
    if not updated:
        raise ApiError(404, "shop_not_found", f"no shop with id {shop_id}")
    return await read_sync(shop_id, request, principal)
