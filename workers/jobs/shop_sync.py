"""Keeping a shop's orders in step with Shopify without relying on webhooks: connect, backfill,
poll, nightly full pass and the webhook subscription watchdog.

Polling reads orders updated in the half-open window `[watermark - overlap, run start)`,
sorted by update time, a page at a time. Each page is stored in one transaction that also
moves the watermark to the newest `updatedAt` the page held, so a crash loses at most the page
in flight and an order updated while the poll runs falls in the next window. Orders whose
stored version changed, or whose fulfillment orders were never read, are marked
`needs_refresh`; the refresh job (workers.jobs.refresh) re-reads their fulfillment orders and
fulfilments and nudges the push.

Every job works on one shop and gives up after `poll_timeout`, so one shop's failures,
throttling or backlog never hold up another's. A rejected token flags the shop
`needs_attention` (visible in `GET /shops/{id}` and `/sync`) and stops its work until renewed.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import structlog

from clients.shopify import (
    ShopifyAccessError,
    ShopifyAuthError,
    ShopifyClient,
    ShopifyError,
    ShopifyShopError,
)
from clients.shopify_bulk import (
    BulkOperation,
    BulkRefusedError,
    bulk_operation,
    read_bulk_orders,
    start_bulk_orders,
)
from clients.shopify_sync import (
    SYNC_TOPICS,
    OrdersPage,
    count_orders,
    ensure_subscriptions,
    order_window_query,
    read_orders_page,
)
from clients.shopify_tokens import ShopTokenError, access_token_for, report_rejected_token
from schema.db import Connection, Pool
from schema.queries.connect import ShopCredentials, mark_shop_needs_attention, shop_credentials
from schema.queries.shopify_state import TimedOrder, mark_orders_for_refresh, upsert_orders
from schema.queries.sync_state import (
    advance_watermark,
    backfill_page_done,
    finish_backfill,
    get_shop_sync_state,
    poll_failed,
    poll_started,
    poll_succeeded,
    reset_backfill_count,
    upsert_webhook_subscription,
    webhooks_checked,
)
from schema.secrets import SecretBox
from service.settings import Settings

__all__ = [
    "FULL_PASS_WINDOW",
    "ShopUnavailableError",
    "SyncDeps",
    "SyncSummary",
    "run_backfill",
    "run_connect_shop",
    "run_poll_shop",
    "run_watchdog_shop",
    "store_orders_page",
    "webhook_uri",
]

log = structlog.get_logger()

FULL_PASS_WINDOW = timedelta(hours=24)
# A shop polled for the first time, with no backfill to take over from, reads this far back.
_FIRST_POLL_WINDOW = timedelta(hours=24)
_MAX_PAGES_PER_RUN = 2000
# A backfill cursor naming a bulk operation rather than a page.
_BULK_CURSOR = "bulk:"

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class SyncDeps:
    pool: Pool
    shopify: ShopifyClient
    http: httpx.AsyncClient
    secrets: SecretBox
    settings: Settings
    clock: Callable[[], datetime] = field(default=_utc_now)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # A bulk backfill's status is checked this often, for at most this long per job run.
    bulk_poll_every: timedelta = timedelta(seconds=5)
    bulk_wait: timedelta = timedelta(minutes=5)


@dataclass(kw_only=True)
class SyncSummary:
    pages: int = 0
    orders: int = 0
    written: int = 0
    marked_for_refresh: int = 0
    webhooks_created: list[str] = field(default_factory=list)
    error: str | None = None
    bulk_done: bool = False


class ShopUnavailableError(Exception):
    """The shop cannot be worked on now (uninstalled, no token, token refused)."""


def webhook_uri(settings: Settings) -> str | None:
    if not settings.public_url:
        return None
    return settings.public_url.rstrip("/") + "/webhooks/shopify"


class _ShopSession:
    """One shop's token for the length of a job, renewed once if Shopify answers 401."""

    def __init__(self, deps: SyncDeps, shop: ShopCredentials) -> None:
        self.deps = deps
        self.shop = shop
        self.token: str | None = None
        self.renewed = False

    async def _token(self, *, force: bool) -> str:
        async with self.deps.pool.acquire() as connection:
            try:
                return await access_token_for(
                    connection,
                    self.deps.secrets,
                    self.deps.http,
                    shop_id=self.shop.shop_id,
                    url_template=self.deps.settings.shopify_oauth_url_template,
                    now=self.deps.clock(),
                    renew_margin=self.deps.settings.token_renew_margin,
                    force_renewal=force,
                )
            except ShopTokenError as error:
                raise ShopUnavailableError(str(error)) from error

    async def call(self, operation: Callable[[str], Awaitable[T]]) -> T:
        if self.token is None:
            self.token = await self._token(force=False)
        try:
            return await self._denied_is_unavailable(operation, self.token)
        except ShopifyAuthError as error:
            if self.renewed or self.shop.app_kind == "legacy":
                await self._reject(str(error))
                raise ShopUnavailableError(str(error)) from error
        # A renewable token may have been revoked early: ask for a new one, once.
        self.renewed = True
        self.token = await self._token(force=True)
        try:
            return await self._denied_is_unavailable(operation, self.token)
        except ShopifyAuthError as error:
            await self._reject(str(error))
            raise ShopUnavailableError(str(error)) from error

    async def _denied_is_unavailable(
        self, operation: Callable[[str], Awaitable[T]], token: str
    ) -> T:
        """A missing scope, unapproved protected data or a frozen store (402/403/423) needs a
        person, not a new token: flag the shop and stop."""
        try:
            return await operation(token)
        except ShopifyAccessError as error:
            async with self.deps.pool.acquire() as connection:
                await mark_shop_needs_attention(
                    connection,
                    shop_id=self.shop.shop_id,
                    reason=f"Shopify denied access (scope, data approval or plan): {error}"[:500],
                )
            raise ShopUnavailableError(str(error)) from error

    async def _reject(self, detail: str) -> None:
        async with self.deps.pool.acquire() as connection:
            await report_rejected_token(connection, shop_id=self.shop.shop_id, detail=detail)


async def _open_session(deps: SyncDeps, shop_id: int) -> _ShopSession:
    async with deps.pool.acquire() as connection:
        shop = await shop_credentials(connection, shop_id)
    if shop is None or shop.status == "uninstalled":
        msg = f"shop {shop_id} is not connected"
        raise ShopUnavailableError(msg)
    return _ShopSession(deps, shop)


async def store_orders_page(
    connection: Connection, *, shop_id: int, page: OrdersPage
) -> tuple[list[int], list[int]]:
    """Store a page of orders and mark for re-reading those whose fulfilment state may have
    moved: (ids written, ids marked). The caller owns the transaction."""
    written = await upsert_orders(
        connection,
        shop_id=shop_id,
        orders=[TimedOrder(snapshot=order, triggered_at=None) for order in page.orders],
    )
    page_ids = [order.order_id for order in page.orders]
    never_read = await connection.fetch(
        """
        SELECT o.order_id FROM shopify_order o
        WHERE o.shop_id = $1 AND o.order_id = ANY($2::bigint[]) AND o.refreshed_at IS NULL
        """,
        shop_id,
        page_ids,
    )
    to_mark = sorted(set(written) | {row["order_id"] for row in never_read})
    marked = await mark_orders_for_refresh(connection, shop_id=shop_id, order_ids=to_mark)
    return written, marked


async def _read_window(
    deps: SyncDeps,
    session: _ShopSession,
    *,
    since: datetime,
    until: datetime,
    summary: SyncSummary,
    move_watermark: bool,
    after: str | None = None,
    on_page: Callable[[Connection, OrdersPage], Awaitable[None]] | None = None,
) -> None:
    shop_id = session.shop.shop_id
    query = order_window_query(since=since, until=until)
    for _ in range(_MAX_PAGES_PER_RUN):
        cursor = after

        async def read(token: str, cursor: str | None = cursor) -> OrdersPage:
            return await read_orders_page(
                deps.shopify, session.shop.domain, token, query=query, after=cursor
            )

        page = await session.call(read)
        async with deps.pool.acquire() as connection, connection.transaction():
            written, marked = await store_orders_page(connection, shop_id=shop_id, page=page)
            if move_watermark and page.orders:
                newest = max(order.updated_at for order in page.orders)
                await advance_watermark(connection, shop_id=shop_id, watermark=min(newest, until))
            if on_page is not None:
                await on_page(connection, page)
        summary.pages += 1
        summary.orders += len(page.orders)
        summary.written += len(written)
        summary.marked_for_refresh += len(marked)
        if not page.has_next_page or page.end_cursor is None:
            return
        after = page.end_cursor
    log.warning("sync.page_limit_reached", shop_id=shop_id, pages=_MAX_PAGES_PER_RUN)


async def run_poll_shop(
    deps: SyncDeps,
    *,
    shop_id: int,
    full_pass: bool = False,
    since: datetime | None = None,
) -> SyncSummary:
    """Read the shop's orders updated since its watermark (minus the overlap), or over the
    last 24 hours on a full pass, or since `since` (the watchdog's gap)."""
    summary = SyncSummary()
    # Shopify's search works in whole seconds: cap the window at the run's start, rounded
    # down, so the watermark never passes an instant the query did not cover.
    started = deps.clock().replace(microsecond=0)
    try:
        async with asyncio.timeout(deps.settings.poll_timeout.total_seconds()):
            session = await _open_session(deps, shop_id)
            async with deps.pool.acquire() as connection:
                await poll_started(connection, shop_id=shop_id, at=started)
                state = await get_shop_sync_state(connection, shop_id)
            watermark = state.orders_watermark if state else None
            if since is not None:
                window_start = since
            elif full_pass:
                window_start = started - FULL_PASS_WINDOW
            elif watermark is not None:
                window_start = watermark - deps.settings.poll_overlap
            else:
                window_start = started - _FIRST_POLL_WINDOW
            await _read_window(
                deps,
                session,
                since=window_start,
                until=started,
                summary=summary,
                move_watermark=True,
            )
            async with deps.pool.acquire() as connection, connection.transaction():
                # Everything before the run's start is read: the next window starts here.
                await advance_watermark(connection, shop_id=shop_id, watermark=started)
                await poll_succeeded(connection, shop_id=shop_id, at=started, full_pass=full_pass)
    except (ShopUnavailableError, ShopifyError, TimeoutError) as error:
        summary.error = f"{type(error).__name__}: {error}"
        async with deps.pool.acquire() as connection:
            await poll_failed(connection, shop_id=shop_id, error=summary.error)
        log.warning("sync.poll_failed", shop_id=shop_id, error=summary.error)
        return summary
    log.info(
        "sync.polled",
        shop_id=shop_id,
        full_pass=full_pass,
        orders=summary.orders,
        written=summary.written,
        marked=summary.marked_for_refresh,
    )
    return summary


async def run_backfill(deps: SyncDeps, *, shop_id: int) -> SyncSummary:
    """Run (or resume) the shop's queued backfill, recording progress after every page."""
    summary = SyncSummary()
    async with deps.pool.acquire() as connection:
        state = await get_shop_sync_state(connection, shop_id)
    if state is None or state.backfill_status not in {"pending", "running"}:
        return summary
    backfill_since = state.backfill_since
    assert backfill_since is not None  # noqa: S101  (set with the pending status)
    started = state.backfill_started_at or deps.clock().replace(microsecond=0)
    query_until = started
    try:
        session = await _open_session(deps, shop_id)
        total: int | None = state.backfill_total
        if total is None:

            async def count(token: str) -> int | None:
                return await count_orders(
                    deps.shopify,
                    session.shop.domain,
                    token,
                    query=order_window_query(since=backfill_since, until=query_until),
                )

            total = await session.call(count)

        async def progress(connection: Connection, page: OrdersPage) -> None:
            await backfill_page_done(
                connection,
                shop_id=shop_id,
                cursor=page.end_cursor if page.has_next_page else None,
                orders=len(page.orders),
                total=total,
                started_at=started,
            )

        async with deps.pool.acquire() as connection:
            await backfill_page_done(
                connection,
                shop_id=shop_id,
                cursor=state.backfill_cursor,
                orders=0,
                total=total,
                started_at=started,
            )
        cursor = state.backfill_cursor
        if (cursor or "").startswith(_BULK_CURSOR) or (
            total is not None and total > deps.settings.bulk_backfill_threshold
        ):
            outcome = await _bulk_backfill(
                deps,
                session,
                cursor=cursor,
                since=backfill_since,
                until=query_until,
                started=started,
                summary=summary,
            )
            if outcome == "waiting":
                return summary
            cursor = None
        if not summary.bulk_done:
            await _read_window(
                deps,
                session,
                since=backfill_since,
                until=query_until,
                summary=summary,
                move_watermark=False,
                after=cursor,
                on_page=progress,
            )
        async with deps.pool.acquire() as connection, connection.transaction():
            # Polling takes over where the backfill's window ends.
            await advance_watermark(connection, shop_id=shop_id, watermark=query_until)
            await finish_backfill(connection, shop_id=shop_id, status="done", at=deps.clock())
    except (ShopUnavailableError, ShopifyError) as error:
        summary.error = f"{type(error).__name__}: {error}"
        status = (
            "failed" if isinstance(error, ShopUnavailableError | ShopifyShopError) else "running"
        )
        async with deps.pool.acquire() as connection:
            await finish_backfill(
                connection, shop_id=shop_id, status=status, at=deps.clock(), error=summary.error
            )
        log.warning("sync.backfill_failed", shop_id=shop_id, error=summary.error)
        return summary
    log.info("sync.backfilled", shop_id=shop_id, orders=summary.orders, pages=summary.pages)
    return summary


async def _bulk_backfill(
    deps: SyncDeps,
    session: _ShopSession,
    *,
    cursor: str | None,
    since: datetime,
    until: datetime,
    started: datetime,
    summary: SyncSummary,
) -> str:
    """Run the backfill as a bulk operation: "done", "waiting" (Shopify is still running it;
    the next connect job resumes) or "fallback" (it failed: page through instead)."""
    shop_id = session.shop.shop_id
    domain = session.shop.domain
    if cursor and cursor.startswith(_BULK_CURSOR):
        gid = cursor.removeprefix(_BULK_CURSOR)
    else:

        async def start(token: str) -> BulkOperation:
            return await start_bulk_orders(deps.shopify, domain, token, since=since, until=until)

        try:
            gid = (await session.call(start)).gid
        except BulkRefusedError as error:
            log.info("sync.bulk_refused", shop_id=shop_id, error=str(error))
            return "fallback"
        async with deps.pool.acquire() as connection:
            await backfill_page_done(
                connection,
                shop_id=shop_id,
                cursor=_BULK_CURSOR + gid,
                orders=0,
                total=None,
                started_at=started,
            )
    waited = timedelta(0)
    while True:

        async def status(token: str, gid: str = gid) -> BulkOperation | None:
            return await bulk_operation(deps.shopify, domain, token, gid=gid)

        operation = await session.call(status)
        if operation is None or operation.finished:
            break
        if waited >= deps.bulk_wait:
            log.info("sync.bulk_waiting", shop_id=shop_id, status=operation.status)
            return "waiting"
        await deps.sleep(deps.bulk_poll_every.total_seconds())
        waited += deps.bulk_poll_every
    if operation is None or operation.status != "COMPLETED":
        log.warning(
            "sync.bulk_failed",
            shop_id=shop_id,
            status=operation.status if operation else None,
            error_code=operation.error_code if operation else None,
        )
        return "fallback"
    async with deps.pool.acquire() as connection:
        await reset_backfill_count(connection, shop_id=shop_id)
    if operation.url:
        async for chunk in read_bulk_orders(deps.http, operation.url):
            page = OrdersPage(orders=tuple(chunk), end_cursor=None, has_next_page=False)
            async with deps.pool.acquire() as connection, connection.transaction():
                written, marked = await store_orders_page(connection, shop_id=shop_id, page=page)
                await backfill_page_done(
                    connection,
                    shop_id=shop_id,
                    cursor=_BULK_CURSOR + gid,
                    orders=len(chunk),
                    total=None,
                    started_at=started,
                )
            summary.pages += 1
            summary.orders += len(chunk)
            summary.written += len(written)
            summary.marked_for_refresh += len(marked)
    summary.bulk_done = True
    return "done"


async def _ensure_webhooks(deps: SyncDeps, session: _ShopSession, summary: SyncSummary) -> None:
    uri = webhook_uri(deps.settings)
    shop_id = session.shop.shop_id
    if uri is None:
        log.warning("sync.webhooks_skipped", shop_id=shop_id, reason="no public_url set")
        return

    async def ensure(token: str) -> Any:
        return await ensure_subscriptions(
            deps.shopify, session.shop.domain, token, uri=uri, topics=SYNC_TOPICS
        )

    subscriptions, created = await session.call(ensure)
    now = deps.clock()
    async with deps.pool.acquire() as connection, connection.transaction():
        for subscription in subscriptions:
            await upsert_webhook_subscription(
                connection,
                shop_id=shop_id,
                topic=subscription.topic,
                subscription_gid=subscription.gid,
                uri=subscription.uri,
                at=now,
            )
        await webhooks_checked(connection, shop_id=shop_id, at=now)
    summary.webhooks_created = created
    if created:
        log.info("sync.webhooks_created", shop_id=shop_id, topics=created)


async def run_connect_shop(deps: SyncDeps, *, shop_id: int) -> SyncSummary:
    """On connect: subscribe to every webhook topic, then run the queued backfill."""
    summary = SyncSummary()
    try:
        session = await _open_session(deps, shop_id)
        await _ensure_webhooks(deps, session, summary)
    except (ShopUnavailableError, ShopifyError) as error:
        summary.error = f"{type(error).__name__}: {error}"
        async with deps.pool.acquire() as connection:
            await poll_failed(connection, shop_id=shop_id, error=summary.error)
        log.warning("sync.connect_failed", shop_id=shop_id, error=summary.error)
        if isinstance(error, ShopUnavailableError):
            return summary
    backfill = await run_backfill(deps, shop_id=shop_id)
    backfill.webhooks_created = summary.webhooks_created
    backfill.error = backfill.error or summary.error
    return backfill


async def run_watchdog_shop(deps: SyncDeps, *, shop_id: int) -> SyncSummary:
    """Re-create subscriptions Shopify deleted, then re-read the orders of the gap."""
    summary = SyncSummary()
    async with deps.pool.acquire() as connection:
        state = await get_shop_sync_state(connection, shop_id)
    last_checked = state.webhooks_checked_at if state else None
    try:
        session = await _open_session(deps, shop_id)
        await _ensure_webhooks(deps, session, summary)
    except (ShopUnavailableError, ShopifyError) as error:
        summary.error = f"{type(error).__name__}: {error}"
        log.warning("sync.watchdog_failed", shop_id=shop_id, error=summary.error)
        return summary
    if summary.webhooks_created:
        gap_start = (last_checked or deps.clock() - FULL_PASS_WINDOW) - deps.settings.poll_overlap
        gap = await run_poll_shop(deps, shop_id=shop_id, since=gap_start)
        gap.webhooks_created = summary.webhooks_created
        return gap
    return summary
