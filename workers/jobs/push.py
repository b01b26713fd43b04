"""Push supplier tracking numbers to Shopify as fulfilments, exactly once.

`push_shop(ctx, shop_id)` takes the shop's pending work as a batch: every order with an
unsynced package (schema.classify.unsynced) that is not blocked or waiting to retry. For each
order, one at a time per order across all workers (a Postgres advisory lock):

1. re-read the order's fulfillment orders and fulfilments from Shopify and store them;
2. plan with the pure `core.planner.plan_push` (adopt, create, update tracking, blocked);
3. for each call, write its ledger row (idempotency key) and commit BEFORE calling Shopify;
4. on success store the new fulfilment; on an ambiguous failure (the mutation may have been
   applied) go back to 1, where a fulfilment already carrying the tracking number is adopted
   instead of created twice; on `userErrors` re-plan once from a fresh read (fulfillment
   orders change underneath), then park the row as failed with Shopify's message; transient
   failures leave the row pending with a backoff, and the sweeper comes back for it.

Blocked actions are stored in `push_block` (the report's rows) and every attempt and result is
an `order_event` on the order's timeline.
"""

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import structlog

from clients.shopify import (
    ShopifyAmbiguousError,
    ShopifyClient,
    ShopifyError,
    ShopifyShopError,
    ShopifyTransientError,
)
from clients.shopify_documents import ORDERS_FULFILLMENT_STATE_BATCH_SIZE
from clients.shopify_fulfillment import (
    FulfillmentInputLine,
    MutationOutcome,
    TrackingInput,
    create_fulfillment,
    read_order_fulfillment_state,
    read_orders_fulfillment_state,
    update_tracking,
)
from clients.shopify_tokens import TokenRenewal, current_token
from core.errors import PlanInputError
from core.ids import (
    FulfillmentId,
    FulfillmentOrderId,
    FulfillmentOrderLineItemId,
    LineItemId,
    LocationId,
    OrderId,
    VariantId,
)
from core.planner import (
    AdoptExisting,
    Blocked,
    CreateFulfillment,
    ExistingFulfillment,
    FulfillmentOrderAction,
    FulfillmentOrderLine,
    FulfillmentOrderRequestStatus,
    FulfillmentOrderState,
    FulfillmentOrderStatus,
    OrderState,
    PackageId,
    PackageLine,
    PackageToPush,
    PushedPackage,
    PushPlan,
    PushSettings,
    UpdateTracking,
    plan_push,
)
from schema.db import Connection, Pool
from schema.queries.connect import ShopCredentials
from schema.queries.fulfillment_orders import (
    FulfillmentOrderRow,
    OrderFulfillmentState,
    store_orders_fulfillment_state,
)
from schema.queries.push import (
    BlockRecord,
    LedgerRow,
    PackageForPlan,
    PushClaim,
    PushSuccess,
    adopt_push,
    claim_push,
    claim_pushes,
    clear_blocks,
    defer_push,
    due_shops,
    fail_push,
    insert_order_event,
    mark_shop_needs_attention,
    note_push_error,
    order_packages,
    orders_packages,
    pushable_orders,
    pushed_packages,
    record_blocks,
    record_push_successes,
    retire_settled_pending,
    shop_and_pushable_orders,
    store_state_and_claim_pushes,
    supersede_pending,
)
from schema.secrets import SecretBox
from workers import names
from workers.context import resources
from workers.shopify import shopify_client
from workers.trigger import job_id, trigger

__all__ = [
    "OrderResult",
    "PushDeps",
    "PushRunSummary",
    "lock_order",
    "push_order",
    "push_orders",
    "push_settings_from_shop",
    "push_shop",
    "push_sweep",
    "run_push_shop",
    "run_push_sweep",
]

log = structlog.get_logger()

_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T", bound=int)

# Fresh reads after a userErrors answer before the row is parked as failed.
_STALE_REPLANS = 1
# Fresh reads after ambiguous failures before the row is left for a later run.
_AMBIGUOUS_REPLANS = 6
_BATCH = 200
_BUSY_RETRY_SECONDS = 2.0


class OrderResult(StrEnum):
    DONE = "done"  # every package pushed, adopted, blocked or parked
    DEFERRED = "deferred"  # a transient failure: try again later
    BUSY = "busy"  # another worker holds the order
    POSTPONED = "postponed"  # the run's time budget was spent before the order was started
    SHOP_UNAVAILABLE = "shop_unavailable"  # the token or the shop needs attention


@dataclass(frozen=True, kw_only=True)
class PushDeps:
    """What a push run needs; built from the worker's resources or directly by tests."""

    pool: Pool
    shopify: ShopifyClient
    secrets: SecretBox
    grace: timedelta = timedelta(0)
    order_concurrency: int = 4
    # Shopify's OAuth endpoints, where expiring tokens are renewed before a push.
    oauth_url_template: str = "https://{shop}/admin/oauth/{endpoint}"
    token_renew_margin: timedelta = timedelta(hours=1)
    # Full-jitter backoff between fresh reads after ambiguous failures: uniform(0, min(cap,
    # base * 2**round)).
    replan_backoff_base: float = 0.05
    replan_backoff_cap: float = 2.0
    # A run stops starting new orders after this long and re-queues itself, so a shop with a
    # long backlog (a standard plan pushes about 3 fulfilments a second) never outlives arq's
    # job timeout and other shops get their turn.
    run_budget_seconds: float = 60.0
    # How long a request may still reach Shopify after its worker died: the HTTP timeout plus
    # a margin. A row claimed that recently by a dead worker is not re-sent before then.
    in_flight_window_seconds: float = 15.0
    rng: random.Random = field(default_factory=random.Random)

    def tokens(self) -> TokenRenewal:
        return TokenRenewal(
            secrets=self.secrets,
            oauth_url_template=self.oauth_url_template,
            renew_margin=self.token_renew_margin,
        )


@dataclass(kw_only=True)
class PushRunSummary:
    shop_id: int
    orders: int = 0
    results: dict[str, int] = field(default_factory=dict)

    def count(self, result: OrderResult) -> None:
        self.orders += 1
        self.results[result] = self.results.get(result, 0) + 1

    @property
    def needs_rerun(self) -> bool:
        return any(
            self.results.get(result)
            for result in (OrderResult.BUSY, OrderResult.DEFERRED, OrderResult.POSTPONED)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Shop:
    shop_id: int
    domain: str
    access_token: str
    settings: PushSettings


class _Step(StrEnum):
    CONTINUE = "continue"
    REPLAN_STALE = "replan_stale"
    REPLAN_AMBIGUOUS = "replan_ambiguous"
    DEFERRED = "deferred"


# ------------------------------------------------------------------------------ settings


def push_settings_from_shop(settings: Mapping[str, Any]) -> PushSettings:
    """Per-shop push settings from `shop.settings`; unusable values fall back to defaults.

    Keys: notify_customer (bool, default true), notify_customer_on_tracking_update (bool,
    default true), carrier_overrides ({supplier carrier name: Shopify company}),
    always_send_tracking_url (bool), fallback_tracking_url (a URL template with {number}).
    """

    def flag(key: str, *, default: bool) -> bool:
        value = settings.get(key)
        return value if isinstance(value, bool) else default

    overrides = settings.get("carrier_overrides")
    fallback = settings.get("fallback_tracking_url")
    return PushSettings(
        notify_customer=flag("notify_customer", default=True),
        notify_customer_on_tracking_update=flag("notify_customer_on_tracking_update", default=True),
        carrier_overrides=(
            {str(k): str(v) for k, v in overrides.items() if isinstance(v, str) and v.strip()}
            if isinstance(overrides, Mapping)
            else {}
        ),
        always_send_tracking_url=flag("always_send_tracking_url", default=False),
        fallback_tracking_url=fallback if isinstance(fallback, str) and fallback else None,
    )


# ---------------------------------------------------------------------------- the shop run


async def run_push_shop(deps: PushDeps, *, shop_id: int) -> PushRunSummary:
    """Push every pushable order of the shop; each order is attempted at most once per run."""
    summary = PushRunSummary(shop_id=shop_id)
    started = time.monotonic()
    # One pool connection for the shop and its first batch, one per later batch (the last also
    # retires settled rows): each acquire costs a reset round trip.
    async with deps.pool.acquire() as connection:
        record, orders = await shop_and_pushable_orders(
            connection, shop_id=shop_id, grace=deps.grace, limit=_BATCH
        )
        shop = await _load_shop(deps, connection, record)
        if shop is None:
            return summary
        if len(orders) <= ORDERS_FULFILLMENT_STATE_BATCH_SIZE:
            # The usual run, a handful of orders: one group, and the whole run on this one
            # connection (every statement is a round trip; so is each pool release).
            locked: list[int] = []
            if orders and time.monotonic() - started > deps.run_budget_seconds:
                for _ in orders:
                    summary.count(OrderResult.POSTPONED)
            elif orders:
                results, locked = await _push_group_keeping_locks(deps, connection, shop, orders)
                for result in results:
                    summary.count(result)
            # The group's locks go with the statement that ends the run.
            retired = await retire_settled_pending(
                connection,
                shop_id=shop_id,
                in_flight_window=timedelta(seconds=deps.in_flight_window_seconds),
                unlock_orders=locked,
            )
            _log_run(summary, retired)
            return summary
    retired = await _push_batches(
        deps, shop, summary, orders, deadline=started + deps.run_budget_seconds
    )
    _log_run(summary, retired)
    return summary


def _log_run(summary: PushRunSummary, retired: int) -> None:
    if summary.orders or retired:
        log.info(
            "push.shop_done",
            shop_id=summary.shop_id,
            orders=summary.orders,
            retired_pending=retired,
            **summary.results,
        )


async def _push_batches(
    deps: PushDeps, shop: _Shop, summary: PushRunSummary, orders: list[int], *, deadline: float
) -> int:
    """Push a long backlog batch by batch, `order_concurrency` groups at a time; returns how
    many settled pending rows were retired at the end."""
    shop_id = shop.shop_id
    attempted: set[int] = set()
    semaphore = asyncio.Semaphore(deps.order_concurrency)

    async def group(order_ids: list[int]) -> list[OrderResult]:
        async with semaphore:
            if time.monotonic() > deadline:
                return [OrderResult.POSTPONED] * len(order_ids)
            return await push_orders(deps, shop, order_ids)

    retired: int | None = None
    while True:
        todo = [order_id for order_id in orders if order_id not in attempted]
        if not todo:
            break
        attempted.update(todo)
        size = ORDERS_FULFILLMENT_STATE_BATCH_SIZE
        groups = [todo[start : start + size] for start in range(0, len(todo), size)]
        results = [
            result
            for results_of_group in await asyncio.gather(*(group(ids) for ids in groups))
            for result in results_of_group
        ]
        for result in results:
            summary.count(result)
        # A batch shorter than the limit was all the shop had: packages stored since then
        # come with their own trigger (ingest enqueues push_shop) or the sweeper's.
        stop = (
            OrderResult.SHOP_UNAVAILABLE in results
            or OrderResult.POSTPONED in results
            or len(orders) < _BATCH
        )
        async with deps.pool.acquire() as connection:
            if not stop:
                orders = await pushable_orders(
                    connection, shop_id=shop_id, grace=deps.grace, limit=_BATCH
                )
            if stop or all(order_id in attempted for order_id in orders):
                retired = await retire_settled_pending(
                    connection,
                    shop_id=shop_id,
                    in_flight_window=timedelta(seconds=deps.in_flight_window_seconds),
                )
                break
    if retired is None:
        async with deps.pool.acquire() as connection:
            retired = await retire_settled_pending(
                connection,
                shop_id=shop_id,
                in_flight_window=timedelta(seconds=deps.in_flight_window_seconds),
            )
    return retired


async def _load_shop(
    deps: PushDeps, connection: Connection, record: ShopCredentials | None
) -> _Shop | None:
    """The shop to push for, from its row (read with the pushable orders): one read serves the
    push settings and the token check."""
    if record is None or record.status != "active" or record.access_token_enc is None:
        return None
    token = await current_token(
        deps.tokens(), connection, deps.shopify.http, shop_id=record.shop_id, credentials=record
    )
    if token is None:
        return None
    return _Shop(
        shop_id=record.shop_id,
        domain=record.domain,
        access_token=token,
        settings=push_settings_from_shop(record.settings),
    )


# --------------------------------------------------------------------------- one order


class lock_order:  # noqa: N801  (used as `async with lock_order(...)`, like a function)
    """A session advisory lock on (shop, order), held on the connection it was taken on."""

    def __init__(self, connection: Connection, *, shop_id: int, order_id: int) -> None:
        self.connection = connection
        self.key = f"dropsync:order:{shop_id}:{order_id}"
        self.locked = False

    async def __aenter__(self) -> bool:
        self.locked = bool(
            await self.connection.fetchval(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", self.key
            )
        )
        return self.locked

    async def __aexit__(self, *exc: object) -> None:
        if self.locked:
            await self.connection.execute(
                "SELECT pg_advisory_unlock(hashtextextended($1, 0))", self.key
            )


async def push_order(deps: PushDeps, shop: _Shop, order_id: int) -> OrderResult:
    """Push one order's unsynced packages under the order's lock."""
    [result] = await push_orders(deps, shop, [order_id])
    return result


async def push_orders(deps: PushDeps, shop: _Shop, order_ids: list[int]) -> list[OrderResult]:
    """Push a few orders of one shop: lock each, read them all in one call, then push each.

    The locks are session advisory locks on the one connection the group uses, so a group
    costs one pool connection however many orders it holds.
    """
    async with deps.pool.acquire() as connection:
        return await _push_group_on(deps, connection, shop, order_ids)


async def _push_group_on(
    deps: PushDeps, connection: Connection, shop: _Shop, order_ids: list[int]
) -> list[OrderResult]:
    """`push_orders` on a connection the caller holds (the locks are released on it)."""
    results, locked = await _push_group_keeping_locks(deps, connection, shop, order_ids)
    await _unlock_orders(connection, shop_id=shop.shop_id, order_ids=locked)
    return results


async def _push_group_keeping_locks(
    deps: PushDeps, connection: Connection, shop: _Shop, order_ids: list[int]
) -> tuple[list[OrderResult], list[int]]:
    """`_push_group_on`, leaving the locks it took held on success (they are returned, for
    the caller to release); on an error they are released before it propagates."""
    results: dict[int, OrderResult] = {}
    locked = await _try_lock_orders(connection, shop_id=shop.shop_id, order_ids=order_ids)
    try:
        results.update(
            (order_id, OrderResult.BUSY) for order_id in order_ids if order_id not in locked
        )
        if locked:
            results.update(await _push_locked_group(deps, connection, shop, locked))
    except BaseException:
        await _unlock_orders(connection, shop_id=shop.shop_id, order_ids=locked)
        raise
    return [results[order_id] for order_id in order_ids], locked


async def _try_lock_orders(
    connection: Connection, *, shop_id: int, order_ids: list[int]
) -> list[int]:
    """Take every free order lock of the group in one round trip (same keys as lock_order)."""
    rows = await connection.fetch(
        """
        SELECT order_id
        FROM unnest($2::bigint[]) WITH ORDINALITY AS o(order_id, position)
        WHERE pg_try_advisory_lock(hashtextextended('dropsync:order:' || $1 || ':' || order_id, 0))
        ORDER BY position
        """,
        str(shop_id),
        order_ids,
    )
    return [row["order_id"] for row in rows]


async def _unlock_orders(connection: Connection, *, shop_id: int, order_ids: list[int]) -> None:
    if order_ids:
        await connection.execute(
            """
            SELECT pg_advisory_unlock(hashtextextended('dropsync:order:' || $1 || ':' || o, 0))
            FROM unnest($2::bigint[]) AS o
            """,
            str(shop_id),
            order_ids,
        )


async def _push_locked_group(
    deps: PushDeps, connection: Connection, shop: _Shop, order_ids: list[int]
) -> dict[int, OrderResult]:
    """Push a locked group: one read, one statement storing it, one fetching the packages, one
    claiming every planned call's ledger row (committed before any call), then the calls.

    An order whose call needs a fresh read (userErrors, an ambiguous failure) goes on alone
    through `_push_locked`, as do the orders of a group that could not be planned together.
    """
    try:
        states = await read_orders_fulfillment_state(
            deps.shopify, shop.domain, shop.access_token, order_ids=order_ids
        )
    except ShopifyError as error:
        result = await _order_error(connection, shop, order_ids[0], error)
        return dict.fromkeys(order_ids, result)
    results, plans, claimed = await _plan_group(deps, connection, shop, order_ids, states)
    successes: list[PushSuccess] = []
    try:
        for order_id, plan in plans.items():
            if OrderResult.SHOP_UNAVAILABLE in results.values():
                results[order_id] = OrderResult.SHOP_UNAVAILABLE
                continue
            try:
                step = await _run_calls(
                    deps,
                    connection,
                    shop,
                    plan,
                    claimed=claimed,
                    successes=successes,
                    may_replan_stale=True,
                    may_replan_ambiguous=True,
                )
                if step is not _Step.CONTINUE:
                    # What a re-read will find must already be in the ledger.
                    await record_push_successes(connection, successes=successes)
                    successes.clear()
                results[order_id] = await _after_first_step(deps, connection, shop, order_id, step)
            except (ShopifyError, PlanInputError) as error:
                results[order_id] = await _order_error(connection, shop, order_id, error)
    finally:
        await record_push_successes(connection, successes=successes)
    return results


async def _plan_group(
    deps: PushDeps,
    connection: Connection,
    shop: _Shop,
    order_ids: list[int],
    states: Mapping[int, OrderFulfillmentState | None],
) -> tuple[dict[int, OrderResult], dict[int, PushPlan], dict[str, LedgerRow]]:
    """Store a group's reads, plan each order, record what needs no call and claim the calls:
    (results of orders already settled, plans with calls to send, ledger rows by key).

    The store commits together with everything planned from it: a stored fulfilment makes its
    package look synced to the classifier, so it must never commit without the adoptions and
    ledger rows planned from it (a worker killed in between would leave a pending row nothing
    comes back for). The commit also puts the claims on disk before the first call. The usual
    group (new orders: no fulfilments yet, nothing to adopt, block or supersede) does it in one
    statement; any other in one transaction.
    """
    results: dict[int, OrderResult] = {}
    read = [state for state in (states.get(order_id) for order_id in order_ids) if state]
    # The packages query reads none of the tables the store writes, so it may come first.
    packages = await orders_packages(
        connection,
        shop_id=shop.shop_id,
        order_ids=[state.order_id for state in read],
        grace=deps.grace,
    )
    plans: dict[int, PushPlan] = {}
    has_pending: dict[int, bool] = {}
    missing: list[int] = []
    for order_id in order_ids:
        state = states.get(order_id)
        if state is None:
            missing.append(order_id)
            results[order_id] = OrderResult.DONE
            continue
        found = packages.get(order_id)
        if not found:
            results[order_id] = OrderResult.DONE
            continue
        try:
            plans[order_id] = await _plan_order(connection, shop, state, found)
        except (ShopifyError, PlanInputError) as error:
            results[order_id] = await _order_error(connection, shop, order_id, error)
            continue
        has_pending[order_id] = found[0].order_has_pending
    claims = [_claim(action) for plan in plans.values() for action in _calls(plan)]
    window = timedelta(seconds=deps.in_flight_window_seconds)
    settles_nothing = not missing and not any(
        has_pending[order_id] or plan.adoptions or plan.blocked for order_id, plan in plans.items()
    )
    if settles_nothing and not any(state.fulfillments for state in read):
        claimed = await store_state_and_claim_pushes(
            connection, shop_id=shop.shop_id, states=read, claims=claims, in_flight_window=window
        )
        return results, plans, claimed
    async with connection.transaction():
        await store_orders_fulfillment_state(connection, shop_id=shop.shop_id, states=read)
        for order_id in missing:
            await _block_missing_order(deps, connection, shop, order_id)
        for order_id, plan in plans.items():
            await _apply_plan_records(connection, shop, plan, has_pending=has_pending[order_id])
        claimed = await claim_pushes(
            connection, shop_id=shop.shop_id, claims=claims, in_flight_window=window
        )
    return results, plans, claimed


async def _after_first_step(
    deps: PushDeps, connection: Connection, shop: _Shop, order_id: int, step: _Step
) -> OrderResult:
    """Where an order goes after its first plan's calls (see `_push_locked` for the rounds)."""
    if step is _Step.DEFERRED:
        return OrderResult.DEFERRED
    if step is _Step.REPLAN_STALE:
        return await _push_locked(deps, connection, shop, order_id, stale_rounds=1)
    if step is _Step.REPLAN_AMBIGUOUS:
        await _ambiguous_backoff(deps, 1)
        return await _push_locked(deps, connection, shop, order_id, ambiguous_rounds=1)
    return OrderResult.DONE


async def _ambiguous_backoff(deps: PushDeps, rounds: int) -> None:
    ceiling = min(deps.replan_backoff_cap, deps.replan_backoff_base * 2**rounds)
    await asyncio.sleep(deps.rng.uniform(0, ceiling))


async def _order_error(
    connection: Connection, shop: _Shop, order_id: int, error: Exception
) -> OrderResult:
    """What an error escaping one order's push means for it (and perhaps for the shop)."""
    if isinstance(error, ShopifyShopError):
        await mark_shop_needs_attention(
            connection, shop_id=shop.shop_id, reason=f"Shopify refused: {error}"
        )
        log.warning(
            "push.shop_unavailable", shop_id=shop.shop_id, order_id=order_id, error=str(error)
        )
        return OrderResult.SHOP_UNAVAILABLE
    if isinstance(error, ShopifyTransientError):
        log.warning("push.read_deferred", shop_id=shop.shop_id, order_id=order_id, error=str(error))
        return OrderResult.DEFERRED
    # A document or planner bug: logged loudly, retried by the sweeper after a fix.
    log.error("push.order_failed", shop_id=shop.shop_id, order_id=order_id, error=str(error))
    return OrderResult.DEFERRED


async def _push_locked(
    deps: PushDeps,
    connection: Connection,
    shop: _Shop,
    order_id: int,
    *,
    stale_rounds: int = 0,
    ambiguous_rounds: int = 0,
) -> OrderResult:
    """Push one locked order from a fresh read of its own, re-planning after userErrors
    (`_STALE_REPLANS` times) and ambiguous failures (`_AMBIGUOUS_REPLANS` times)."""
    while True:
        state = await read_order_fulfillment_state(
            deps.shopify, shop.domain, shop.access_token, order_id=order_id
        )
        if state is None:
            await _block_missing_order(deps, connection, shop, order_id)
            return OrderResult.DONE
        # As in the group: the stored read commits together with what was planned from it.
        async with connection.transaction():
            await store_orders_fulfillment_state(connection, shop_id=shop.shop_id, states=[state])
            packages = await order_packages(
                connection, shop_id=shop.shop_id, order_id=order_id, grace=deps.grace
            )
            if not packages:
                return OrderResult.DONE
            plan = await _plan_order(connection, shop, state, packages)
            await _apply_plan_records(
                connection, shop, plan, has_pending=packages[0].order_has_pending
            )
        step = await _run_calls(
            deps,
            connection,
            shop,
            plan,
            claimed=None,
            may_replan_stale=stale_rounds < _STALE_REPLANS,
            may_replan_ambiguous=ambiguous_rounds < _AMBIGUOUS_REPLANS,
        )
        if step is _Step.REPLAN_STALE:
            stale_rounds += 1
        elif step is _Step.REPLAN_AMBIGUOUS:
            ambiguous_rounds += 1
            await _ambiguous_backoff(deps, ambiguous_rounds)
        elif step is _Step.DEFERRED:
            return OrderResult.DEFERRED
        else:
            return OrderResult.DONE


async def _plan_order(
    connection: Connection,
    shop: _Shop,
    state: OrderFulfillmentState,
    packages: Sequence[PackageForPlan],
) -> PushPlan:
    """Plan one order from its fresh read and its unsynced packages (pure, but for the query
    of earlier pushes that tracking changes need)."""
    pushed = (
        await pushed_packages(connection, shop_id=shop.shop_id, order_id=state.order_id)
        if packages[0].order_has_pushed
        else []
    )
    return plan_push(
        order=OrderState(
            order_id=OrderId(state.order_id), cancelled=state.cancelled, closed=state.closed
        ),
        fulfillment_orders=[_fo_state(fo) for fo in state.fulfillment_orders],
        fulfillments=_existing_fulfillments(state),
        packages=[_package_to_push(package) for package in packages],
        pushed=[
            PushedPackage(
                package_id=PackageId(str(record.package_id)),
                supplier_order_id=str(record.supplier_order_id),
                fulfillment_id=FulfillmentId(record.fulfillment_id),
                tracking_number_normalized=record.tracking_number_norm,
            )
            for record in pushed
        ],
        settings=shop.settings,
    )


async def _block_missing_order(
    deps: PushDeps, connection: Connection, shop: _Shop, order_id: int
) -> None:
    packages = await order_packages(
        connection, shop_id=shop.shop_id, order_id=order_id, grace=deps.grace
    )
    await record_blocks(
        connection,
        shop_id=shop.shop_id,
        order_id=order_id,
        blocks=[
            BlockRecord(
                package_id=package.package_id,
                reason="order_not_found",
                message="Shopify has no such order (deleted, or not visible to the app)",
            )
            for package in packages
        ],
    )


def _calls(plan: PushPlan) -> list[CreateFulfillment | UpdateTracking]:
    return [*plan.updates, *plan.creates]


async def _apply_plan_records(
    connection: Connection, shop: _Shop, plan: PushPlan, *, has_pending: bool
) -> None:
    """What a plan settles without calling Shopify: superseded pending rows, adoptions and
    blocks."""
    order_id = int(plan.order_id)
    if has_pending:
        keys = [action.idempotency_key for action in _calls(plan)]
        await supersede_pending(connection, shop_id=shop.shop_id, order_id=order_id, keep_keys=keys)
    for adoption in plan.adoptions:
        await _adopt(connection, shop, adoption)
    if plan.blocked:
        await _record_blocked(connection, shop, order_id, plan.blocked)


async def _run_calls(
    deps: PushDeps,
    connection: Connection,
    shop: _Shop,
    plan: PushPlan,
    *,
    claimed: Mapping[str, LedgerRow] | None,
    successes: list[PushSuccess] | None = None,
    may_replan_stale: bool,
    may_replan_ambiguous: bool,
) -> _Step:
    """Send the plan's calls one by one; `claimed` holds ledger rows already written for them
    (by the group's one claim), otherwise each row is claimed just before its call.
    Successes go to `successes` when given (see `_call`)."""
    for action in _calls(plan):
        step = await _call(
            deps,
            connection,
            shop,
            action,
            row=None if claimed is None else claimed[action.idempotency_key],
            successes=successes,
            may_replan_stale=may_replan_stale,
            may_replan_ambiguous=may_replan_ambiguous,
        )
        if step is not _Step.CONTINUE:
            return step
    return _Step.CONTINUE


async def _adopt(connection: Connection, shop: _Shop, adoption: AdoptExisting) -> None:
    package_ids = [int(package_id) for package_id in adoption.package_ids]
    async with connection.transaction():
        push_id = await adopt_push(
            connection,
            shop_id=shop.shop_id,
            order_id=int(adoption.order_id),
            package_ids=package_ids,
            fulfillment_id=int(adoption.fulfillment_id),
        )
        await clear_blocks(connection, shop_id=shop.shop_id, package_ids=package_ids)
        await insert_order_event(
            connection,
            shop_id=shop.shop_id,
            order_id=int(adoption.order_id),
            kind="push.adopted",
            detail={
                "push_id": push_id,
                "package_ids": package_ids,
                "fulfillment_id": int(adoption.fulfillment_id),
                "tracking_number": adoption.tracking_number,
            },
        )
    log.info(
        "push.adopted",
        shop_id=shop.shop_id,
        order_id=int(adoption.order_id),
        push_id=push_id,
        package_ids=package_ids,
        fulfillment_id=int(adoption.fulfillment_id),
    )


async def _record_blocked(
    connection: Connection, shop: _Shop, order_id: int, blocked: Sequence[Blocked]
) -> None:
    blocks = [
        BlockRecord(package_id=int(package_id), reason=action.reason, message=action.message)
        for action in blocked
        for package_id in action.package_ids
    ]
    async with connection.transaction():
        changed = set(
            await record_blocks(connection, shop_id=shop.shop_id, order_id=order_id, blocks=blocks)
        )
        for action in blocked:
            ids = [int(package_id) for package_id in action.package_ids]
            if changed.intersection(ids):
                await insert_order_event(
                    connection,
                    shop_id=shop.shop_id,
                    order_id=order_id,
                    kind="push.blocked",
                    detail={"package_ids": ids, "reason": action.reason, "message": action.message},
                )
                log.info(
                    "push.blocked",
                    shop_id=shop.shop_id,
                    order_id=order_id,
                    package_ids=ids,
                    reason=action.reason,
                )


async def _call(  # noqa: PLR0911  (one return per documented outcome)
    deps: PushDeps,
    connection: Connection,
    shop: _Shop,
    action: CreateFulfillment | UpdateTracking,
    *,
    row: LedgerRow | None,
    successes: list[PushSuccess] | None,
    may_replan_stale: bool,
    may_replan_ambiguous: bool,
) -> _Step:
    """One planned call; `row` is its ledger row when already claimed (and committed);
    a success is appended to `successes` when given, else recorded at once."""
    order_id = int(action.order_id)
    package_ids = [int(package_id) for package_id in action.package_ids]
    if row is None:
        claim = _claim(action)
        row = await claim_push(
            connection,
            shop_id=shop.shop_id,
            order_id=claim.order_id,
            idempotency_key=claim.idempotency_key,
            kind=claim.kind,
            package_ids=claim.package_ids,
            location_id=claim.location_id,
            request=claim.request,
            in_flight_window=timedelta(seconds=deps.in_flight_window_seconds),
        )
    if row.status != "pending":
        return _Step.CONTINUE
    if row.in_flight:
        # A worker died mid-call less than a request timeout ago: its request may still be
        # applied. Come back after the window; the fresh read then shows what happened.
        log.info(
            "push.in_flight_wait", shop_id=shop.shop_id, order_id=order_id, push_id=row.push_id
        )
        await defer_push(
            connection,
            shop_id=row.shop_id,
            push_id=row.push_id,
            error="an earlier attempt may still be in flight",
            next_attempt_at=datetime.now(UTC) + timedelta(seconds=deps.in_flight_window_seconds),
        )
        return _Step.DEFERRED
    # The ledger row is committed: from here on a crash leaves a pending row to resolve.
    context = {
        "shop_id": shop.shop_id,
        "order_id": order_id,
        "push_id": row.push_id,
        "package_ids": package_ids,
    }
    try:
        outcome = await _send(deps, shop, action)
    except ShopifyAmbiguousError as error:
        log.warning("push.ambiguous", error=str(error), **context)
        await note_push_error(
            connection, shop_id=shop.shop_id, push_id=row.push_id, error=str(error)
        )
        await _event(connection, shop, order_id, "push.ambiguous", row=row, error=str(error))
        if may_replan_ambiguous:
            return _Step.REPLAN_AMBIGUOUS
        await _defer(deps, connection, row, str(error))
        return _Step.DEFERRED
    except ShopifyTransientError as error:
        log.warning("push.deferred", error=str(error), **context)
        await _defer(deps, connection, row, str(error))
        await _event(connection, shop, order_id, "push.deferred", row=row, error=str(error))
        return _Step.DEFERRED
    except ShopifyShopError:
        raise
    except ShopifyError as error:
        log.error("push.failed", error=str(error), **context)  # noqa: TRY400  (expected)
        await _park(connection, shop, row, str(error))
        return _Step.CONTINUE
    if outcome.user_errors:
        message = "; ".join(
            f"{'.'.join(e.field)}: {e.message}" if e.field else e.message
            for e in outcome.user_errors
        )
        if may_replan_stale:
            log.info("push.rejected_replanning", error=message, **context)
            await note_push_error(
                connection, shop_id=shop.shop_id, push_id=row.push_id, error=message
            )
            await _event(connection, shop, order_id, "push.rejected", row=row, error=message)
            return _Step.REPLAN_STALE
        log.error("push.failed", error=message, **context)
        await _park(connection, shop, row, message)
        return _Step.CONTINUE
    fulfillment = outcome.fulfillment
    assert fulfillment is not None  # noqa: S101  (MutationOutcome holds one or the other)
    kind = "push.created" if isinstance(action, CreateFulfillment) else "push.updated"
    success = PushSuccess(row=row, fulfillment=fulfillment, event_kind=kind)
    if successes is None:
        # One statement: the row, the fulfilment and its lines, the blocks and the event.
        await record_push_successes(connection, successes=[success])
    else:
        # The group records its successes together (before any re-read, and at its end). A
        # crash before that leaves the row pending, and the fresh read then adopts.
        successes.append(success)
    # Debug, not info: every success is on the order's timeline already, and a busy worker
    # writing a line per fulfilment spends a tenth of its CPU on it. `push.shop_done` counts
    # them per shop run at info.
    log.debug(kind, fulfillment_id=fulfillment.fulfillment_id, **context)
    return _Step.CONTINUE


async def _send(
    deps: PushDeps, shop: _Shop, action: CreateFulfillment | UpdateTracking
) -> MutationOutcome:
    if isinstance(action, CreateFulfillment):
        return await create_fulfillment(
            deps.shopify,
            shop.domain,
            shop.access_token,
            line_items=[
                FulfillmentInputLine(
                    fulfillment_order_id=int(entry.fulfillment_order_id),
                    lines=tuple(
                        (int(line.fulfillment_order_line_item_id), line.quantity)
                        for line in entry.lines
                    ),
                )
                for entry in action.line_items_by_fulfillment_order
            ],
            tracking=TrackingInput(
                numbers=action.tracking_numbers,
                company=action.tracking_company,
                urls=action.tracking_urls,
            ),
            notify_customer=action.notify_customer,
        )
    return await update_tracking(
        deps.shopify,
        shop.domain,
        shop.access_token,
        fulfillment_id=int(action.fulfillment_id),
        tracking=TrackingInput(
            numbers=action.tracking_numbers,
            company=action.tracking_company,
            urls=action.tracking_urls,
        ),
        notify_customer=action.notify_customer,
    )


def _claim(action: CreateFulfillment | UpdateTracking) -> PushClaim:
    """The ledger row to write before sending `action`."""
    return PushClaim(
        order_id=int(action.order_id),
        idempotency_key=action.idempotency_key,
        kind="create" if isinstance(action, CreateFulfillment) else "update_tracking",
        package_ids=[int(package_id) for package_id in action.package_ids],
        location_id=(
            int(action.location_id)
            if isinstance(action, CreateFulfillment) and action.location_id is not None
            else None
        ),
        request=_request(action),
    )


def _request(action: CreateFulfillment | UpdateTracking) -> dict[str, Any]:
    """What the ledger row records about the call (for the timeline and for audits)."""
    if isinstance(action, CreateFulfillment):
        return {
            "kind": "create",
            "location_id": action.location_id,
            "tracking_numbers": list(action.tracking_numbers),
            "tracking_company": action.tracking_company,
            "tracking_urls": list(action.tracking_urls),
            "notify_customer": action.notify_customer,
            "line_items_by_fulfillment_order": [
                {
                    "fulfillment_order_id": int(entry.fulfillment_order_id),
                    "lines": [
                        [int(line.fulfillment_order_line_item_id), line.quantity]
                        for line in entry.lines
                    ],
                }
                for entry in action.line_items_by_fulfillment_order
            ],
        }
    return {
        "kind": "update_tracking",
        "fulfillment_id": int(action.fulfillment_id),
        "change": action.change,
        "tracking_numbers": list(action.tracking_numbers),
        "tracking_company": action.tracking_company,
        "tracking_urls": list(action.tracking_urls),
        "previous_tracking_numbers": list(action.previous_tracking_numbers),
        "notify_customer": action.notify_customer,
    }


async def _defer(deps: PushDeps, connection: Connection, row: LedgerRow, error: str) -> None:
    delay = deps.rng.uniform(0, min(600.0, 2.0 * 2 ** min(row.attempts, 10)))
    await defer_push(
        connection,
        shop_id=row.shop_id,
        push_id=row.push_id,
        error=error,
        next_attempt_at=datetime.now(UTC) + timedelta(seconds=max(1.0, delay)),
    )


async def _park(connection: Connection, shop: _Shop, row: LedgerRow, error: str) -> None:
    async with connection.transaction():
        await fail_push(
            connection,
            shop_id=shop.shop_id,
            push_id=row.push_id,
            order_id=row.order_id,
            error=error,
        )
        await insert_order_event(
            connection,
            shop_id=shop.shop_id,
            order_id=row.order_id,
            kind="push.failed",
            detail={"push_id": row.push_id, "package_ids": row.package_ids, "error": error},
        )


async def _event(
    connection: Connection, shop: _Shop, order_id: int, kind: str, *, row: LedgerRow, error: str
) -> None:
    await insert_order_event(
        connection,
        shop_id=shop.shop_id,
        order_id=order_id,
        kind=kind,
        detail={"push_id": row.push_id, "package_ids": row.package_ids, "error": error},
    )


# ------------------------------------------------------------------ planner input mapping


def _fo_state(fo: FulfillmentOrderRow) -> FulfillmentOrderState:
    return FulfillmentOrderState(
        fulfillment_order_id=FulfillmentOrderId(fo.fulfillment_order_id),
        status=_enum(FulfillmentOrderStatus, fo.status, FulfillmentOrderStatus.INCOMPLETE),
        request_status=_enum(
            FulfillmentOrderRequestStatus, fo.request_status, FulfillmentOrderRequestStatus.CLOSED
        ),
        location_id=LocationId(fo.location_id) if fo.location_id is not None else None,
        supported_actions=frozenset(
            FulfillmentOrderAction(action)
            for action in fo.supported_actions
            if action in FulfillmentOrderAction.__members__
        ),
        hold_reasons=tuple(str(hold.get("reason") or "") for hold in fo.holds),
        line_items=tuple(
            FulfillmentOrderLine(
                fulfillment_order_line_item_id=FulfillmentOrderLineItemId(
                    line.fulfillment_order_line_id
                ),
                line_item_id=LineItemId(line.line_item_id),
                sku=line.sku,
                variant_id=VariantId(line.variant_id) if line.variant_id is not None else None,
                remaining_quantity=line.remaining_quantity,
            )
            for line in fo.lines
        ),
    )


def _enum(kind: type[_E], value: str | None, default: _E) -> _E:
    try:
        return kind(str(value).upper())
    except ValueError:
        return default


def _existing_fulfillments(state: OrderFulfillmentState) -> list[ExistingFulfillment]:
    return [
        ExistingFulfillment(
            fulfillment_id=FulfillmentId(fulfillment.fulfillment_id),
            status=fulfillment.status,
            tracking_company=fulfillment.tracking_company,
            tracking_numbers=fulfillment.tracking_numbers,
            tracking_urls=fulfillment.tracking_urls,
        )
        for fulfillment in state.fulfillments
    ]


def _package_to_push(package: PackageForPlan) -> PackageToPush:
    raw_lines = package.lines
    if not raw_lines and package.supplier_order_package_count == 1:
        # The only parcel of its supplier order carries that order's items.
        raw_lines = package.supplier_order_lines
    return PackageToPush(
        package_id=PackageId(str(package.package_id)),
        supplier_order_id=str(package.supplier_order_id),
        tracking_number=package.tracking_number,
        tracking_number_normalized=package.tracking_number_norm,
        carrier=package.carrier,
        tracking_url=package.tracking_url,
        lines=tuple(line for line in (_package_line(raw) for raw in raw_lines) if line is not None),
        supplier_order_package_count=package.supplier_order_package_count,
    )


def _package_line(raw: Mapping[str, Any]) -> PackageLine | None:
    """A stored package line (ingest writes core.supplier_model.PackageItem as JSON):
    shopify_line_item_id (or line_item_id; an int or a GID), sku, variant_id, quantity.

    A line known only by the supplier's own ids is kept with no Shopify identifier: it matches
    nothing, so the planner blocks the package with a clear message instead of guessing.
    """
    quantity = raw.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        return None
    line_item = raw.get("shopify_line_item_id", raw.get("line_item_id"))
    sku = raw.get("sku")
    return PackageLine(
        line_item_id=_maybe_id(line_item, LineItemId),
        sku=sku.strip() if isinstance(sku, str) and sku.strip() else None,
        variant_id=_maybe_id(raw.get("variant_id"), VariantId),
        quantity=quantity,
    )


def _maybe_id(value: object, kind: Callable[[int], _T]) -> _T | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return kind(value)
    if isinstance(value, str):
        digits = value.rsplit("/", 1)[-1]
        if digits.isdigit():
            return kind(int(digits))
    return None


# ---------------------------------------------------------------------------- arq jobs


def push_deps(ctx: dict[str, Any]) -> PushDeps:
    res = resources(ctx)
    settings = res.runtime.settings
    return PushDeps(
        pool=res.pool,
        shopify=shopify_client(ctx),
        secrets=res.runtime.secrets,
        grace=settings.push_grace_period,
        order_concurrency=settings.push_order_concurrency,
        oauth_url_template=settings.shopify_oauth_url_template,
        token_renew_margin=settings.token_renew_margin,
    )


async def push_shop(ctx: dict[str, Any], shop_id: int) -> dict[str, int]:
    """arq job: push the shop's pending work; re-queues itself when some of it must wait."""
    res = resources(ctx)
    summary = await run_push_shop(push_deps(ctx), shop_id=shop_id)
    if summary.needs_rerun:
        queue = res.runtime.settings.queue_name
        if summary.results.get(OrderResult.DEFERRED):
            defer = 10.0
        elif summary.results.get(OrderResult.BUSY):
            defer = _BUSY_RETRY_SECONDS
        else:
            defer = 0.0
        await trigger(
            res.redis,
            names.PUSH_SHOP,
            shop_id,
            queue_name=queue,
            unique_id=job_id(queue, "push-rerun", shop_id),
            defer_seconds=defer or None,
        )
    return {"orders": summary.orders}


async def run_push_sweep(connection: Connection, *, grace: timedelta) -> dict[str, list[int]]:
    """The shops the sweeper should nudge (see `schema.queries.push.due_shops`)."""
    return await due_shops(connection, grace=grace)


async def push_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron: re-trigger shops with unsynced packages, due retries or orders to re-read.

    Redis only nudges; this is what guarantees every package is eventually pushed.
    """
    res = resources(ctx)
    queue = res.runtime.settings.queue_name
    async with res.pool.acquire() as connection:
        due = await run_push_sweep(connection, grace=res.runtime.settings.push_grace_period)
    for shop_id in due["refresh"]:
        await trigger(
            res.redis,
            names.REFRESH_ORDERS,
            shop_id,
            queue_name=queue,
            unique_id=job_id(queue, "refresh-sweep", shop_id),
        )
    for shop_id in due["push"]:
        await trigger(
            res.redis,
            names.PUSH_SHOP,
            shop_id,
            queue_name=queue,
            unique_id=job_id(queue, "push-sweep", shop_id),
        )
    if due["push"] or due["refresh"]:
        log.info("push.swept", push=len(due["push"]), refresh=len(due["refresh"]))
    return {"push": len(due["push"]), "refresh": len(due["refresh"])}
