"""Mutation resolvers: parse inputs, call `ShopBehaviour`, shape payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.shopify.arguments import line_item_pairs, parse_id_argument, require_id
from simulator.shopify.behaviour import FulfillmentRequest, UserErrors, UserErrorSpec
from simulator.shopify.context import ExecutionContext
from simulator.shopify.ids import gid
from simulator.shopify.model import FulfillmentOrder, Shop

__all__ = ["MUTATION_RESOLVERS"]

Resolver = Callable[[Any, ExecutionContext, dict[str, Any]], Any]
Payload = dict[str, Any]


def _errors(error: UserErrors, **nulls: Any) -> Payload:
    return {**nulls, "userErrors": [e.as_graphql() for e in error.errors]}


def _not_found(field: list[str], message: str, code: str | None = None) -> UserErrors:
    return UserErrors([UserErrorSpec(field=tuple(field), message=message, code=code)])


def _fulfillment_order(shop: Shop, value: Any, field: list[str]) -> FulfillmentOrder:
    number = require_id(value, "FulfillmentOrder")
    fulfillment_order = shop.fulfillment_orders.get(number) if number else None
    if fulfillment_order is None:
        raise _not_found(
            field, "Fulfillment order does not exist.", "FULFILLMENT_ORDER_NOT_FOUND"
        )
    return fulfillment_order


def _fulfillment_create(
    _root: Any, ctx: ExecutionContext, args: dict[str, Any]
) -> Payload:
    spec = args["fulfillment"]
    try:
        requests = []
        for group in spec.get("lineItemsByFulfillmentOrder") or []:
            number = require_id(group["fulfillmentOrderId"], "FulfillmentOrder")
            requests.append(
                FulfillmentRequest(
                    fulfillment_order_id=number or 0,
                    line_items=_tuple_or_none(
                        line_item_pairs(group.get("fulfillmentOrderLineItems"))
                    ),
                )
            )
        fulfillment = ctx.behaviour.create_fulfillment(
            ctx.shop,
            requests=requests,
            tracking=spec.get("trackingInfo"),
            notify_customer=bool(spec.get("notifyCustomer") or False),
            origin_address=spec.get("originAddress"),
            message=args.get("message"),
            created_by="app",
        )
    except UserErrors as error:
        return _errors(error, fulfillment=None)
    return {"fulfillment": fulfillment, "userErrors": []}


def _tuple_or_none(
    pairs: list[tuple[int, int]] | None,
) -> tuple[tuple[int, int], ...] | None:
    return tuple(pairs) if pairs is not None else None


def _fulfillment_by_id(ctx: ExecutionContext, value: Any, field: str) -> Any:
    number = require_id(value, "Fulfillment")
    fulfillment = ctx.shop.fulfillments.get(number) if number else None
    if fulfillment is None:
        raise _not_found([field], "Fulfillment does not exist.")
    return fulfillment


def _tracking_update(
    _root: Any, ctx: ExecutionContext, args: dict[str, Any]
) -> Payload:
    try:
        fulfillment = _fulfillment_by_id(ctx, args["fulfillmentId"], "fulfillmentId")
        ctx.behaviour.update_tracking(
            ctx.shop, fulfillment, tracking=args["trackingInfoInput"]
        )
    except UserErrors as error:
        return _errors(error, fulfillment=None)
    return {"fulfillment": fulfillment, "userErrors": []}


def _fulfillment_cancel(
    _root: Any, ctx: ExecutionContext, args: dict[str, Any]
) -> Payload:
    try:
        fulfillment = _fulfillment_by_id(ctx, args["id"], "id")
        ctx.behaviour.cancel_fulfillment(ctx.shop, fulfillment)
    except UserErrors as error:
        return _errors(error, fulfillment=None)
    return {"fulfillment": fulfillment, "userErrors": []}


def _hold(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Payload:
    spec = args["fulfillmentHold"]
    try:
        fulfillment_order = _fulfillment_order(ctx.shop, args["id"], ["id"])
        hold, remaining = ctx.behaviour.hold(
            ctx.shop,
            fulfillment_order,
            reason=spec["reason"],
            reason_notes=spec.get("reasonNotes"),
            handle=spec.get("handle"),
            external_id=spec.get("externalId"),
            line_items=line_item_pairs(spec.get("fulfillmentOrderLineItems")),
        )
    except UserErrors as error:
        return _errors(
            error,
            fulfillmentHold=None,
            fulfillmentOrder=None,
            remainingFulfillmentOrder=None,
        )
    return {
        "fulfillmentHold": hold,
        "fulfillmentOrder": fulfillment_order,
        "remainingFulfillmentOrder": remaining,
        "userErrors": [],
    }


def _release_hold(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Payload:
    try:
        fulfillment_order = _fulfillment_order(ctx.shop, args["id"], ["id"])
        hold_ids = args.get("holdIds")
        ctx.behaviour.release_hold(
            ctx.shop,
            fulfillment_order,
            hold_ids=(
                [require_id(h, "FulfillmentHold") or 0 for h in hold_ids]
                if hold_ids is not None
                else None
            ),
        )
    except UserErrors as error:
        return _errors(error, fulfillmentOrder=None)
    return {"fulfillmentOrder": fulfillment_order, "userErrors": []}


def _move(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Payload:
    try:
        fulfillment_order = _fulfillment_order(ctx.shop, args["id"], ["id"])
        location_id = require_id(args["newLocationId"], "Location") or 0
        moved = ctx.behaviour.move(
            ctx.shop,
            fulfillment_order,
            location_id=location_id,
            line_items=line_item_pairs(args.get("fulfillmentOrderLineItems")),
        )
    except UserErrors as error:
        return _errors(
            error,
            movedFulfillmentOrder=None,
            originalFulfillmentOrder=None,
            remainingFulfillmentOrder=None,
        )
    return {
        "movedFulfillmentOrder": moved,
        "originalFulfillmentOrder": fulfillment_order,
        "remainingFulfillmentOrder": None,
        "userErrors": [],
    }


def _split(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Payload:
    results = []
    try:
        for spec in args["fulfillmentOrderSplits"]:
            fulfillment_order = _fulfillment_order(
                ctx.shop, spec["fulfillmentOrderId"], ["fulfillmentOrderSplits"]
            )
            remaining = ctx.behaviour.split(
                ctx.shop,
                fulfillment_order,
                line_items=line_item_pairs(spec["fulfillmentOrderLineItems"]) or [],
            )
            results.append(
                {
                    "fulfillmentOrder": fulfillment_order,
                    "remainingFulfillmentOrder": remaining,
                    "replacementFulfillmentOrder": None,
                }
            )
    except UserErrors as error:
        return _errors(error, fulfillmentOrderSplits=None)
    return {"fulfillmentOrderSplits": results, "userErrors": []}


def _fo_cancel(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Payload:
    try:
        fulfillment_order = _fulfillment_order(ctx.shop, args["id"], ["id"])
        replacement = ctx.behaviour.cancel_fulfillment_order(
            ctx.shop, fulfillment_order
        )
    except UserErrors as error:
        return _errors(error, fulfillmentOrder=None, replacementFulfillmentOrder=None)
    return {
        "fulfillmentOrder": fulfillment_order,
        "replacementFulfillmentOrder": replacement,
        "userErrors": [],
    }


def _fo_close(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Payload:
    try:
        fulfillment_order = _fulfillment_order(ctx.shop, args["id"], ["id"])
        ctx.behaviour.close_fulfillment_order(ctx.shop, fulfillment_order)
    except UserErrors as error:
        return _errors(error, fulfillmentOrder=None)
    return {"fulfillmentOrder": fulfillment_order, "userErrors": []}


def _order_cancel(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Payload:
    number = require_id(args["orderId"], "Order")
    order = ctx.shop.orders.get(number) if number else None
    try:
        if order is None:
            raise _not_found(["orderId"], "Order does not exist.", "NOT_FOUND")
        ctx.behaviour.cancel_order(ctx.shop, order, reason=str(args["reason"]))
    except UserErrors as error:
        return {
            "job": None,
            "orderCancelUserErrors": [e.as_graphql() for e in error.errors],
            "userErrors": [e.as_graphql() for e in error.errors],
        }
    job_id = gid("Job", order.id)
    return {
        "job": {"id": job_id, "done": True},
        "orderCancelUserErrors": [],
        "userErrors": [],
    }


def _order_close(_root: Any, ctx: ExecutionContext, args: dict[str, Any]) -> Payload:
    number = require_id(args["input"]["id"], "Order")
    order = ctx.shop.orders.get(number) if number else None
    if order is None:
        return {
            "order": None,
            "userErrors": [{"field": ["id"], "message": "Order does not exist."}],
        }
    ctx.behaviour.close_order(ctx.shop, order)
    return {"order": order, "userErrors": []}


def _subscription_create(
    _root: Any, ctx: ExecutionContext, args: dict[str, Any]
) -> Payload:
    try:
        subscription = ctx.behaviour.create_subscription(
            ctx.shop,
            topic=str(args["topic"]),
            spec=dict(args["webhookSubscription"]),
            api_version=ctx.api_version,
            require_https=ctx.require_https_webhooks,
        )
    except UserErrors as error:
        return _errors(error, webhookSubscription=None)
    return {"webhookSubscription": subscription, "userErrors": []}


def _subscription_delete(
    _root: Any, ctx: ExecutionContext, args: dict[str, Any]
) -> Payload:
    type_name, number = parse_id_argument(args["id"])
    subscription = (
        ctx.shop.subscriptions.pop(number, None)
        if type_name == "WebhookSubscription"
        else None
    )
    if subscription is None:
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [
                {"field": ["id"], "message": "Webhook subscription does not exist"}
            ],
        }
    return {
        "deletedWebhookSubscriptionId": gid("WebhookSubscription", number),
        "userErrors": [],
    }


MUTATION_RESOLVERS: dict[str, Resolver] = {
    "fulfillmentCreate": _fulfillment_create,
    "fulfillmentCreateV2": _fulfillment_create,
    "fulfillmentTrackingInfoUpdate": _tracking_update,
    "fulfillmentTrackingInfoUpdateV2": _tracking_update,
    "fulfillmentCancel": _fulfillment_cancel,
    "fulfillmentOrderHold": _hold,
    "fulfillmentOrderReleaseHold": _release_hold,
    "fulfillmentOrderMove": _move,
    "fulfillmentOrderSplit": _split,
    "fulfillmentOrderCancel": _fo_cancel,
    "fulfillmentOrderClose": _fo_close,
    "orderCancel": _order_cancel,
    "orderClose": _order_close,
    "webhookSubscriptionCreate": _subscription_create,
    "webhookSubscriptionDelete": _subscription_delete,
}
