"""`ShopifySimulator`: the public face of the fake Shopify (state, knobs, inspection).

Tests build one simulator, add shops and orders, hand `sim.app` (an ASGI app) to an
`httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app))`, and drive time with an
injected clock. Methods that act "underneath" the client (holds, moves, cancels,
merchant fulfilments) follow the same rules, and emit the same webhooks, as the GraphQL
mutations.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from simulator.shopify.behaviour import FulfillmentRequest, ShopBehaviour
from simulator.shopify.faults import FaultInjector, FaultKind, FaultPlan
from simulator.shopify.ids import IdAllocator, gid, parse_gid
from simulator.shopify.model import (
    CallRecord,
    Fulfillment,
    FulfillmentOrder,
    Order,
    Plan,
    Shop,
)
from simulator.shopify.oauth import OAuthState
from simulator.shopify.timefmt import graphql_datetime
from simulator.shopify.webhooks import DeliveryRecord, WebhookKnobs, WebhookOutbox

__all__ = ["DEFAULT_SCOPE", "ShopCredentials", "ShopifySimulator"]

DEFAULT_SCOPE = (
    "read_orders,write_orders,read_merchant_managed_fulfillment_orders,"
    "write_merchant_managed_fulfillment_orders,read_third_party_fulfillment_orders,"
    "write_third_party_fulfillment_orders,read_fulfillments,write_fulfillments"
)
IdLike = str | int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopCredentials:
    """What an app needs to talk to one simulated shop."""

    domain: str
    access_token: str
    client_id: str
    client_secret: str
    shop_id: str
    primary_location_id: str


def _number(value: IdLike) -> int:
    if isinstance(value, int):
        return value
    parsed = parse_gid(value)
    if parsed is None:
        if value.isdigit():
            return int(value)
        raise ValueError(f"not a Shopify id: {value!r}")
    return parsed[1]


class ShopifySimulator:
    """An in-memory Shopify: shops, Admin GraphQL API, OAuth and webhooks."""

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        epoch: datetime | None = None,
        routing_delay: float = 0.2,
        http_client: httpx.AsyncClient | None = None,
        require_https_webhooks: bool = True,
        default_webhook_url: str | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = clock
        self.sleep = sleep
        self.routing_delay = routing_delay
        self.require_https_webhooks = require_https_webhooks
        self._clock_origin = clock()
        self._epoch = epoch or datetime.now(UTC)
        self._http_client = http_client
        self._owns_http_client = http_client is None
        self.shops: dict[str, Shop] = {}
        self.calls: list[CallRecord] = []
        self.ids = IdAllocator(self.rng)
        self.outbox = WebhookOutbox(rng=self.rng, clock=clock, wall=self.now)
        if default_webhook_url:
            self.outbox.default_urls[None] = default_webhook_url
        self.behaviour = ShopBehaviour(
            ids=self.ids, now=self.now, emit=self.outbox.enqueue
        )
        self.faults = FaultInjector(random.Random(seed + 1))
        self.oauth = OAuthState(
            rng=self.rng,
            clock=clock,
            wall_seconds=lambda: int(self.now().timestamp()),
        )
        self._background: asyncio.Task[None] | None = None
        # (due time, shop, order id) of orders still waiting for routing
        self._unrouted: list[tuple[float, str, int]] = []
        self._app: Any = None

    # ------------------------------------------------------------------ time

    def now(self) -> datetime:
        """Wall-clock time of the simulation (epoch + elapsed injected clock)."""
        return self._epoch + timedelta(seconds=self.clock() - self._clock_origin)

    def tick(self) -> None:
        """Run what is due: order routing whose delay has passed."""
        now = self.clock()
        while self._unrouted and self._unrouted[0][0] <= now:
            _, domain, order_id = heapq.heappop(self._unrouted)
            shop = self.shops[domain]
            self.behaviour.route_order(shop, shop.orders[order_id])

    # ----------------------------------------------------------------- shops

    def add_shop(
        self,
        domain: str,
        *,
        plan: str = "standard",
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        timezone: str = "UTC",
        name: str | None = None,
        scope: str = DEFAULT_SCOPE,
    ) -> ShopCredentials:
        """Create a shop with the app installed; return its credentials."""
        if domain in self.shops:
            raise ValueError(f"shop {domain} already exists")
        plan_value = Plan(plan)
        now = self.now()
        shop = Shop(
            domain=domain,
            id=self.ids.allocate(),
            name=name or domain.split(".", maxsplit=1)[0].replace("-", " ").title(),
            plan=plan_value,
            client_id=client_id or f"{self.rng.getrandbits(128):032x}",
            client_secret=client_secret or f"shpss_{self.rng.getrandbits(128):032x}",
            timezone=timezone,
            scope=scope,
            email=f"owner@{domain}",
            created_at=now,
            primary_location_id=0,
            bucket_available=0.0,
            bucket_updated_at=self.clock(),
        )
        shop.bucket_available = shop.bucket_size
        shop.primary_location_id = self.behaviour.add_location(
            shop, name="Shop location"
        ).id
        self.shops[domain] = shop
        token = self.oauth.issue(
            domain,
            scope=scope,
            kind="admin",
            ttl=None,
            token=access_token or f"shpat_{self.rng.getrandbits(128):032x}",
        )
        return ShopCredentials(
            domain=domain,
            access_token=token.token,
            client_id=shop.client_id,
            client_secret=shop.client_secret,
            shop_id=gid("Shop", shop.id),
            primary_location_id=gid("Location", shop.primary_location_id),
        )

    def shop(self, domain: str) -> Shop:
        """Return a shop's raw state (for inspection beyond the helpers)."""
        try:
            return self.shops[domain]
        except KeyError:
            raise KeyError(f"unknown shop {domain}") from None

    def add_location(self, domain: str, name: str) -> str:
        """Add (or find) a location by name; return its global id."""
        return gid(
            "Location", self.behaviour.add_location(self.shop(domain), name=name).id
        )

    def uninstall_app(self, domain: str) -> None:
        """Uninstall the app: send `app/uninstalled` and revoke every token."""
        from simulator.shopify.payloads import app_uninstalled_payload  # noqa: PLC0415

        shop = self.shop(domain)
        shop.installed = False
        self.outbox.enqueue(shop, "app/uninstalled", app_uninstalled_payload(shop))
        self.oauth.revoke(domain)

    def revoke_token(self, domain: str, token: str | None = None) -> int:
        """Revoke one access token (or all of the shop's); later calls get 401."""
        return self.oauth.revoke(domain, token)

    def expire_token(self, domain: str, token: str | None = None) -> None:
        """Make one token (or all of the shop's) expire now."""
        self.oauth.expire(domain, token)

    # ---------------------------------------------------------------- orders

    def create_order(
        self,
        domain: str,
        *,
        line_items: Sequence[dict[str, Any]],
        name: str | None = None,
        financial_status: str = "paid",
        email: str | None = "customer@example.com",
        customer: dict[str, Any] | None = None,
        note: str | None = None,
        test: bool = False,
        tags: Iterable[str] = (),
        custom_attributes: Iterable[tuple[str, str | None]] = (),
        shipping_address: dict[str, Any] | None = None,
        routing_delay: float | None = None,
    ) -> dict[str, Any]:
        """Create an order; its fulfillment orders appear after the routing delay.

        Each line item is `{sku, quantity, location?, title?, price?, variant_id?}`;
        `location` is a location name (created if new), default the shop's primary one.
        """
        shop = self.shop(domain)
        self.tick()
        delay = self.routing_delay if routing_delay is None else routing_delay
        order = self.behaviour.create_order(
            shop,
            line_items=line_items,
            routing_due_at=self.clock() + delay,
            details={
                "name": name,
                "financial_status": financial_status,
                "email": email,
                "customer": customer
                or {
                    "id": self.ids.allocate(),
                    "first_name": "Jane",
                    "last_name": "Doe",
                    "email": email,
                },
                "note": note,
                "test": test,
                "tags": list(tags),
                "custom_attributes": list(custom_attributes),
                "shipping_address": shipping_address or _default_address(),
            },
        )
        if delay <= 0:
            self.behaviour.route_order(shop, order)
        else:
            heapq.heappush(self._unrouted, (order.routing_due_at, domain, order.id))
        return self._order_summary(order)

    def route_orders(self, domain: str | None = None) -> list[str]:
        """Finish routing now (for one shop or all); return the new FO ids."""
        created: list[str] = []
        for shop in self.shops.values():
            if domain is not None and shop.domain != domain:
                continue
            for order in list(shop.orders.values()):
                created += [
                    gid("FulfillmentOrder", fo.id)
                    for fo in self.behaviour.route_order(shop, order)
                ]
        return created

    def order(self, domain: str, order_id: IdLike) -> dict[str, Any]:
        """Return a summary of one order."""
        self.tick()
        return self._order_summary(self._order(domain, order_id))

    def _order(self, domain: str, order_id: IdLike) -> Order:
        order = self.shop(domain).orders.get(_number(order_id))
        if order is None:
            raise KeyError(f"unknown order {order_id}")
        return order

    def _fo(self, domain: str, fo_id: IdLike) -> FulfillmentOrder:
        fulfillment_order = self.shop(domain).fulfillment_orders.get(_number(fo_id))
        if fulfillment_order is None:
            raise KeyError(f"unknown fulfillment order {fo_id}")
        return fulfillment_order

    def _order_summary(self, order: Order) -> dict[str, Any]:
        return {
            "id": gid("Order", order.id),
            "legacy_id": order.id,
            "name": order.name,
            "created_at": graphql_datetime(order.created_at),
            "updated_at": graphql_datetime(order.updated_at),
            "cancelled_at": graphql_datetime(order.cancelled_at),
            "closed_at": graphql_datetime(order.closed_at),
            "routed": order.routed,
            "line_items": [
                {
                    "id": gid("LineItem", item.id),
                    "sku": item.sku,
                    "quantity": item.quantity,
                    "current_quantity": item.current_quantity,
                    "location_id": gid("Location", item.location_id),
                }
                for item in order.line_items
            ],
            "fulfillment_order_ids": [
                gid("FulfillmentOrder", i) for i in order.fulfillment_order_ids
            ],
            "fulfillment_ids": [gid("Fulfillment", i) for i in order.fulfillment_ids],
        }

    def cancel_order(
        self, domain: str, order_id: IdLike, *, reason: str = "CUSTOMER"
    ) -> None:
        """Cancel an order as the merchant would (its open FOs close)."""
        self.tick()
        self.behaviour.cancel_order(
            self.shop(domain), self._order(domain, order_id), reason=reason
        )

    def close_order(self, domain: str, order_id: IdLike) -> None:
        """Archive (close) an order."""
        self.behaviour.close_order(self.shop(domain), self._order(domain, order_id))

    def mark_order_paid(self, domain: str, order_id: IdLike) -> None:
        self.behaviour.mark_paid(self.shop(domain), self._order(domain, order_id))

    # ----------------------------------------------------- fulfillment orders

    def fulfillment_orders(self, domain: str, order_id: IdLike) -> list[dict[str, Any]]:
        """Return the order's fulfillment orders as plain dicts."""
        self.tick()
        shop = self.shop(domain)
        order = self._order(domain, order_id)
        return [
            _fo_summary(shop, shop.fulfillment_orders[i])
            for i in order.fulfillment_order_ids
        ]

    def hold_fulfillment_order(
        self,
        domain: str,
        fo_id: IdLike,
        *,
        reason: str = "OTHER",
        reason_notes: str | None = None,
        handle: str | None = None,
    ) -> str:
        """Place a hold (as the merchant or another app); return the hold id."""
        self.tick()
        hold, _ = self.behaviour.hold(
            self.shop(domain),
            self._fo(domain, fo_id),
            reason=reason,
            reason_notes=reason_notes,
            handle=handle,
        )
        return gid("FulfillmentHold", hold.id)

    def release_fulfillment_order(
        self, domain: str, fo_id: IdLike, *, hold_ids: Sequence[IdLike] | None = None
    ) -> None:
        """Release some or all holds of a fulfillment order."""
        self.behaviour.release_hold(
            self.shop(domain),
            self._fo(domain, fo_id),
            hold_ids=[_number(h) for h in hold_ids] if hold_ids is not None else None,
        )

    def split_fulfillment_order(
        self, domain: str, fo_id: IdLike, *, keep: Sequence[tuple[IdLike, int]]
    ) -> str:
        """Keep the given (FO line item, qty)s; the rest goes to a new FO."""
        remaining = self.behaviour.split(
            self.shop(domain),
            self._fo(domain, fo_id),
            line_items=[(_number(i), q) for i, q in keep],
        )
        return gid("FulfillmentOrder", remaining.id)

    def move_fulfillment_order(
        self, domain: str, fo_id: IdLike, *, location: str
    ) -> str:
        """Move an FO's remaining items to another location (name or id); new FO id."""
        self.tick()
        shop = self.shop(domain)
        location_id = (
            _number(location)
            if location.startswith("gid://") or location.isdigit()
            else self.behaviour.add_location(shop, name=location).id
        )
        moved = self.behaviour.move(
            shop, self._fo(domain, fo_id), location_id=location_id
        )
        return gid("FulfillmentOrder", moved.id)

    def cancel_fulfillment_order(
        self, domain: str, fo_id: IdLike, *, replace: bool = True
    ) -> str | None:
        """Cancel an FO; return the replacement FO id (when `replace`)."""
        replacement = self.behaviour.cancel_fulfillment_order(
            self.shop(domain), self._fo(domain, fo_id), replace=replace
        )
        return gid("FulfillmentOrder", replacement.id) if replacement else None

    def close_fulfillment_order(self, domain: str, fo_id: IdLike) -> None:
        """Mark an FO incomplete: nothing more can be fulfilled from it."""
        self.behaviour.close_fulfillment_order(
            self.shop(domain), self._fo(domain, fo_id)
        )

    # ------------------------------------------------------------ fulfilments

    def create_fulfillment(
        self,
        domain: str,
        *,
        fulfillment_order_id: IdLike,
        line_items: Sequence[tuple[IdLike, int]] | None = None,
        tracking_number: str | None = None,
        tracking_company: str | None = None,
        tracking_url: str | None = None,
        notify_customer: bool = False,
        created_by: str = "merchant",
    ) -> str:
        """Fulfil directly (as the merchant or another app would); return its id."""
        self.tick()
        tracking = {
            "number": tracking_number,
            "company": tracking_company,
            "url": tracking_url,
        }
        fulfillment = self.behaviour.create_fulfillment(
            self.shop(domain),
            requests=[
                FulfillmentRequest(
                    fulfillment_order_id=_number(fulfillment_order_id),
                    line_items=(
                        tuple((_number(i), q) for i, q in line_items)
                        if line_items is not None
                        else None
                    ),
                )
            ],
            tracking=tracking,
            notify_customer=notify_customer,
            origin_address=None,
            message=None,
            created_by=created_by,
        )
        return gid("Fulfillment", fulfillment.id)

    def cancel_fulfillment(self, domain: str, fulfillment_id: IdLike) -> None:
        shop = self.shop(domain)
        self.behaviour.cancel_fulfillment(
            shop, shop.fulfillments[_number(fulfillment_id)]
        )

    def update_tracking(
        self,
        domain: str,
        fulfillment_id: IdLike,
        *,
        number: str,
        company: str | None = None,
        url: str | None = None,
    ) -> None:
        shop = self.shop(domain)
        self.behaviour.update_tracking(
            shop,
            shop.fulfillments[_number(fulfillment_id)],
            tracking={"number": number, "company": company, "url": url},
        )

    def fulfillments(
        self, domain: str, order_id: IdLike | None = None
    ) -> list[dict[str, Any]]:
        """Return fulfillments (of one order, or of the whole shop) as plain dicts."""
        shop = self.shop(domain)
        if order_id is None:
            items: Iterable[Fulfillment] = shop.fulfillments.values()
        else:
            order = self._order(domain, order_id)
            items = [shop.fulfillments[i] for i in order.fulfillment_ids]
        return [_fulfillment_summary(f) for f in items]

    def fulfillment_count_by_tracking(self, domain: str) -> dict[str, int]:
        """Count successful fulfillments per tracking number (duplicates are > 1)."""
        counts: dict[str, int] = {}
        for fulfillment in self.shop(domain).fulfillments.values():
            if fulfillment.status != "SUCCESS":
                continue
            for info in fulfillment.tracking:
                if info.number:
                    counts[info.number] = counts.get(info.number, 0) + 1
        return counts

    # --------------------------------------------------------------- webhooks

    def subscriptions(self, domain: str) -> list[dict[str, Any]]:
        return [
            {
                "id": gid("WebhookSubscription", s.id),
                "topic": s.topic,
                "uri": s.uri,
                "api_version": s.api_version,
                "consecutive_failures": s.consecutive_failures,
            }
            for s in self.shop(domain).subscriptions.values()
        ]

    def set_webhook_knobs(
        self, knobs: WebhookKnobs | None, *, domain: str | None = None
    ) -> None:
        """Set delivery knobs for one shop, or for all shops (`domain=None`)."""
        if knobs is None:
            self.outbox.knobs.pop(domain, None)
        else:
            self.outbox.knobs[domain] = knobs

    def set_default_webhook_url(
        self, url: str | None, *, domain: str | None = None
    ) -> None:
        """Send every topic to `url` too (like an app-config subscription)."""
        if domain is not None:
            self.shop(domain).default_webhook_url = url
        elif url is None:
            self.outbox.default_urls.pop(None, None)
        else:
            self.outbox.default_urls[None] = url

    @property
    def http_client(self) -> httpx.AsyncClient:
        if self._http_client is None:
            self._http_client = httpx.AsyncClient()
        return self._http_client

    async def deliver_webhooks(
        self, *, include_future: bool = False
    ) -> list[DeliveryRecord]:
        """Send due webhooks (all with `include_future`); return what happened."""
        self.tick()
        return await self.outbox.flush(
            self.http_client, self.shops, include_future=include_future
        )

    def pending_webhooks(self) -> int:
        return len(self.outbox.pending)

    @property
    def webhook_log(self) -> list[DeliveryRecord]:
        return self.outbox.log

    def start_background_delivery(
        self, *, interval: float = 0.05
    ) -> asyncio.Task[None]:
        """Deliver due webhooks every `interval` seconds until stopped."""

        async def loop() -> None:
            while True:
                await self.deliver_webhooks()
                await asyncio.sleep(interval)

        if self._background is None or self._background.done():
            self._background = asyncio.create_task(loop())
        return self._background

    async def stop_background_delivery(self) -> None:
        task, self._background = self._background, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        await self.stop_background_delivery()
        if self._http_client is not None and self._owns_http_client:
            await self._http_client.aclose()

    # ----------------------------------------------------------------- faults

    def set_faults(self, plan: FaultPlan | None, *, domain: str | None = None) -> None:
        """Set fault rates for one shop, or for all shops (`domain=None`)."""
        self.faults.set_plan(plan, shop=domain)

    def queue_fault(
        self, kind: FaultKind | str, *, domain: str | None = None, count: int = 1
    ) -> None:
        """Force the next `count` API calls (to `domain`, or any shop) to hit `kind`."""
        self.faults.queue(FaultKind(kind), shop=domain, count=count)

    # ------------------------------------------------------------- inspection

    def stats(self) -> dict[str, Any]:
        """Counts for benchmarks: calls by outcome, webhooks by outcome, objects."""
        calls: dict[str, int] = {}
        for call in self.calls:
            calls[call.outcome] = calls.get(call.outcome, 0) + 1
        webhooks: dict[str, int] = {}
        for record in self.outbox.log:
            webhooks[record.outcome] = webhooks.get(record.outcome, 0) + 1
        return {
            "calls": calls,
            "calls_total": len(self.calls),
            "webhooks": webhooks,
            "webhooks_pending": len(self.outbox.pending),
            "shops": {
                domain: {
                    "orders": len(shop.orders),
                    "fulfillment_orders": len(shop.fulfillment_orders),
                    "fulfillments": len(shop.fulfillments),
                    "subscriptions": len(shop.subscriptions),
                    "bucket_available": shop.bucket_available,
                }
                for domain, shop in self.shops.items()
            },
        }

    @property
    def app(self) -> Any:
        """The ASGI app serving the Admin API, OAuth and `/_sim/` control endpoints."""
        if self._app is None:
            from simulator.shopify.app import create_app  # noqa: PLC0415 - cycle

            self._app = create_app(self)
        return self._app


def _fo_summary(shop: Shop, fo: FulfillmentOrder) -> dict[str, Any]:
    from simulator.shopify.behaviour import supported_actions  # noqa: PLC0415

    return {
        "id": gid("FulfillmentOrder", fo.id),
        "status": fo.status.value,
        "location_id": gid("Location", fo.location_id),
        "location_name": shop.locations[fo.location_id].name,
        "supported_actions": supported_actions(shop, fo),
        "holds": [gid("FulfillmentHold", h.id) for h in fo.holds],
        "line_items": [
            {
                "id": gid("FulfillmentOrderLineItem", item.id),
                "line_item_id": gid("LineItem", item.line_item_id),
                "total_quantity": item.total_quantity,
                "remaining_quantity": item.remaining_quantity,
            }
            for item in fo.line_items
        ],
    }


def _fulfillment_summary(fulfillment: Fulfillment) -> dict[str, Any]:
    return {
        "id": gid("Fulfillment", fulfillment.id),
        "order_id": gid("Order", fulfillment.order_id),
        "name": fulfillment.name,
        "status": fulfillment.status,
        "created_by": fulfillment.created_by,
        "notify_customer": fulfillment.notify_customer,
        "location_id": gid("Location", fulfillment.location_id),
        "fulfillment_order_ids": [
            gid("FulfillmentOrder", i) for i in fulfillment.fulfillment_order_ids
        ],
        "tracking": [
            {"number": t.number, "company": t.company, "url": t.url}
            for t in fulfillment.tracking
        ],
        "line_items": [
            {"line_item_id": gid("LineItem", i.line_item_id), "quantity": i.quantity}
            for i in fulfillment.line_items
        ],
        "created_at": graphql_datetime(fulfillment.created_at),
        "updated_at": graphql_datetime(fulfillment.updated_at),
    }


def _default_address() -> dict[str, Any]:
    return {
        "first_name": "Jane",
        "last_name": "Doe",
        "name": "Jane Doe",
        "address1": "1 Main Street",
        "address2": None,
        "city": "Springfield",
        "zip": "12345",
        "province": "Oregon",
        "province_code": "OR",
        "country": "United States",
        "country_code": "US",
        "phone": None,
        "company": None,
        "latitude": None,
        "longitude": None,
    }
