"""Outgoing webhooks: signed deliveries, an outbox, retries and unreliability knobs.

Each state change is turned into one delivery per matching subscription (plus the
optional default URL), signed with the app's client secret: `X-Shopify-Hmac-Sha256` is
the base64 HMAC-SHA256 of the raw body. Deliveries wait in an outbox until `flush` sends
those that are due, through an injected `httpx.AsyncClient`. Knobs drop, duplicate,
delay and reorder deliveries with a seeded random generator. A failed delivery is
retried with exponential backoff; after `failures_before_removal` consecutive failures
an API-created subscription is deleted, as Shopify does.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from simulator.shopify.model import Shop

__all__ = [
    "DeliveryRecord",
    "PendingDelivery",
    "WebhookKnobs",
    "WebhookOutbox",
    "graphql_topic",
    "sign_webhook",
]

DEFAULT_API_VERSION = "2026-10"


def graphql_topic(rest_topic: str) -> str:
    """`orders/create` -> `ORDERS_CREATE` (the `WebhookSubscriptionTopic` spelling)."""
    return rest_topic.upper().replace("/", "_")


def sign_webhook(body: bytes, secret: str) -> str:
    """Return the `X-Shopify-Hmac-Sha256` value for a body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookKnobs:
    """How unreliable delivery is (rates are per delivery, in [0, 1])."""

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay_seconds: float = 0.0
    delay_jitter_seconds: float = 0.0
    reorder: bool = False
    failures_before_removal: int = 8
    max_retries: int = 8
    retry_base_seconds: float = 60.0
    timeout_seconds: float = 5.0


@dataclass(slots=True, kw_only=True)
class PendingDelivery:
    shop: str
    topic: str
    url: str
    subscription_id: int | None
    body: bytes
    headers: dict[str, str]
    due_at: float
    sequence: int
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRecord:
    """What happened to one delivery attempt."""

    shop: str
    topic: str
    url: str
    webhook_id: str
    event_id: str
    attempt: int
    outcome: str
    status_code: int | None
    at: float
    error: str | None = None


@dataclass(slots=True)
class WebhookOutbox:
    """Queue, send and retry webhook deliveries for every shop."""

    rng: random.Random
    clock: Callable[[], float]
    wall: Callable[[], datetime]
    knobs: dict[str | None, WebhookKnobs] = field(default_factory=dict)
    default_urls: dict[str | None, str] = field(default_factory=dict)
    pending: list[PendingDelivery] = field(default_factory=list)
    log: list[DeliveryRecord] = field(default_factory=list)
    _sequence: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def knobs_for(self, shop: str) -> WebhookKnobs:
        return self.knobs.get(shop) or self.knobs.get(None) or WebhookKnobs()

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def enqueue(self, shop: Shop, topic: str, payload: dict[str, Any]) -> None:
        """Record a triggered event: one delivery per subscription to its topic."""
        if not shop.installed and topic != "app/uninstalled":
            return
        event_id = self._uuid()
        triggered_at = self.wall().astimezone(UTC).isoformat().replace("+00:00", "Z")
        targets: list[tuple[str, int | None, str, str | None, list[str]]] = [
            (s.uri, s.id, s.api_version, s.name, s.include_fields)
            for s in shop.subscriptions.values()
            if s.topic == graphql_topic(topic)
        ]
        default_url = shop.default_webhook_url or self.default_urls.get(None)
        if default_url:
            targets.append((default_url, None, DEFAULT_API_VERSION, None, []))
        knobs = self.knobs_for(shop.domain)
        for url, subscription_id, api_version, name, include_fields in targets:
            body = _encode(payload, include_fields)
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign_webhook(body, shop.client_secret),
                "X-Shopify-Shop-Domain": shop.domain,
                "X-Shopify-API-Version": api_version,
                "X-Shopify-Webhook-Id": self._uuid(),
                "X-Shopify-Triggered-At": triggered_at,
                "X-Shopify-Event-Id": event_id,
            }
            if name:
                headers["X-Shopify-Name"] = name
            self._sequence += 1
            delivery = PendingDelivery(
                shop=shop.domain,
                topic=topic,
                url=url,
                subscription_id=subscription_id,
                body=body,
                headers=headers,
                due_at=self.clock()
                + knobs.delay_seconds
                + self.rng.uniform(0, knobs.delay_jitter_seconds),
                sequence=self._sequence,
            )
            if knobs.drop_rate and self.rng.random() < knobs.drop_rate:
                self._record(delivery, "dropped", None)
                continue
            self.pending.append(delivery)

    async def flush(
        self,
        client: httpx.AsyncClient,
        shops: dict[str, Shop],
        *,
        include_future: bool = False,
    ) -> list[DeliveryRecord]:
        """Send every due delivery (or all of them); return what happened."""
        async with self._lock:
            start = len(self.log)
            now = self.clock()
            due = [d for d in self.pending if include_future or d.due_at <= now]
            self.pending = [d for d in self.pending if d not in due]
            due.sort(key=lambda d: (d.due_at, d.sequence))
            if any(self.knobs_for(d.shop).reorder for d in due):
                self.rng.shuffle(due)
            for delivery in due:
                if not self._still_subscribed(delivery, shops):
                    continue
                copies = 1
                knobs = self.knobs_for(delivery.shop)
                if knobs.duplicate_rate and self.rng.random() < knobs.duplicate_rate:
                    copies = 2
                for copy in range(copies):
                    ok = await self._send(client, delivery, duplicate=copy > 0)
                    if copy == 0:
                        self._after_attempt(delivery, shops, ok=ok)
            return self.log[start:]

    def _still_subscribed(
        self, delivery: PendingDelivery, shops: dict[str, Shop]
    ) -> bool:
        if delivery.subscription_id is None:
            return True
        shop = shops.get(delivery.shop)
        return shop is not None and delivery.subscription_id in shop.subscriptions

    async def _send(
        self, client: httpx.AsyncClient, delivery: PendingDelivery, *, duplicate: bool
    ) -> bool:
        timeout = self.knobs_for(delivery.shop).timeout_seconds
        try:
            response = await client.post(
                delivery.url,
                content=delivery.body,
                headers=delivery.headers,
                timeout=timeout,
            )
        except httpx.HTTPError as error:
            self._record(delivery, "failed", None, error=type(error).__name__)
            return False
        ok = 200 <= response.status_code < 300
        outcome = "delivered" if ok else "failed"
        if duplicate:
            outcome = f"duplicate_{outcome}"
        self._record(delivery, outcome, response.status_code)
        return ok

    def _after_attempt(
        self, delivery: PendingDelivery, shops: dict[str, Shop], *, ok: bool
    ) -> None:
        shop = shops.get(delivery.shop)
        subscription = (
            shop.subscriptions.get(delivery.subscription_id)
            if shop is not None and delivery.subscription_id is not None
            else None
        )
        if ok:
            if subscription is not None:
                subscription.consecutive_failures = 0
            return
        knobs = self.knobs_for(delivery.shop)
        if subscription is not None and shop is not None:
            subscription.consecutive_failures += 1
            if subscription.consecutive_failures >= knobs.failures_before_removal:
                del shop.subscriptions[subscription.id]
                self.pending = [
                    d for d in self.pending if d.subscription_id != subscription.id
                ]
                self._record(delivery, "subscription_removed", None)
                return
        if delivery.attempt <= knobs.max_retries:
            delivery.due_at = self.clock() + knobs.retry_base_seconds * 2 ** (
                delivery.attempt - 1
            )
            delivery.attempt += 1
            self.pending.append(delivery)

    def _record(
        self,
        delivery: PendingDelivery,
        outcome: str,
        status_code: int | None,
        *,
        error: str | None = None,
    ) -> None:
        self.log.append(
            DeliveryRecord(
                shop=delivery.shop,
                topic=delivery.topic,
                url=delivery.url,
                webhook_id=delivery.headers["X-Shopify-Webhook-Id"],
                event_id=delivery.headers["X-Shopify-Event-Id"],
                attempt=delivery.attempt,
                outcome=outcome,
                status_code=status_code,
                at=self.clock(),
                error=error,
            )
        )


def _encode(payload: dict[str, Any], include_fields: list[str]) -> bytes:
    if include_fields:
        payload = {
            key: value for key, value in payload.items() if key in include_fields
        }
    return json.dumps(payload, separators=(",", ":")).encode()
