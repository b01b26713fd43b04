"""Apply a shop's stored Shopify deliveries to the two-sided state, in batches, set-based.

One job per shop: it claims the shop's due pending deliveries in id order (`FOR UPDATE SKIP
LOCKED`, so concurrent jobs never take the same ones), parses them with `core`, writes the state
with one statement per table, and records every delivery's outcome in the same transaction. It
repeats until nothing is due.

Outcomes: `applied`; `ignored` (unknown topic, stale snapshot, erased body, uninstalled shop);
`failed` at once when the body cannot be parsed (parsing again would fail again); a database
error retries the delivery with backoff and parks it as `failed` after `MAX_ATTEMPTS`. When a
batch fails as a whole, its deliveries are re-applied one at a time so one poison delivery
cannot hold up the others.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from core.shopify_payloads import (
    AppUninstalled,
    CustomersDataRequest,
    CustomersRedact,
    FulfillmentOrderHint,
    FulfillmentSnapshot,
    OrderSnapshot,
    ParsedPayload,
    ShopRedact,
    UnsupportedTopic,
    parse_shopify_payload,
)
from schema.db import Connection, Pool
from schema.queries.compliance import (
    customer_data_report,
    erase_delivery_bodies,
    erase_shop_if_uninstalled,
    mark_shop_uninstalled,
    redact_customer,
)
from schema.queries.inbox import (
    DeliveryOutcome,
    DeliveryStatus,
    PendingShopifyDelivery,
    claim_pending_shopify,
    record_shopify_outcomes,
)
from schema.queries.shopify_state import (
    OrderEventRow,
    TimedOrder,
    insert_order_events,
    mark_orders_for_refresh,
    upsert_fulfillments,
    upsert_orders,
)
from workers import names
from workers.context import resources
from workers.jobs.delivery_retry import failure_outcome
from workers.trigger import job_id, trigger

__all__ = [
    "ApplyReport",
    "apply_shopify",
    "apply_shopify_batch",
    "run_apply_shopify",
]

log = structlog.get_logger()

BATCH_SIZE = 500
_ACTOR = "webhook"
# First key of the per-shop advisory lock (the second is the shop id).
_LOCK_NAMESPACE = 0x5D1F_0001


@dataclass(kw_only=True)
class ApplyReport:
    claimed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    refresh_orders: list[int] = field(default_factory=list)
    shop_erased: bool = False

    def add(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        for outcome in outcomes:
            self.statuses[outcome.status] = self.statuses.get(outcome.status, 0) + 1


@dataclass(kw_only=True)
class _Batch:
    """The parsed deliveries of one batch, and the outcome decided for each."""

    shop_id: int
    shop_active: bool
    outcomes: dict[int, DeliveryOutcome] = field(default_factory=dict)
    orders: list[tuple[PendingShopifyDelivery, OrderSnapshot]] = field(default_factory=list)
    fulfillments: list[tuple[PendingShopifyDelivery, FulfillmentSnapshot]] = field(
        default_factory=list
    )
    hints: list[tuple[PendingShopifyDelivery, FulfillmentOrderHint]] = field(default_factory=list)
    compliance: list[tuple[PendingShopifyDelivery, ParsedPayload]] = field(default_factory=list)
    events: list[OrderEventRow] = field(default_factory=list)
    refresh_orders: list[int] = field(default_factory=list)
    shop_erased: bool = False

    def finish(
        self, delivery: PendingShopifyDelivery, status: DeliveryStatus, error: str | None = None
    ) -> None:
        self.outcomes[delivery.delivery_id] = DeliveryOutcome(
            delivery_id=delivery.delivery_id, status=status, error=error
        )


def _sort(batch: _Batch, delivery: PendingShopifyDelivery) -> None:
    if delivery.body is None:
        batch.finish(delivery, DeliveryStatus.IGNORED, "payload erased; nothing to apply")
        return
    try:
        parsed = parse_shopify_payload(delivery.topic, delivery.body)
    except Exception as error:  # noqa: BLE001  (any parse failure parks the delivery with it)
        batch.finish(delivery, DeliveryStatus.FAILED, f"payload does not parse: {error}")
        return
    compliance = (CustomersDataRequest, CustomersRedact, ShopRedact, AppUninstalled)
    if isinstance(parsed, compliance):
        batch.compliance.append((delivery, parsed))
    elif isinstance(parsed, UnsupportedTopic):
        batch.finish(delivery, DeliveryStatus.IGNORED, f"topic {parsed.topic!r} is not applied")
    elif not batch.shop_active:
        batch.finish(delivery, DeliveryStatus.IGNORED, "shop is uninstalled")
    elif isinstance(parsed, OrderSnapshot):
        batch.orders.append((delivery, parsed))
    elif isinstance(parsed, FulfillmentSnapshot):
        batch.fulfillments.append((delivery, parsed))
    else:
        batch.hints.append((delivery, parsed))


async def _apply_orders(connection: Connection, batch: _Batch) -> None:
    timed = [
        (delivery, TimedOrder(snapshot=snapshot, triggered_at=delivery.triggered_at))
        for delivery, snapshot in batch.orders
    ]
    written = set(
        await upsert_orders(connection, shop_id=batch.shop_id, orders=[t for _, t in timed])
    )
    newest: dict[int, tuple[Any, ...]] = {}
    for _, order in timed:
        key = order.snapshot.order_id
        newest[key] = max(newest.get(key, order.version), order.version)
    for delivery, order in timed:
        order_id = order.snapshot.order_id
        detail = {
            "topic": delivery.topic,
            "delivery_id": delivery.delivery_id,
            "updated_at": order.snapshot.updated_at.isoformat(),
        }
        if order_id in written and order.version == newest[order_id]:
            batch.finish(delivery, DeliveryStatus.APPLIED)
            batch.events.append(
                OrderEventRow(
                    order_id=order_id, kind="webhook.applied", actor=_ACTOR, detail=detail
                )
            )
        else:
            batch.finish(delivery, DeliveryStatus.IGNORED, "stale: newer order state is stored")
            batch.events.append(
                OrderEventRow(order_id=order_id, kind="webhook.stale", actor=_ACTOR, detail=detail)
            )


async def _apply_fulfillments(connection: Connection, batch: _Batch) -> None:
    written = set(
        await upsert_fulfillments(
            connection, shop_id=batch.shop_id, fulfillments=[f for _, f in batch.fulfillments]
        )
    )
    newest: dict[int, Any] = {}
    for _, snapshot in batch.fulfillments:
        key = snapshot.fulfillment_id
        newest[key] = max(newest.get(key, snapshot.updated_at), snapshot.updated_at)
    for delivery, snapshot in batch.fulfillments:
        detail = {
            "topic": delivery.topic,
            "delivery_id": delivery.delivery_id,
            "fulfillment_id": snapshot.fulfillment_id,
            "status": snapshot.status,
        }
        if (
            snapshot.fulfillment_id in written
            and snapshot.updated_at == newest[snapshot.fulfillment_id]
        ):
            batch.finish(delivery, DeliveryStatus.APPLIED)
            batch.events.append(
                OrderEventRow(
                    order_id=snapshot.order_id, kind="webhook.applied", actor=_ACTOR, detail=detail
                )
            )
        else:
            batch.finish(delivery, DeliveryStatus.IGNORED, "stale: newer fulfilment is stored")


async def _apply_hints(connection: Connection, batch: _Batch) -> None:
    order_ids = [hint.order_id for _, hint in batch.hints if hint.order_id is not None]
    fo_ids = [
        fo_id
        for _, hint in batch.hints
        for fo_id in (
            hint.fulfillment_order_id,
            *(ref.fulfillment_order_id for ref in hint.related),
        )
    ]
    flagged = await mark_orders_for_refresh(
        connection, shop_id=batch.shop_id, order_ids=order_ids, fulfillment_order_ids=fo_ids
    )
    if not flagged:
        flagged = await mark_orders_for_refresh(
            connection, shop_id=batch.shop_id, recent_without_fulfillment_orders=True
        )
    batch.refresh_orders.extend(flagged)
    for delivery, hint in batch.hints:
        batch.finish(delivery, DeliveryStatus.APPLIED)
        batch.events.append(
            OrderEventRow(
                order_id=hint.order_id,
                kind="webhook.refresh_requested",
                actor=_ACTOR,
                detail={
                    "topic": delivery.topic,
                    "delivery_id": delivery.delivery_id,
                    "fulfillment_order_id": hint.fulfillment_order_id,
                    "status": hint.status,
                },
            )
        )


async def _apply_compliance(connection: Connection, batch: _Batch) -> None:
    for delivery, request in batch.compliance:
        at = delivery.triggered_at or delivery.received_at
        if isinstance(request, CustomersDataRequest):
            report = await customer_data_report(
                connection,
                shop_id=batch.shop_id,
                customer_id=request.customer_id,
                email=request.customer_email,
                order_ids=request.orders_requested,
            )
            report["data_request_id"] = request.data_request_id
            batch.events.append(
                OrderEventRow(
                    order_id=None, kind="compliance.data_request", actor=_ACTOR, detail=report
                )
            )
            log.info(
                "compliance.data_request",
                shop_id=batch.shop_id,
                delivery_id=delivery.delivery_id,
                orders=len(report["orders"]),
            )
            batch.finish(delivery, DeliveryStatus.APPLIED)
        elif isinstance(request, CustomersRedact):
            redaction = await redact_customer(
                connection,
                shop_id=batch.shop_id,
                customer_id=request.customer_id,
                email=request.customer_email,
                phone=request.customer_phone,
                order_ids=request.orders_to_redact,
                keep_delivery_ids=[delivery.delivery_id],
            )
            await erase_delivery_bodies(
                connection, shop_id=batch.shop_id, delivery_ids=[delivery.delivery_id]
            )
            batch.events.append(
                OrderEventRow(
                    order_id=None,
                    kind="compliance.customer_redacted",
                    actor=_ACTOR,
                    detail={
                        "delivery_id": delivery.delivery_id,
                        "orders": redaction.order_ids,
                        "payloads_erased": redaction.payloads_erased,
                    },
                )
            )
            log.info(
                "compliance.customer_redacted",
                shop_id=batch.shop_id,
                delivery_id=delivery.delivery_id,
                orders=len(redaction.order_ids),
                payloads=redaction.payloads_erased,
            )
            batch.finish(delivery, DeliveryStatus.APPLIED)
        elif isinstance(request, AppUninstalled):
            stopped = await mark_shop_uninstalled(
                connection, shop_id=batch.shop_id, triggered_at=at
            )
            log.info("shop.uninstalled", shop_id=batch.shop_id, changed=stopped)
            batch.finish(
                delivery,
                DeliveryStatus.APPLIED if stopped else DeliveryStatus.IGNORED,
                None if stopped else "shop was reinstalled since, or is already uninstalled",
            )
        elif isinstance(request, ShopRedact):
            # Last: erasing the shop removes every row it owns, this batch's deliveries too.
            batch.shop_erased = await erase_shop_if_uninstalled(
                connection, shop_id=batch.shop_id, triggered_at=at
            )
            log.info("compliance.shop_erased", shop_id=batch.shop_id, erased=batch.shop_erased)
            batch.finish(
                delivery,
                DeliveryStatus.APPLIED if batch.shop_erased else DeliveryStatus.IGNORED,
                None if batch.shop_erased else "shop was reinstalled after the request",
            )
            if batch.shop_erased:
                return


async def _apply(
    connection: Connection,
    *,
    shop_id: int,
    shop_active: bool,
    deliveries: Sequence[PendingShopifyDelivery],
) -> _Batch:
    batch = _Batch(shop_id=shop_id, shop_active=shop_active)
    for delivery in deliveries:
        _sort(batch, delivery)
    if batch.orders:
        await _apply_orders(connection, batch)
    if batch.fulfillments:
        await _apply_fulfillments(connection, batch)
    if batch.hints:
        await _apply_hints(connection, batch)
    # Shop redaction comes last within the compliance requests, and after all other state.
    batch.compliance.sort(key=lambda pair: (isinstance(pair[1], ShopRedact), pair[0].delivery_id))
    if batch.compliance:
        await _apply_compliance(connection, batch)
    if not batch.shop_erased:
        await insert_order_events(connection, shop_id=shop_id, events=batch.events)
    return batch


async def apply_shopify_batch(
    connection: Connection, *, shop_id: int, limit: int = BATCH_SIZE
) -> ApplyReport:
    """Claim, apply and record one batch of the shop's due deliveries, in one transaction."""
    report = ApplyReport()
    async with connection.transaction():
        # One applier per shop at a time: batches of one shop touch the same orders, and
        # serialising them avoids lock-order deadlocks and stale reads between concurrent jobs.
        await connection.execute(
            "SELECT pg_advisory_xact_lock($1, $2)", _LOCK_NAMESPACE, shop_id % 2**31
        )
        status = await connection.fetchval("SELECT status FROM shop WHERE shop_id = $1", shop_id)
        if status is None:
            return report
        claimed = await claim_pending_shopify(connection, shop_id=shop_id, limit=limit)
        report.claimed = len(claimed)
        if not claimed:
            return report
        active = status != "uninstalled"
        outcomes: list[DeliveryOutcome] = []
        try:
            async with connection.transaction():
                batch = await _apply(
                    connection, shop_id=shop_id, shop_active=active, deliveries=claimed
                )
            outcomes = list(batch.outcomes.values())
            report.refresh_orders = batch.refresh_orders
            report.shop_erased = batch.shop_erased
        except Exception as batch_error:  # noqa: BLE001  (isolate the delivery that broke it)
            log.warning("apply.batch_failed", shop_id=shop_id, error=repr(batch_error))
            for delivery in claimed:
                try:
                    async with connection.transaction():
                        single = await _apply(
                            connection, shop_id=shop_id, shop_active=active, deliveries=[delivery]
                        )
                    outcomes.extend(single.outcomes.values())
                    report.refresh_orders.extend(single.refresh_orders)
                    report.shop_erased = report.shop_erased or single.shop_erased
                except Exception as error:  # noqa: BLE001  (retried with backoff, then parked)
                    log.warning(
                        "apply.delivery_failed",
                        shop_id=shop_id,
                        delivery_id=delivery.delivery_id,
                        error=repr(error),
                    )
                    outcomes.append(
                        failure_outcome(
                            delivery_id=delivery.delivery_id,
                            previous_attempts=delivery.attempts,
                            error=error,
                        )
                    )
        if not report.shop_erased:
            await record_shopify_outcomes(connection, shop_id=shop_id, outcomes=outcomes)
    report.add(outcomes)
    return report


async def run_apply_shopify(
    pool: Pool, *, shop_id: int, batch_size: int = BATCH_SIZE, budget_seconds: float = 60.0
) -> ApplyReport:
    """Apply batches until nothing due is left (or the time budget is spent: the job then
    ends well inside arq's timeout and the sweeper re-triggers the rest); returns the totals."""
    total = ApplyReport()
    deadline = time.monotonic() + budget_seconds
    while True:
        async with pool.acquire() as connection:
            report = await apply_shopify_batch(connection, shop_id=shop_id, limit=batch_size)
        total.claimed += report.claimed
        for status, count in report.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
        total.refresh_orders.extend(report.refresh_orders)
        total.shop_erased = total.shop_erased or report.shop_erased
        if report.claimed < batch_size or report.shop_erased or time.monotonic() > deadline:
            return total


async def apply_shopify(ctx: dict[str, Any], shop_id: int) -> dict[str, int]:
    res = resources(ctx)
    report = await run_apply_shopify(res.pool, shop_id=shop_id)
    if report.claimed:
        log.info("apply.shopify_done", shop_id=shop_id, claimed=report.claimed, **report.statuses)
    refresh = getattr(names, "REFRESH_ORDERS", None)
    if report.refresh_orders and refresh is not None:
        queue = res.runtime.settings.queue_name
        await trigger(
            res.redis, refresh, shop_id, queue_name=queue, unique_id=job_id(queue, refresh, shop_id)
        )
    return report.statuses
