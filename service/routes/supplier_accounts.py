"""Supplier accounts: list (scoped), create and remove (admin).

Creating an account answers its webhook URL and, only this once, its credentials: the URL token
for CJ and AliExpress, the `whsec_` signing secret(s) for the generic format.
"""

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from schema.queries.shops import get_shop
from schema.queries.supplier_accounts import (
    SupplierAccountRecord,
    delete_supplier_account,
    list_supplier_accounts,
)
from service.auth import PrincipalDep
from service.errors import ApiError
from service.suppliers import (
    SupplierAccountRegistration,
    register_supplier_account,
    webhook_url,
)

__all__ = ["router"]

router = APIRouter(prefix="/supplier-accounts", tags=["suppliers"])


class SupplierAccountOut(BaseModel):
    account_id: int
    kind: str
    name: str
    timezone: str
    shop_ids: list[int]
    default_shop_id: int | None
    note_attributes: list[str]
    status: str
    last_delivery_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, account: SupplierAccountRecord) -> "SupplierAccountOut":
        names = account.settings.get("note_attributes") or []
        return cls(
            account_id=account.account_id,
            kind=account.kind,
            name=account.name,
            timezone=account.timezone,
            shop_ids=account.shop_ids,
            default_shop_id=account.default_shop_id,
            note_attributes=[str(name) for name in names],
            status=account.status,
            last_delivery_at=account.last_delivery_at,
            created_at=account.created_at,
        )


class CreatedSupplierAccount(SupplierAccountOut):
    webhook_url: str
    webhook_token: str | None
    webhook_secrets: list[str]


@router.get("", summary="Supplier accounts serving the token's shops")
async def list_accounts(request: Request, principal: PrincipalDep) -> list[SupplierAccountOut]:
    async with request.app.state.resources.pool.acquire() as connection:
        accounts = await list_supplier_accounts(connection, shop_ids=principal.visible_shop_ids())
    return [SupplierAccountOut.of(account) for account in accounts]


@router.post("", status_code=201, summary="Create a supplier account (admin)")
async def create_account(
    registration: SupplierAccountRegistration, request: Request, principal: PrincipalDep
) -> CreatedSupplierAccount:
    principal.require_admin()
    principal.require_write()
    resources = request.app.state.resources
    async with resources.pool.acquire() as connection:
        for shop_id in {*registration.shop_ids, registration.default_shop_id} - {None}:
            assert shop_id is not None  # noqa: S101  (None removed above)
            if await get_shop(connection, shop_id) is None:
                raise ApiError(404, "shop_not_found", f"no shop with id {shop_id}")
        try:
            created = await register_supplier_account(
                connection, resources.runtime.secrets, registration
            )
        except Exception as error:
            if "unique" in str(error).lower():
                raise ApiError(
                    409, "name_taken", f"a supplier account is already named {registration.name!r}"
                ) from error
            raise
    base = SupplierAccountOut.of(created.account).model_dump()
    return CreatedSupplierAccount(
        **base,
        webhook_url=webhook_url(
            resources.runtime.settings.public_url,
            created.account.account_id,
            created.webhook_token,
        ),
        webhook_token=created.webhook_token,
        webhook_secrets=created.webhook_secrets,
    )


@router.delete("/{account_id}", status_code=204, summary="Remove a supplier account (admin)")
async def remove_account(account_id: int, request: Request, principal: PrincipalDep) -> None:
    principal.require_admin()
    principal.require_write()
    async with request.app.state.resources.pool.acquire() as connection:
        if not await delete_supplier_account(connection, account_id):
            raise ApiError(404, "account_not_found", f"no supplier account {account_id}")
