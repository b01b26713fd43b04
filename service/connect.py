"""Connecting a shop, whatever kind of app it comes through; shared by OAuth, the CLI and the API.

Every flow ends the same way: the app and shop rows hold encrypted credentials, the shop's
cut-over date is set (packages shipped before it are reported, never pushed), and a backfill is
queued. The connect job (workers.jobs.connect) then registers webhooks and runs the backfill;
the poll sweeper starts any queued backfill whose trigger was lost.
"""

from datetime import datetime, timedelta

import httpx
from arq.connections import ArqRedis

from clients.shopify_oauth import TokenGrant, client_credentials_grant
from clients.shopify_tokens import store_grant
from schema.db import Connection
from schema.queries.connect import set_shop_setting
from schema.queries.shops import ShopRecord, get_shop
from schema.queries.sync_state import start_backfill
from schema.secrets import SecretBox
from service.settings import Settings
from service.shops import AppKind, ShopRegistration, register_shop
from workers.names import CONNECT_SHOP
from workers.trigger import job_id, trigger

__all__ = [
    "CUTOVER_SETTING",
    "READ_ALL_ORDERS_AFTER_DAYS",
    "complete_connection",
    "obtain_custom_app_token",
    "register_and_connect",
    "request_connect",
    "required_scopes",
]

# Shop setting: packages shipped before this instant are reported, not pushed.
CUTOVER_SETTING = "push_shipped_since"
# Without read_all_orders, Shopify shows only the last 60 days of orders.
READ_ALL_ORDERS_AFTER_DAYS = 60

_BASE_SCOPES = (
    "read_orders",
    "write_merchant_managed_fulfillment_orders",
    "write_third_party_fulfillment_orders",
)


def required_scopes(*, backfill_days: int) -> list[str]:
    scopes = list(_BASE_SCOPES)
    if backfill_days > READ_ALL_ORDERS_AFTER_DAYS:
        scopes.append("read_all_orders")
    return scopes


async def obtain_custom_app_token(
    http: httpx.AsyncClient, settings: Settings, *, domain: str, client_id: str, client_secret: str
) -> TokenGrant:
    """The client credentials grant of a Dev Dashboard app; raises TokenRejectedError."""
    return await client_credentials_grant(
        http,
        url_template=settings.shopify_oauth_url_template,
        shop=domain,
        client_id=client_id,
        client_secret=client_secret,
        now=_now(),
    )


def _now() -> datetime:
    return datetime.now().astimezone()


async def complete_connection(
    connection: Connection,
    secrets: SecretBox,
    *,
    shop: ShopRecord,
    grant: TokenGrant | None,
    backfill_days: int,
    now: datetime,
) -> ShopRecord:
    """Store the grant, set the cut-over date if the shop has none yet, and queue a backfill."""
    async with connection.transaction():
        if grant is not None:
            await store_grant(connection, secrets, shop_id=shop.shop_id, grant=grant)
        if CUTOVER_SETTING not in shop.settings:
            # Suppliers date shipments to the second: a parcel shipped in the second the shop
            # was connected counts as after it.
            cutover = now.replace(microsecond=0)
            await set_shop_setting(
                connection, shop_id=shop.shop_id, key=CUTOVER_SETTING, value=cutover.isoformat()
            )
        await start_backfill(
            connection, shop_id=shop.shop_id, since=now - timedelta(days=backfill_days)
        )
    refreshed = await get_shop(connection, shop.shop_id)
    assert refreshed is not None  # noqa: S101  (written in this function)
    return refreshed


async def register_and_connect(
    connection: Connection,
    secrets: SecretBox,
    http: httpx.AsyncClient,
    settings: Settings,
    registration: ShopRegistration,
) -> ShopRecord:
    """Register a custom or legacy app's shop and queue its connection.

    A Dev Dashboard app's credentials are tried first (client credentials grant), so wrong
    credentials store nothing and raise TokenRejectedError.
    """
    grant: TokenGrant | None = None
    if registration.kind is AppKind.CUSTOM:
        assert registration.client_id is not None  # noqa: S101  (validated by ShopRegistration)
        grant = await obtain_custom_app_token(
            http,
            settings,
            domain=registration.domain,
            client_id=registration.client_id,
            client_secret=registration.client_secret or "",
        )
    shop = await register_shop(connection, secrets, registration)
    return await complete_connection(
        connection,
        secrets,
        shop=shop,
        grant=grant,
        backfill_days=settings.backfill_days,
        now=_now(),
    )


async def request_connect(redis: ArqRedis, *, queue_name: str, shop_id: int) -> bool:
    """Nudge the worker to register webhooks and run the shop's queued backfill now.

    Only a nudge: the poll sweeper starts any backfill left queued, so a lost trigger delays
    the connect by one poll interval at most.
    """
    return await trigger(
        redis,
        CONNECT_SHOP,
        shop_id,
        queue_name=queue_name,
        unique_id=job_id(queue_name, CONNECT_SHOP, shop_id),
    )
