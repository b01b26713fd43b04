"""Polling suppliers for what their webhooks did not say, and re-registering CJ's webhook.

`run_poll_supplier` re-reads, through the supplier's order-detail API, the account's orders
that were placed but have no tracking yet (each with its own exponential backoff) and those an
AliExpress push hint marked `needs_refresh`. Parcels found become packages, which the push
then sends to Shopify. A rate limit or an outage stops the run (the next one resumes); one
account's trouble never touches another's job.

`run_supplier_watchdog` re-registers a CJ account's webhook (CJ pauses every message after a
50 % failure rate until it is registered again) when no delivery arrived for
`supplier_webhook_silence` while its orders kept moving.

Account credentials live encrypted in `supplier_account.secrets_enc` as a JSON object: CJ
`{"access_token", "api_key"}` (either), AliExpress `{"app_key", "app_secret", "session"}`.
CJ's webhook URL is the account setting `webhook_url`.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import structlog

from clients.aliexpress import AliExpressClient, AliExpressCredentials, unwrap_list
from clients.cj import CjClient
from clients.supplier_errors import (
    SupplierApiError,
    SupplierAuthError,
    SupplierNotFoundError,
    SupplierUnavailableError,
)
from core.aliexpress import parse_aliexpress_order_detail
from core.cj import parse_cj_order_detail
from core.errors import DropsyncError
from core.supplier_model import ShippedPackage, SupplierOrderState
from schema.db import Pool
from schema.queries.supplier_accounts import SupplierAccountRecord, get_supplier_account
from schema.queries.supplier_poll import (
    DueSupplierOrder,
    due_supplier_orders,
    insert_polled_messages,
    store_supplier_poll,
    supplier_orders_moved_since,
)
from schema.queries.sync_state import (
    get_supplier_sync_state,
    supplier_poll_finished,
    supplier_webhook_registered,
)
from schema.secrets import SecretBox
from service.settings import Settings

__all__ = [
    "DISCOVERY_PAGES",
    "SupplierPollSummary",
    "SupplierSyncDeps",
    "account_credentials",
    "cj_order_message",
    "run_discover_cj_orders",
    "run_poll_supplier",
    "run_supplier_watchdog",
]

log = structlog.get_logger()

_BATCH = 200
# The nightly CJ discovery reads at most this many pages of 100 orders.
DISCOVERY_PAGES = 20


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class SupplierSyncDeps:
    pool: Pool
    http: httpx.AsyncClient
    secrets: SecretBox
    settings: Settings
    clock: Callable[[], datetime] = field(default=_utc_now)


@dataclass(kw_only=True)
class SupplierPollSummary:
    polled: int = 0
    new_packages: int = 0
    still_waiting: int = 0
    shops_to_push: set[int] = field(default_factory=set)
    error: str | None = None


def account_credentials(secrets: SecretBox, account: SupplierAccountRecord) -> dict[str, str]:
    if account.secrets_enc is None:
        return {}
    try:
        found = orjson.loads(secrets.decrypt(account.secrets_enc))
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(key): str(value) for key, value in found.items() if value is not None}


class _Reader:
    """Reads one supplier order's state through the account's API."""

    def __init__(self, deps: SupplierSyncDeps, account: SupplierAccountRecord) -> None:
        self.account = account
        self.credentials = account_credentials(deps.secrets, account)
        self.cj: CjClient | None = None
        self.aliexpress: AliExpressClient | None = None
        self.clock = deps.clock
        has = self.credentials.get
        if account.kind == "cj" and (has("access_token") or has("api_key")):
            self.cj = CjClient(
                http=deps.http,
                url=deps.settings.cj_api_url,
                access_token=self.credentials.get("access_token"),
                api_key=self.credentials.get("api_key"),
            )
        elif account.kind == "aliexpress" and has("app_key") and has("app_secret"):
            self.aliexpress = AliExpressClient(
                http=deps.http,
                url=deps.settings.aliexpress_api_url,
                credentials=AliExpressCredentials(
                    app_key=self.credentials.get("app_key", ""),
                    app_secret=self.credentials.get("app_secret", ""),
                    session=self.credentials.get("session", ""),
                ),
            )

    @property
    def supported(self) -> bool:
        """A supplier with an order API, and the credentials to call it."""
        return self.cj is not None or self.aliexpress is not None

    async def read(self, external_id: str) -> SupplierOrderState:
        if self.cj is not None:
            data = await self.cj.order_detail(external_id)
            return parse_cj_order_detail({"code": 200, "data": dict(data)}, tz=self._zone())
        assert self.aliexpress is not None  # noqa: S101  (checked by `supported`)
        result = dict(await self.aliexpress.order_detail(external_id, now=self.clock()))
        # The gateway sends a one-element list as a bare object; hand core plain lists.
        for key in ("logistics_info_list", "child_order_list"):
            if key in result:
                result[key] = unwrap_list(result[key])
        return parse_aliexpress_order_detail(result, order_id=external_id, tz=self._zone())

    def _zone(self) -> Any:
        from zoneinfo import ZoneInfo  # noqa: PLC0415  (only when a zone is needed)

        try:
            return ZoneInfo(self.account.timezone)
        except (ValueError, KeyError):
            return UTC


def _packages(state: SupplierOrderState) -> list[ShippedPackage]:
    return [package for package in state.packages if package.tracking.normalized]


async def _store(
    deps: SupplierSyncDeps,
    order: DueSupplierOrder,
    state: SupplierOrderState | None,
    summary: SupplierPollSummary,
    *,
    one_package_per_order: bool,
) -> None:
    packages = _packages(state) if state is not None else []
    async with deps.pool.acquire() as connection, connection.transaction():
        created = await store_supplier_poll(
            connection,
            order=order,
            cancelled=bool(state and state.cancelled),
            packages=packages,
            now=deps.clock(),
            base_backoff=deps.settings.poll_interval,
            max_backoff=deps.settings.supplier_poll_backoff_max,
            one_package_per_order=one_package_per_order,
        )
    summary.polled += 1
    if created:
        summary.new_packages += len(created)
        summary.shops_to_push.add(order.shop_id)
    elif not packages:
        summary.still_waiting += 1


async def run_poll_supplier(
    deps: SupplierSyncDeps, *, account_id: int, full_pass: bool = False
) -> SupplierPollSummary:
    summary = SupplierPollSummary()
    started = deps.clock()
    async with deps.pool.acquire() as connection:
        account = await get_supplier_account(connection, account_id)
        if account is None or account.status != "active":
            return summary
        due = await due_supplier_orders(
            connection,
            account_id=account_id,
            now=started,
            limit=_BATCH,
            ignore_backoff=full_pass,
        )
    reader = _Reader(deps, account)
    if not reader.supported or not due:
        return summary
    try:
        for order in due:
            try:
                state: SupplierOrderState | None = await reader.read(order.external_id)
            except SupplierNotFoundError:
                state = None
            except (DropsyncError, SupplierApiError) as error:
                if isinstance(error, SupplierUnavailableError | SupplierAuthError):
                    raise
                log.warning(
                    "supplier.poll_unreadable",
                    account_id=account_id,
                    supplier_order_id=order.supplier_order_id,
                    error=str(error),
                )
                state = None
            await _store(deps, order, state, summary, one_package_per_order=account.kind == "cj")
    except (SupplierUnavailableError, SupplierAuthError) as error:
        summary.error = f"{type(error).__name__}: {error}"
        log.warning("supplier.poll_stopped", account_id=account_id, error=summary.error)
    if reader.cj is not None and reader.cj.renewed and reader.cj.access_token:
        await _keep_cj_token(deps, account, reader.cj.access_token)
    async with deps.pool.acquire() as connection:
        await supplier_poll_finished(
            connection,
            account_id=account_id,
            started_at=started,
            polled=summary.polled,
            error=summary.error,
            full_pass=full_pass,
        )
    log.info(
        "supplier.polled",
        account_id=account_id,
        polled=summary.polled,
        new_packages=summary.new_packages,
        waiting=summary.still_waiting,
    )
    return summary


async def _keep_cj_token(
    deps: SupplierSyncDeps, account: SupplierAccountRecord, token: str
) -> None:
    credentials = account_credentials(deps.secrets, account)
    credentials["access_token"] = token
    encrypted = deps.secrets.encrypt(orjson.dumps(credentials).decode())
    async with deps.pool.acquire() as connection:
        await connection.execute(
            "UPDATE supplier_account SET secrets_enc = $2 WHERE account_id = $1",
            account.account_id,
            encrypted,
        )


async def _silent_cj_account(
    deps: SupplierSyncDeps, account_id: int, now: datetime
) -> tuple[SupplierAccountRecord, str, int] | None:
    """(account, webhook URL, orders moved) when a CJ account's webhook looks paused."""
    silence: timedelta = deps.settings.supplier_webhook_silence
    async with deps.pool.acquire() as connection:
        account = await get_supplier_account(connection, account_id)
        url = account.settings.get("webhook_url") if account else None
        if account is None or account.kind != "cj" or not isinstance(url, str) or not url:
            return None
        recently_heard = account.last_delivery_at and account.last_delivery_at > now - silence
        state = await get_supplier_sync_state(connection, account_id)
        recently_registered = (
            state and state.webhook_registered_at and state.webhook_registered_at > now - silence
        )
        if account.status != "active" or recently_heard or recently_registered:
            return None
        moved = await supplier_orders_moved_since(
            connection, account_id=account_id, since=account.last_delivery_at or now - silence
        )
    return (account, url, moved) if moved else None


async def run_supplier_watchdog(deps: SupplierSyncDeps, *, account_id: int) -> bool:
    """Re-register a silent CJ account's webhook; True when it did."""
    now = deps.clock()
    found = await _silent_cj_account(deps, account_id, now)
    if found is None:
        return False
    account, url, moved = found
    reader = _Reader(deps, account)
    assert reader.cj is not None  # noqa: S101  (a CJ account)
    try:
        await reader.cj.set_webhook(order_url=url, logistics_url=url)
    except SupplierApiError as error:
        log.warning("supplier.webhook_register_failed", account_id=account_id, error=str(error))
        return False
    async with deps.pool.acquire() as connection:
        await supplier_webhook_registered(connection, account_id=account_id, at=now)
    log.info("supplier.webhook_reregistered", account_id=account_id, moved_orders=moved)
    return True


def cj_order_message(row: Mapping[str, Any]) -> tuple[str, bytes] | None:
    """A CJ order-list row as the ORDER message CJ would have sent: (dedup key, body).

    The key names the order's state, so a state already queued is not queued again.
    """
    order_id = row.get("cjOrderId") or row.get("orderId")
    if not order_id:
        return None
    params = {
        "cjOrderId": str(order_id),
        "orderNumber": row.get("orderNumber") or row.get("orderNum"),
        "orderStatus": row.get("orderStatus"),
        "logisticName": row.get("logisticName"),
        "trackNumber": row.get("trackNumber"),
        "trackingUrl": row.get("trackingUrl"),
        "createDate": row.get("createDate"),
        "payDate": row.get("paymentDate"),
    }
    key = f"poll:{order_id}:{params['orderStatus']}:{params['trackNumber'] or ''}"
    message = {
        "messageId": key,
        "type": "ORDER",
        "messageType": "UPDATE",
        "params": params,
    }
    return key, orjson.dumps(message)


async def run_discover_cj_orders(deps: SupplierSyncDeps, *, account_id: int) -> int:
    """Queue every CJ order the account lists as an ORDER message for ingest to apply, so an
    order whose every webhook was lost is still found and linked. Returns how many were new."""
    async with deps.pool.acquire() as connection:
        account = await get_supplier_account(connection, account_id)
    if account is None or account.kind != "cj" or account.status != "active":
        return 0
    reader = _Reader(deps, account)
    if reader.cj is None:
        return 0
    queued = 0
    try:
        for page in range(1, DISCOVERY_PAGES + 1):
            rows, total = await reader.cj.list_orders(page=page, page_size=100)
            messages = [found for found in map(cj_order_message, rows) if found is not None]
            async with deps.pool.acquire() as connection:
                queued += await insert_polled_messages(
                    connection, account_id=account_id, kind="cj", messages=messages
                )
            if not rows or page * 100 >= total:
                break
    except SupplierApiError as error:
        log.warning("supplier.discovery_stopped", account_id=account_id, error=str(error))
    if queued:
        log.info("supplier.discovered", account_id=account_id, queued=queued)
    return queued
