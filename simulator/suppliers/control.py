"""JSON control endpoints under ``/_sim`` for driving the simulator out of process.

Create, ship, split and cancel orders, add tracking events, change tracking
numbers, set delivery and fault knobs, point webhooks at URLs, flush the
outbox, move a manual clock and read stats or the message history.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.suppliers.announce import TOPICS
from simulator.suppliers.errors import InvalidTransitionError, UnknownOrderError
from simulator.suppliers.faults import FaultInjector
from simulator.suppliers.model import (
    CjTrackingStatus,
    LineItem,
    Package,
    Supplier,
    SupplierOrder,
)
from simulator.suppliers.simulator import ShipmentSpec, SupplierSimulator

__all__ = ["ControlApi", "line_item_from_json", "order_json"]

Handler = Callable[[Request], Awaitable[Response]]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _line_item_json(item: LineItem) -> dict[str, Any]:
    return {
        "quantity": item.quantity,
        "sku": item.sku,
        "variant_id": item.variant_id,
        "shopify_line_item_id": item.shopify_line_item_id,
        "product_id": item.product_id,
        "title": item.title,
        "unit_price": item.unit_price,
    }


def _package_json(package: Package) -> dict[str, Any]:
    return {
        "package_id": package.package_id,
        "tracking_number": package.tracking_number,
        "previous_tracking_numbers": list(package.previous_tracking_numbers),
        "carrier": package.carrier,
        "tracking_url": package.tracking_url,
        "shipped_at": _iso(package.shipped_at),
        "tracking_status": int(package.latest_status),
        "line_items": [_line_item_json(i) for i in package.line_items],
        "events": [
            {
                "occurred_at": _iso(e.occurred_at),
                "status": int(e.status),
                "description": e.description,
                "location": e.location,
            }
            for e in package.events
        ],
    }


def order_json(order: SupplierOrder) -> dict[str, Any]:
    """The simulator's own view of an order (not any supplier's format)."""
    return {
        "supplier": order.supplier.value,
        "supplier_order_id": order.supplier_order_id,
        "merchant_reference": order.merchant_reference,
        "shopify_order_id": order.shopify_order_id,
        "order_name": order.order_name,
        "status": order.status.value,
        "line_items": [_line_item_json(i) for i in order.line_items],
        "packages": [_package_json(p) for p in order.packages],
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
        "shipped_at": _iso(order.shipped_at),
        "delivered_at": _iso(order.delivered_at),
        "cancelled_at": _iso(order.cancelled_at),
        "cancel_reason": order.cancel_reason,
        "split_from": order.split_from,
        "split_into": list(order.split_into),
    }


def line_item_from_json(raw: Any) -> LineItem:
    if not isinstance(raw, dict):
        raise TypeError("a line item is a JSON object")
    return LineItem(
        quantity=int(raw["quantity"]),
        sku=raw.get("sku"),
        variant_id=_opt_str(raw.get("variant_id")),
        shopify_line_item_id=_opt_str(raw.get("shopify_line_item_id")),
        product_id=_opt_str(raw.get("product_id")),
        title=raw.get("title"),
        unit_price=str(raw.get("unit_price", "4.99")),
    )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _items(raw: Any) -> tuple[LineItem, ...]:
    if not isinstance(raw, list):
        raise TypeError("line_items must be a list")
    return tuple(line_item_from_json(item) for item in raw)


def _guarded(handler: Handler) -> Handler:
    """Turn the simulator's refusals into 4xx answers."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except UnknownOrderError as exc:
            return JSONResponse({"error": f"unknown: {exc.args[0]}"}, status_code=404)
        except InvalidTransitionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse(
                {"error": f"bad request: {type(exc).__name__}: {exc}"}, status_code=422
            )

    return wrapped


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise TypeError("the request body must be a JSON object")
    return body


class ControlApi:
    """``/_sim`` route handlers bound to one simulator and fault injector."""

    def __init__(self, sim: SupplierSimulator, *, faults: FaultInjector) -> None:
        self._sim = sim
        self._faults = faults

    def routes(self) -> list[Route]:
        table: list[tuple[str, Handler, list[str]]] = [
            ("/_sim/orders", self.create_order, ["POST"]),
            ("/_sim/orders", self.list_orders, ["GET"]),
            ("/_sim/orders/{order_id}", self.get_order, ["GET"]),
            ("/_sim/orders/{order_id}/ship", self.ship, ["POST"]),
            ("/_sim/orders/{order_id}/tracking-events", self.tracking_event, ["POST"]),
            ("/_sim/orders/{order_id}/tracking-number", self.tracking_number, ["POST"]),
            ("/_sim/orders/{order_id}/deliver", self.deliver_order, ["POST"]),
            ("/_sim/orders/{order_id}/split", self.split, ["POST"]),
            ("/_sim/orders/{order_id}/cancel", self.cancel, ["POST"]),
            ("/_sim/orders/{order_id}/journey", self.journey, ["POST"]),
            ("/_sim/orders/{order_id}/schedule-ship", self.schedule_ship, ["POST"]),
            ("/_sim/tick", self.tick, ["POST"]),
            ("/_sim/knobs", self.get_knobs, ["GET"]),
            ("/_sim/knobs", self.set_knobs, ["PUT", "POST"]),
            ("/_sim/webhooks", self.get_webhooks, ["GET"]),
            ("/_sim/webhooks", self.set_webhooks, ["PUT", "POST"]),
            ("/_sim/webhooks/generic/rotate-secret", self.rotate_secret, ["POST"]),
            ("/_sim/flush", self.flush, ["POST"]),
            ("/_sim/clock/advance", self.advance_clock, ["POST"]),
            ("/_sim/stats", self.stats, ["GET"]),
            ("/_sim/messages", self.messages, ["GET"]),
        ]
        return [Route(path, _guarded(h), methods=m) for path, h, m in table]

    async def create_order(self, request: Request) -> Response:
        body = await _body(request)
        order = self._sim.place_order(
            Supplier(body["supplier"]),
            merchant_reference=str(body["merchant_reference"]),
            line_items=_items(body["line_items"]),
            shopify_order_id=_opt_str(body.get("shopify_order_id")),
            order_name=body.get("order_name"),
            supplier_order_id=_opt_str(body.get("supplier_order_id")),
            logistic_name=body.get("logistic_name"),
        )
        return JSONResponse(order_json(order), status_code=201)

    async def list_orders(self, request: Request) -> Response:
        supplier = request.query_params.get("supplier")
        orders = self._sim.orders(
            supplier=Supplier(supplier) if supplier else None,
            merchant_reference=request.query_params.get("merchant_reference"),
        )
        return JSONResponse({"orders": [order_json(o) for o in orders]})

    async def get_order(self, request: Request) -> Response:
        return JSONResponse(order_json(self._sim.order(request.path_params["order_id"])))

    async def ship(self, request: Request) -> Response:
        body = await _body(request)
        specs = None
        if body.get("packages"):
            specs = [
                ShipmentSpec(
                    line_items=_items(p["line_items"]) if p.get("line_items") else None,
                    tracking_number=p.get("tracking_number"),
                    carrier=p.get("carrier"),
                    tracking_url=p.get("tracking_url"),
                )
                for p in body["packages"]
            ]
        order_id = request.path_params["order_id"]
        self._sim.ship(order_id, packages=specs)
        return JSONResponse(order_json(self._sim.order(order_id)))

    async def tracking_event(self, request: Request) -> Response:
        body = await _body(request)
        order_id = request.path_params["order_id"]
        occurred = body.get("occurred_at")
        self._sim.add_tracking_event(
            order_id,
            status=CjTrackingStatus(int(body["status"])),
            package_id=body.get("package_id"),
            description=body.get("description"),
            location=body.get("location", ""),
            occurred_at=datetime.fromisoformat(occurred) if occurred else None,
        )
        return JSONResponse(order_json(self._sim.order(order_id)))

    async def tracking_number(self, request: Request) -> Response:
        body = await _body(request)
        order_id = request.path_params["order_id"]
        self._sim.change_tracking_number(
            order_id,
            tracking_number=body.get("tracking_number"),
            package_id=body.get("package_id"),
            carrier=body.get("carrier"),
            tracking_url=body.get("tracking_url"),
        )
        return JSONResponse(order_json(self._sim.order(order_id)))

    async def deliver_order(self, request: Request) -> Response:
        body = await _body(request)
        order_id = request.path_params["order_id"]
        self._sim.mark_delivered(order_id, package_id=body.get("package_id"))
        return JSONResponse(order_json(self._sim.order(order_id)))

    async def split(self, request: Request) -> Response:
        body = await _body(request)
        parts = [_items(part) for part in body["parts"]]
        children = self._sim.split(request.path_params["order_id"], parts=parts)
        return JSONResponse({"children": [order_json(c) for c in children]})

    async def cancel(self, request: Request) -> Response:
        body = await _body(request)
        order = self._sim.cancel(request.path_params["order_id"], reason=body.get("reason"))
        return JSONResponse(order_json(order))

    async def journey(self, request: Request) -> Response:
        body = await _body(request)
        start_after = body.get("start_after_seconds")
        times = self._sim.schedule_journey(
            request.path_params["order_id"],
            package_id=body.get("package_id"),
            step=timedelta(seconds=float(body.get("step_seconds", 43200))),
            jitter=timedelta(seconds=float(body.get("jitter_seconds", 0))),
            start_after=None if start_after is None else timedelta(seconds=float(start_after)),
        )
        return JSONResponse({"scheduled": [t.isoformat() for t in times]})

    async def schedule_ship(self, request: Request) -> Response:
        body = await _body(request)
        step = body.get("journey_step_seconds", 43200)
        due = self._sim.schedule_shipment(
            request.path_params["order_id"],
            after=timedelta(seconds=float(body.get("after_seconds", 0))),
            journey_step=None if step is None else timedelta(seconds=float(step)),
        )
        return JSONResponse({"ships_at": due.isoformat()})

    async def tick(self, request: Request) -> Response:
        ran = self._sim.tick()
        return JSONResponse({"ran": ran, "scheduled": len(self._sim.timeline)})

    def _knobs_json(self) -> dict[str, Any]:
        return {
            "delivery": {s.value: self._sim.knobs(s).to_json() for s in Supplier},
            "faults": self._faults.knobs.to_json(),
        }

    async def get_knobs(self, request: Request) -> Response:
        return JSONResponse(self._knobs_json())

    async def set_knobs(self, request: Request) -> Response:
        body = await _body(request)
        for supplier, changes in (body.get("delivery") or {}).items():
            self._sim.set_knobs(Supplier(supplier), **changes)
        if body.get("faults"):
            self._faults.knobs = self._faults.knobs.updated(body["faults"])
        return JSONResponse(self._knobs_json())

    def _webhooks_json(self) -> dict[str, Any]:
        return {
            "urls": {
                s.value: {t: self._sim.webhook_url(s, t) for t in TOPICS[s]} for s in Supplier
            },
            "generic_secrets": list(self._sim.settings.generic_secrets),
            "paused": {s.value: self._sim.outbox.is_paused(s) for s in Supplier},
        }

    async def get_webhooks(self, request: Request) -> Response:
        return JSONResponse(self._webhooks_json())

    async def set_webhooks(self, request: Request) -> Response:
        body = await _body(request)
        supplier = Supplier(body["supplier"])
        self._sim.set_webhook_url(supplier, body.get("url"), topic=body.get("topic"))
        if body.get("resume"):
            self._sim.outbox.resume(supplier)
        return JSONResponse(self._webhooks_json())

    async def rotate_secret(self, request: Request) -> Response:
        body = await _body(request)
        secret = self._sim.rotate_generic_secret(
            body.get("secret"), keep_previous=bool(body.get("keep_previous", True))
        )
        return JSONResponse({"secret": secret, **self._webhooks_json()})

    async def flush(self, request: Request) -> Response:
        body = await _body(request)
        report = await self._sim.deliver(
            include_delayed=bool(body.get("include_delayed", False)),
            concurrency=int(body.get("concurrency", 1)),
        )
        return JSONResponse(report.to_json())

    async def advance_clock(self, request: Request) -> Response:
        body = await _body(request)
        now = self._sim.advance(timedelta(seconds=float(body["seconds"])))
        return JSONResponse({"now": now.isoformat()})

    async def stats(self, request: Request) -> Response:
        return JSONResponse(
            {
                **self._sim.stats(),
                "scheduled": len(self._sim.timeline),
                "schedule_failures": len(self._sim.schedule_failures),
                "api": dict(self._faults.counts),
                "now": self._sim.clock.now().isoformat(),
            }
        )

    async def messages(self, request: Request) -> Response:
        supplier = request.query_params.get("supplier")
        found = self._sim.messages(
            supplier=Supplier(supplier) if supplier else None,
            topic=request.query_params.get("topic"),
        )
        return JSONResponse(
            {
                "messages": [
                    {
                        "message_id": m.message_id,
                        "supplier": m.supplier.value,
                        "topic": m.topic,
                        "url": m.url,
                        "created_at": m.created_at.isoformat(),
                        "body": m.json(),
                    }
                    for m in found
                ]
            }
        )
