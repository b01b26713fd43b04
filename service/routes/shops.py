"""Shops: list, inspect, register (admin) and remove (admin)."""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from clients.shopify_oauth import OAuthError, TokenRejectedError
from schema.queries.shops import ShopRecord, delete_shop, get_shop, list_shops
from service.auth import PrincipalDep
from service.connect import register_and_connect, request_connect
from service.errors import ApiError
from service.shops import ShopRegistration

__all__ = ["router"]

router = APIRouter(prefix="/shops", tags=["shops"])


class ShopOut(BaseModel):
    shop_id: int
    domain: str
    status: str
    attention_reason: str | None
    plan: str
    timezone: str
    settings: dict[str, Any]
    has_access_token: bool
    token_expires_at: datetime | None
    installed_at: datetime
    uninstalled_at: datetime | None

    @classmethod
    def of(cls, shop: ShopRecord) -> "ShopOut":
        return cls(
            shop_id=shop.shop_id,
            domain=shop.domain,
            status=shop.status,
            attention_reason=shop.attention_reason,
            plan=shop.plan,
            timezone=shop.timezone,
            settings=shop.settings,
            has_access_token=shop.access_token_enc is not None,
            token_expires_at=shop.token_expires_at,
            installed_at=shop.installed_at,
            uninstalled_at=shop.uninstalled_at,
        )


@router.get("", summary="Shops the token may see")
async def list_visible_shops(request: Request, principal: PrincipalDep) -> list[ShopOut]:
    async with request.app.state.resources.pool.acquire() as connection:
        shops = await list_shops(connection, shop_ids=principal.visible_shop_ids())
    return [ShopOut.of(shop) for shop in shops]


@router.get("/{shop_id}", summary="One shop")
async def read_shop(shop_id: int, request: Request, principal: PrincipalDep) -> ShopOut:
    principal.require_shop(shop_id)
    async with request.app.state.resources.pool.acquire() as connection:
        shop = await get_shop(connection, shop_id)
    if shop is None:
        raise ApiError(404, "shop_not_found", f"no shop with id {shop_id}")
    return ShopOut.of(shop)


@router.post("", status_code=201, summary="Register a shop with its app credentials (admin)")
async def create_shop(
    registration: ShopRegistration, request: Request, principal: PrincipalDep
) -> ShopOut:
    principal.require_admin()
    principal.require_write()
    resources = request.app.state.resources
    settings = resources.runtime.settings
    try:
        async with resources.pool.acquire() as connection:
            shop = await register_and_connect(
                connection, resources.runtime.secrets, resources.http, settings, registration
            )
    except TokenRejectedError as error:
        raise ApiError(422, "credentials_rejected", str(error)) from error
    except OAuthError as error:
        raise ApiError(502, "shopify_unavailable", str(error)) from error
    await request_connect(resources.redis, queue_name=settings.queue_name, shop_id=shop.shop_id)
    return ShopOut.of(shop)


@router.delete("/{shop_id}", status_code=204, summary="Remove a shop and all its data (admin)")
async def remove_shop(shop_id: int, request: Request, principal: PrincipalDep) -> None:
    principal.require_admin()
    principal.require_write()
    async with request.app.state.resources.pool.acquire() as connection:
        if not await delete_shop(connection, shop_id):
            raise ApiError(404, "shop_not_found", f"no shop with id {shop_id}")
