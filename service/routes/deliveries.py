"""The deliveries API: list and inspect stored webhook deliveries, replay them.

`GET /deliveries?shop_id=&status=&source=` lists newest first (parked `failed` ones are the usual
reason to look); `GET /deliveries/{source}/{delivery_id}` shows one with its body; `POST
/deliveries/replay` re-applies a selection. A token sees only its shops' deliveries; supplier
deliveries not yet resolved to a shop are visible to admin tokens only.
"""

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator

from schema.queries.inbox import (
    DeliveryStatus,
    DeliverySummary,
    get_shopify_delivery,
    get_supplier_delivery,
    list_inbox_deliveries,
)
from service.auth import Principal, PrincipalDep
from service.errors import ApiError
from service.replay import DeliverySource, replay_deliveries

__all__ = ["router"]

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


class DeliveryOut(BaseModel):
    source: str
    delivery_id: int
    shop_id: int | None
    account_id: int | None
    topic: str
    webhook_id: str | None
    event_id: str | None
    status: str
    attempts: int
    error: str | None
    received_at: datetime
    applied_at: datetime | None
    next_attempt_at: datetime | None
    triggered_at: datetime | None
    body_erased: bool

    @classmethod
    def of(cls, delivery: DeliverySummary) -> "DeliveryOut":
        return cls(
            **{name: getattr(delivery, name) for name in cls.model_fields},
        )


class DeliveryDetail(DeliveryOut):
    headers: dict[str, Any]
    body_text: str | None = Field(description="The raw body when it is UTF-8.")
    body_base64: str | None = Field(description="The raw body otherwise.")

    @classmethod
    def of_detail(cls, delivery: DeliverySummary) -> "DeliveryDetail":
        text: str | None = None
        encoded: str | None = None
        if delivery.body is not None:
            try:
                text = bytes(delivery.body).decode()
            except UnicodeDecodeError:
                encoded = base64.b64encode(bytes(delivery.body)).decode()
        base = DeliveryOut.of(delivery).model_dump()
        return cls(**base, headers=delivery.headers, body_text=text, body_base64=encoded)


def _scope(principal: Principal, shop_id: int | None) -> list[int] | None:
    if shop_id is not None:
        principal.require_shop(shop_id)
        return [shop_id]
    return principal.visible_shop_ids()


@router.get("", summary="List stored deliveries, newest first")
async def list_deliveries(
    request: Request,
    principal: PrincipalDep,
    *,
    shop_id: int | None = None,
    status: DeliveryStatus | None = None,
    source: DeliverySource | None = None,
    before_id: Annotated[int | None, Query(description="Page: ids below this one.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    shop_ids = _scope(principal, shop_id)
    found: list[DeliverySummary] = []
    async with request.app.state.resources.pool.acquire() as connection:
        for inbox in (DeliverySource.SHOPIFY, DeliverySource.SUPPLIER):
            if source in (None, inbox):
                found += await list_inbox_deliveries(
                    connection,
                    from_suppliers=inbox is DeliverySource.SUPPLIER,
                    shop_ids=shop_ids,
                    status=status,
                    before_id=before_id,
                    limit=limit,
                )
    found.sort(key=lambda d: d.received_at, reverse=True)
    return [DeliveryOut.of(delivery) for delivery in found[:limit]]


@router.get("/{source}/{delivery_id}", summary="One delivery, with its headers and body")
async def read_delivery(
    source: DeliverySource, delivery_id: int, request: Request, principal: PrincipalDep
) -> DeliveryDetail:
    async with request.app.state.resources.pool.acquire() as connection:
        if source is DeliverySource.SHOPIFY:
            delivery = await get_shopify_delivery(connection, delivery_id)
        else:
            delivery = await get_supplier_delivery(connection, delivery_id)
    visible = delivery is not None and (
        principal.is_admin or (delivery.shop_id is not None and principal.can_see(delivery.shop_id))
    )
    if delivery is None or not visible:
        raise ApiError(404, "delivery_not_found", f"no {source} delivery {delivery_id}")
    return DeliveryDetail.of_detail(delivery)


class ReplayRequest(BaseModel):
    source: DeliverySource | None = None
    shop_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    delivery_ids: list[int] | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _something_selected(self) -> "ReplayRequest":
        if self.shop_id is None and self.delivery_ids is None and self.since is None:
            msg = "select deliveries by shop_id, delivery_ids or since"
            raise ValueError(msg)
        return self


class ReplayOut(BaseModel):
    replayed: int
    shopify_by_shop: dict[int, int]
    supplier_by_account: dict[int, int]


@router.post("/replay", summary="Re-apply stored deliveries (by shop, time range or ids)")
async def replay(body: ReplayRequest, request: Request, principal: PrincipalDep) -> ReplayOut:
    principal.require_write()
    if body.shop_id is not None:
        principal.require_shop(body.shop_id)
    else:
        principal.require_admin()
    resources = request.app.state.resources
    result = await replay_deliveries(
        resources.pool,
        resources.redis,
        queue_name=resources.runtime.settings.queue_name,
        source=body.source,
        shop_id=body.shop_id,
        since=body.since,
        until=body.until,
        delivery_ids=body.delivery_ids,
    )
    return ReplayOut(
        replayed=result.total,
        shopify_by_shop=result.shopify,
        supplier_by_account=result.supplier,
    )
