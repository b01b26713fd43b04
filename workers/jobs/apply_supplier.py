"""Apply a supplier account's stored deliveries: supplier orders, packages, links to Shopify.

One job per supplier account. It claims the account's due pending deliveries in id order, parses
each with `core` (CJ with the account's time zone; AliExpress pushes are hints that mark the
supplier order for a re-read; the generic format), resolves the shop and the Shopify order from
the merchant's reference, writes the supplier order and its packages, and records the outcome,
all in one transaction. Supplier volume is low, so deliveries are applied one by one inside the
batch, each in a savepoint: a failing one is retried with backoff without holding up the rest.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from core.order_reference import ReferenceKey, reference_keys, resolve_reference
from core.supplier_events import (
    IgnoredSupplierMessage,
    SupplierEvent,
    SupplierEventKind,
    SupplierHint,
    TrackingStatus,
    parse_aliexpress_push,
    parse_cj_message,
    parse_generic_event,
)
from core.tracking import normalize_supplier_id
from schema.db import Connection, Pool
from schema.queries.inbox import (
    DeliveryOutcome,
    DeliveryStatus,
    PendingSupplierDelivery,
    claim_pending_supplier,
    record_supplier_outcomes,
)
from schema.queries.shopify_state import OrderEventRow, insert_order_events
from schema.queries.supplier_accounts import SupplierAccountRecord, get_supplier_account
from schema.queries.supplier_state import (
    find_orders_by_reference,
    find_supplier_order,
    items_json,
    remove_supplier_order,
    upsert_packages,
    upsert_supplier_order,
)
from workers import names
from workers.context import resources
from workers.jobs.delivery_retry import failure_outcome
from workers.trigger import trigger

__all__ = ["apply_supplier", "apply_supplier_batch", "run_apply_supplier"]

log = structlog.get_logger()

BATCH_SIZE = 200
_LOCK_NAMESPACE = 0x5D1F_0002

_STATUS_BY_KIND = {
    SupplierEventKind.ORDER_PLACED: "placed",
    SupplierEventKind.ORDER_SHIPPED: "shipped",
    SupplierEventKind.TRACKING_UPDATED: "shipped",
    SupplierEventKind.ORDER_CANCELLED: "cancelled",
    SupplierEventKind.ORDER_SPLIT: "split",
}


class UnappliableError(Exception):
    """The delivery can never apply as things stand (parked at once, with this message)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Link:
    shop_id: int
    shopify_order_id: int | None
    matched_by: str | None


def _parse(
    account: SupplierAccountRecord, delivery: PendingSupplierDelivery
) -> SupplierEvent | SupplierHint | IgnoredSupplierMessage:
    body = delivery.body or b""
    if account.kind == "cj":
        try:
            zone = ZoneInfo(account.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise UnappliableError(f"account time zone {account.timezone!r} is unknown") from error
        return parse_cj_message(body, tz=zone)
    if account.kind == "aliexpress":
        return parse_aliexpress_push(body)
    return parse_generic_event(body, msg_id=delivery.dedup_key.removeprefix("generic:"))


def _note_attribute_names(account: SupplierAccountRecord) -> list[str]:
    names = account.settings.get("note_attributes") or []
    return [str(name) for name in names] if isinstance(names, list) else []


async def _link(
    connection: Connection,
    account: SupplierAccountRecord,
    *,
    supplier_order_id: str,
    reference: str | None,
) -> _Link:
    shops = account.shop_ids or ([account.default_shop_id] if account.default_shop_id else [])
    existing = await find_supplier_order(
        connection,
        account_id=account.account_id,
        external_id_norm=normalize_supplier_id(supplier_order_id),
    )
    if reference and shops:
        keys: frozenset[ReferenceKey] = reference_keys(
            reference, note_attribute_names=_note_attribute_names(account)
        )
        found = await find_orders_by_reference(
            connection,
            shop_ids=shops,
            keys=keys,
            note_attribute_names=_note_attribute_names(account),
        )
        shop_of = {order_id: shop_id for shop_id, order_id in found}
        resolution = resolve_reference(
            keys, {order_id: matched for (_, order_id), matched in found.items()}
        )
        if resolution.order_id is not None:
            shop_id = shop_of[resolution.order_id]
            if existing is not None and existing.shop_id != shop_id:
                # First kept unmatched under the default shop; now it belongs elsewhere.
                await remove_supplier_order(
                    connection,
                    shop_id=existing.shop_id,
                    supplier_order_id=existing.supplier_order_id,
                )
            matched_by = resolution.matched_by.value if resolution.matched_by else None
            return _Link(
                shop_id=shop_id, shopify_order_id=resolution.order_id, matched_by=matched_by
            )
    if existing is not None:
        return _Link(
            shop_id=existing.shop_id, shopify_order_id=existing.shopify_order_id, matched_by=None
        )
    default = account.default_shop_id or (shops[0] if shops else None)
    if default is None:
        raise UnappliableError(
            "the account has no linked or default shop to keep its supplier orders under"
        )
    return _Link(shop_id=default, shopify_order_id=None, matched_by=None)


def _status(event: SupplierEvent) -> str:
    status = _STATUS_BY_KIND[event.kind]
    if (
        status == "shipped"
        and event.packages
        and all(package.status is TrackingStatus.DELIVERED for package in event.packages)
    ):
        return "delivered"
    return status


async def _apply_event(
    connection: Connection,
    account: SupplierAccountRecord,
    delivery: PendingSupplierDelivery,
    event: SupplierEvent,
) -> tuple[int, list[OrderEventRow]]:
    link = await _link(
        connection,
        account,
        supplier_order_id=event.supplier_order_id,
        reference=event.shopify_reference,
    )
    at: datetime = event.occurred_at or delivery.received_at
    packaged_items = [item for package in event.packages for item in package.items]
    supplier_order_id = await upsert_supplier_order(
        connection,
        shop_id=link.shop_id,
        account_id=account.account_id,
        external_id=event.supplier_order_id,
        external_id_norm=normalize_supplier_id(event.supplier_order_id),
        reference=event.shopify_reference,
        shopify_order_id=link.shopify_order_id,
        status=_status(event),
        updated_at=at,
        lines_json=items_json(packaged_items)
        if event.kind is SupplierEventKind.ORDER_SPLIT
        else None,
        placed_at=at if event.kind is SupplierEventKind.ORDER_PLACED else None,
    )
    if event.packages:
        await upsert_packages(
            connection,
            shop_id=link.shop_id,
            supplier_order_id=supplier_order_id,
            packages=event.packages,
            shipped_at=at,
            # CJ ships one package per order: a new number there is a relabel.
            one_package_per_order=account.kind == "cj",
            message_at=at,
        )
    for part in event.split_into:
        await upsert_supplier_order(
            connection,
            shop_id=link.shop_id,
            account_id=account.account_id,
            external_id=part.supplier_order_id,
            external_id_norm=normalize_supplier_id(part.supplier_order_id),
            reference=event.shopify_reference,
            shopify_order_id=link.shopify_order_id,
            status=None,
            updated_at=part.created_at or at,
            lines_json=items_json(part.items),
            parent_external_id=event.supplier_order_id,
            placed_at=part.created_at or at,
        )
    detail: dict[str, Any] = {
        "delivery_id": delivery.delivery_id,
        "account_id": account.account_id,
        "supplier_order": event.supplier_order_id,
        "event": event.kind.value,
        "tracking_numbers": [package.tracking.original for package in event.packages],
    }
    events = [
        OrderEventRow(
            order_id=link.shopify_order_id,
            supplier_order_id=supplier_order_id,
            kind=f"supplier.{event.kind.value}",
            actor=f"supplier:{account.kind}",
            detail=detail,
        )
    ]
    if link.shopify_order_id is None:
        log.info(
            "supplier.order_unmatched",
            account_id=account.account_id,
            shop_id=link.shop_id,
            supplier_order=event.supplier_order_id,
            reference=event.shopify_reference,
        )
        events.append(
            OrderEventRow(
                order_id=None,
                supplier_order_id=supplier_order_id,
                kind="supplier_order.unmatched",
                actor=f"supplier:{account.kind}",
                detail={**detail, "reference": event.shopify_reference},
            )
        )
    return link.shop_id, events


async def _apply_hint(
    connection: Connection,
    account: SupplierAccountRecord,
    delivery: PendingSupplierDelivery,
    hint: SupplierHint,
) -> tuple[int, list[OrderEventRow]]:
    link = await _link(
        connection, account, supplier_order_id=hint.supplier_order_id, reference=None
    )
    supplier_order_id = await upsert_supplier_order(
        connection,
        shop_id=link.shop_id,
        account_id=account.account_id,
        external_id=hint.supplier_order_id,
        external_id_norm=normalize_supplier_id(hint.supplier_order_id),
        reference=None,
        shopify_order_id=link.shopify_order_id,
        status=None,
        updated_at=hint.occurred_at or delivery.received_at,
        needs_refresh=True,
    )
    return link.shop_id, [
        OrderEventRow(
            order_id=link.shopify_order_id,
            supplier_order_id=supplier_order_id,
            kind="supplier.refresh_requested",
            actor=f"supplier:{account.kind}",
            detail={
                "delivery_id": delivery.delivery_id,
                "supplier_order": hint.supplier_order_id,
                "status": hint.status,
            },
        )
    ]


async def _apply_one(
    connection: Connection, account: SupplierAccountRecord, delivery: PendingSupplierDelivery
) -> tuple[DeliveryOutcome, int | None]:
    if delivery.body is None:
        outcome = DeliveryOutcome(
            delivery_id=delivery.delivery_id,
            status=DeliveryStatus.IGNORED,
            error="payload erased; nothing to apply",
        )
        return outcome, None
    try:
        parsed = _parse(account, delivery)
    except Exception as error:  # noqa: BLE001  (a parse failure parks the delivery with it)
        failed = DeliveryOutcome(
            delivery_id=delivery.delivery_id,
            status=DeliveryStatus.FAILED,
            error=f"payload does not parse: {error}",
        )
        return failed, None
    if isinstance(parsed, IgnoredSupplierMessage):
        ignored = DeliveryOutcome(
            delivery_id=delivery.delivery_id,
            status=DeliveryStatus.IGNORED,
            error=f"message type {parsed.message_type!r} is not applied",
        )
        return ignored, None
    try:
        async with connection.transaction():
            if isinstance(parsed, SupplierHint):
                shop_id, events = await _apply_hint(connection, account, delivery, parsed)
            else:
                shop_id, events = await _apply_event(connection, account, delivery, parsed)
            await insert_order_events(connection, shop_id=shop_id, events=events)
    except UnappliableError as error:
        parked = DeliveryOutcome(
            delivery_id=delivery.delivery_id, status=DeliveryStatus.FAILED, error=str(error)
        )
        return parked, None
    except Exception as error:  # noqa: BLE001  (retried with backoff, then parked)
        log.warning(
            "apply.supplier_delivery_failed",
            account_id=account.account_id,
            delivery_id=delivery.delivery_id,
            error=repr(error),
        )
        return failure_outcome(
            delivery_id=delivery.delivery_id,
            previous_attempts=delivery.attempts,
            error=error,
        ), None
    applied = DeliveryOutcome(delivery_id=delivery.delivery_id, status=DeliveryStatus.APPLIED)
    return applied, shop_id


async def apply_supplier_batch(
    connection: Connection,
    *,
    account_id: int,
    limit: int = BATCH_SIZE,
    touched_shops: set[int] | None = None,
) -> dict[str, int]:
    """Claim, apply and record one batch of the account's due deliveries; returns counts.

    The shops that applied deliveries resolved to are added to `touched_shops`.
    """
    counts: dict[str, int] = {}
    async with connection.transaction():
        await connection.execute(
            "SELECT pg_advisory_xact_lock($1, $2)", _LOCK_NAMESPACE, account_id % 2**31
        )
        account = await get_supplier_account(connection, account_id)
        if account is None:
            return counts
        claimed = await claim_pending_supplier(connection, account_id=account_id, limit=limit)
        counts["claimed"] = len(claimed)
        outcomes: list[DeliveryOutcome] = []
        resolved: list[tuple[int, int]] = []
        for delivery in claimed:
            outcome, shop_id = await _apply_one(connection, account, delivery)
            outcomes.append(outcome)
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if shop_id is not None:
                resolved.append((delivery.delivery_id, shop_id))
                if touched_shops is not None:
                    touched_shops.add(shop_id)
        await record_supplier_outcomes(connection, account_id=account_id, outcomes=outcomes)
        if resolved:
            await connection.execute(
                """
                UPDATE supplier_delivery d SET shop_id = t.shop_id
                FROM unnest($2::bigint[], $3::bigint[]) AS t(delivery_id, shop_id)
                WHERE d.account_id = $1 AND d.delivery_id = t.delivery_id
                """,
                account_id,
                [delivery_id for delivery_id, _ in resolved],
                [shop_id for _, shop_id in resolved],
            )
    return counts


async def run_apply_supplier(
    pool: Pool,
    *,
    account_id: int,
    batch_size: int = BATCH_SIZE,
    budget_seconds: float = 60.0,
    touched_shops: set[int] | None = None,
) -> dict[str, int]:
    """Apply batches until nothing due is left or the time budget is spent; returns totals."""
    total: dict[str, int] = {}
    deadline = time.monotonic() + budget_seconds
    while True:
        async with pool.acquire() as connection:
            counts = await apply_supplier_batch(
                connection, account_id=account_id, limit=batch_size, touched_shops=touched_shops
            )
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        if counts.get("claimed", 0) < batch_size or time.monotonic() > deadline:
            return total


async def apply_supplier(ctx: dict[str, Any], account_id: int) -> dict[str, int]:
    res = resources(ctx)
    touched: set[int] = set()
    counts = await run_apply_supplier(res.pool, account_id=account_id, touched_shops=touched)
    if counts.get("claimed"):
        log.info("apply.supplier_done", account_id=account_id, **counts)
    # New packages or statuses may be ready to push to Shopify; the push job decides.
    push_shop = getattr(names, "PUSH_SHOP", None)
    if push_shop is not None:
        queue = res.runtime.settings.queue_name
        for shop_id in sorted(touched):
            await trigger(res.redis, push_shop, shop_id, queue_name=queue)
    return counts
