"""Outbound webhook delivery with seeded faults: drop, duplicate, delay, reorder.

Nothing is sent until ``Outbox.deliver`` is awaited; it posts every due message
through the injected ``httpx.AsyncClient``, judges the answer the way the
supplier does, schedules retries, and (CJ) pauses a channel whose failure rate
reaches the configured ratio until the webhook is registered again.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from simulator.suppliers.clock import Clock
from simulator.suppliers.model import Supplier

__all__ = [
    "ALIEXPRESS_KNOBS",
    "CJ_KNOBS",
    "GENERIC_KNOBS",
    "DeliveryAttempt",
    "DeliveryKnobs",
    "DeliveryReport",
    "Outbox",
    "ResponseCheck",
    "SignHeaders",
    "WebhookMessage",
    "accept_2xx",
    "accept_cj_success",
    "default_knobs",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryKnobs:
    """How one supplier's webhooks misbehave and retry.

    ``drop_rate`` and ``duplicate_rate`` are probabilities per message;
    ``delay`` (+ a uniform ``delay_jitter``) postpones when a message becomes
    due; ``reorder`` shuffles each flushed batch. ``retry_delays`` is the
    schedule after a failed attempt (its length is the retry budget), and
    ``pause_failure_ratio`` pauses the channel once at least
    ``pause_min_attempts`` attempts were made and that share of them failed.
    """

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay: timedelta = timedelta(0)
    delay_jitter: timedelta = timedelta(0)
    reorder: bool = False
    retry_delays: tuple[timedelta, ...] = ()
    pause_failure_ratio: float | None = None
    pause_min_attempts: int = 4
    hold_while_paused: bool = True
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        for name in ("drop_rate", "duplicate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.delay < timedelta(0) or self.delay_jitter < timedelta(0):
            raise ValueError("delays cannot be negative")

    def to_json(self) -> dict[str, Any]:
        return {
            "drop_rate": self.drop_rate,
            "duplicate_rate": self.duplicate_rate,
            "delay_seconds": self.delay.total_seconds(),
            "delay_jitter_seconds": self.delay_jitter.total_seconds(),
            "reorder": self.reorder,
            "retry_delays_seconds": [d.total_seconds() for d in self.retry_delays],
            "pause_failure_ratio": self.pause_failure_ratio,
            "pause_min_attempts": self.pause_min_attempts,
            "hold_while_paused": self.hold_while_paused,
            "timeout_seconds": self.timeout_seconds,
        }

    def updated(self, changes: Mapping[str, Any]) -> DeliveryKnobs:
        """Return a copy with JSON-style changes (``*_seconds`` keys accepted)."""
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "delay_seconds":
                values["delay"] = timedelta(seconds=float(value))
            elif key == "delay_jitter_seconds":
                values["delay_jitter"] = timedelta(seconds=float(value))
            elif key == "retry_delays_seconds":
                values["retry_delays"] = tuple(timedelta(seconds=float(v)) for v in value)
            elif key in _PLAIN_KNOBS:
                values[key] = value
            else:
                raise ValueError(f"unknown delivery knob: {key}")
        return replace(self, **values)


_PLAIN_KNOBS = frozenset(
    {
        "drop_rate",
        "duplicate_rate",
        "reorder",
        "pause_failure_ratio",
        "pause_min_attempts",
        "hold_while_paused",
        "timeout_seconds",
    }
)

# CJ: "retry after 5 minutes, at most 3 times"; pause at a 50 % failure rate;
# answer within 3 s.
CJ_KNOBS = DeliveryKnobs(
    retry_delays=(timedelta(minutes=5),) * 3,
    pause_failure_ratio=0.5,
    timeout_seconds=3.0,
)
# AliExpress push retry policy is not documented anywhere we could read.
ALIEXPRESS_KNOBS = DeliveryKnobs()
# The Svix schedule, which Standard Webhooks cites as an example.
GENERIC_KNOBS = DeliveryKnobs(
    retry_delays=(
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ),
    timeout_seconds=15.0,
)


def default_knobs(supplier: Supplier) -> DeliveryKnobs:
    return {
        Supplier.CJ: CJ_KNOBS,
        Supplier.ALIEXPRESS: ALIEXPRESS_KNOBS,
        Supplier.GENERIC: GENERIC_KNOBS,
    }[supplier]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookMessage:
    """One webhook as the supplier would send it (before signing)."""

    message_id: str
    supplier: Supplier
    topic: str
    url: str | None
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)
    created_at: datetime

    def json(self) -> Any:
        return json.loads(self.body)


ResponseCheck = Callable[[httpx.Response], bool]
SignHeaders = Callable[[WebhookMessage, datetime], Mapping[str, str]]


def accept_2xx(response: httpx.Response) -> bool:
    return response.is_success


def accept_cj_success(response: httpx.Response) -> bool:
    """CJ wants HTTP 200 and ``{"code": 200, "result": "success", ...}``."""
    if response.status_code != 200:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    result = body.get("result")
    return body.get("code") == 200 and (result is True or result == "success")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryAttempt:
    message_id: str
    supplier: Supplier
    topic: str
    url: str
    attempt: int
    duplicate: bool
    status_code: int | None
    accepted: bool
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReport:
    attempts: tuple[DeliveryAttempt, ...]
    dropped: tuple[str, ...]
    abandoned: tuple[str, ...]
    pending: int
    paused: tuple[Supplier, ...]

    @property
    def accepted(self) -> int:
        return sum(1 for attempt in self.attempts if attempt.accepted)

    @property
    def failed(self) -> int:
        return sum(1 for attempt in self.attempts if not attempt.accepted)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempts": [
                {
                    "message_id": a.message_id,
                    "supplier": a.supplier.value,
                    "topic": a.topic,
                    "url": a.url,
                    "attempt": a.attempt,
                    "duplicate": a.duplicate,
                    "status_code": a.status_code,
                    "accepted": a.accepted,
                    "error": a.error,
                }
                for a in self.attempts
            ],
            "dropped": list(self.dropped),
            "abandoned": list(self.abandoned),
            "pending": self.pending,
            "paused": [s.value for s in self.paused],
        }


@dataclass(slots=True, kw_only=True)
class _Pending:
    message: WebhookMessage
    due_at: datetime
    attempts: int = 0
    faults_applied: bool = False


@dataclass(slots=True, kw_only=True)
class _ChannelStats:
    enqueued: int = 0
    unrouted: int = 0
    sent: int = 0
    accepted: int = 0
    failed: int = 0
    dropped: int = 0
    duplicated: int = 0
    abandoned: int = 0
    discarded_while_paused: int = 0
    # Failure-rate window for the pause rule; reset on re-registration.
    window_attempts: int = 0
    window_failures: int = 0
    paused: bool = False


@dataclass(slots=True, kw_only=True)
class _Channel:
    knobs: DeliveryKnobs
    check: ResponseCheck = accept_2xx
    sign: SignHeaders | None = None
    stats: _ChannelStats = field(default_factory=_ChannelStats)


class Outbox:
    """Queue of webhooks waiting to be delivered, one channel per supplier."""

    def __init__(self, *, clock: Clock, rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self._queue: list[_Pending] = []
        self._channels: dict[Supplier, _Channel] = {
            supplier: _Channel(knobs=default_knobs(supplier)) for supplier in Supplier
        }
        self._channels[Supplier.CJ].check = accept_cj_success

    # -- configuration -----------------------------------------------------

    def knobs(self, supplier: Supplier) -> DeliveryKnobs:
        return self._channels[supplier].knobs

    def set_knobs(self, supplier: Supplier, knobs: DeliveryKnobs) -> None:
        self._channels[supplier].knobs = knobs

    def set_response_check(self, supplier: Supplier, check: ResponseCheck) -> None:
        self._channels[supplier].check = check

    def set_signer(self, supplier: Supplier, sign: SignHeaders | None) -> None:
        self._channels[supplier].sign = sign

    def is_paused(self, supplier: Supplier) -> bool:
        return self._channels[supplier].stats.paused

    def resume(self, supplier: Supplier) -> None:
        """Unpause and restart the failure-rate window (CJ re-registration)."""
        stats = self._channels[supplier].stats
        stats.paused = False
        stats.window_attempts = 0
        stats.window_failures = 0

    # -- queueing ----------------------------------------------------------

    def enqueue(self, message: WebhookMessage) -> None:
        channel = self._channels[message.supplier]
        if message.url is None:
            channel.stats.unrouted += 1
            return
        if channel.stats.paused and not channel.knobs.hold_while_paused:
            channel.stats.discarded_while_paused += 1
            return
        channel.stats.enqueued += 1
        knobs = channel.knobs
        jitter = knobs.delay_jitter.total_seconds() * self._rng.random()
        due_at = message.created_at + knobs.delay + timedelta(seconds=jitter)
        self._queue.append(_Pending(message=message, due_at=due_at))

    @property
    def pending(self) -> int:
        return len(self._queue)

    def pending_messages(self) -> list[WebhookMessage]:
        return [item.message for item in self._queue]

    # -- delivery ----------------------------------------------------------

    async def deliver(
        self,
        client: httpx.AsyncClient,
        *,
        include_delayed: bool = False,
        concurrency: int = 1,
    ) -> DeliveryReport:
        """Send every due message once (retries become due later).

        With ``concurrency`` above 1, up to that many requests are in flight
        at once (for benchmarks); outcomes are still settled in batch order.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        now = self._clock.now()
        batch, dropped = self._take_due_batch(now, include_delayed=include_delayed)
        attempts: list[DeliveryAttempt] = []
        abandoned: list[str] = []
        for start in range(0, len(batch), concurrency):
            window = []
            for item, duplicate in batch[start : start + concurrency]:
                channel = self._channels[item.message.supplier]
                if channel.stats.paused:
                    if not duplicate:
                        self._hold_or_discard(item, channel)
                    continue
                window.append((item, channel, duplicate))
            results = await asyncio.gather(
                *(self._send(client, i, c, duplicate=d) for i, c, d in window)
            )
            for (item, channel, duplicate), attempt in zip(window, results, strict=True):
                attempts.append(attempt)
                if not duplicate:
                    self._settle(item, channel, attempt, abandoned)
        return DeliveryReport(
            attempts=tuple(attempts),
            dropped=tuple(dropped),
            abandoned=tuple(abandoned),
            pending=len(self._queue),
            paused=tuple(s for s, c in self._channels.items() if c.stats.paused),
        )

    def _take_due_batch(
        self, now: datetime, *, include_delayed: bool
    ) -> tuple[list[tuple[_Pending, bool]], list[str]]:
        due = [i for i in self._queue if include_delayed or i.due_at <= now]
        due_ids = {id(i) for i in due}
        self._queue = [i for i in self._queue if id(i) not in due_ids]
        batch: list[tuple[_Pending, bool]] = []
        dropped: list[str] = []
        for item in due:
            channel = self._channels[item.message.supplier]
            if item.faults_applied:
                batch.append((item, False))
                continue
            item.faults_applied = True
            if self._rng.random() < channel.knobs.drop_rate:
                channel.stats.dropped += 1
                dropped.append(item.message.message_id)
                continue
            batch.append((item, False))
            if self._rng.random() < channel.knobs.duplicate_rate:
                channel.stats.duplicated += 1
                batch.append((item, True))
        if any(self._channels[i.message.supplier].knobs.reorder for i, _ in batch):
            self._reorder(batch)
        return batch, dropped

    def _reorder(self, batch: list[tuple[_Pending, bool]]) -> None:
        # Shuffle only the entries of channels that asked for it, keeping the
        # others in their slots.
        slots = [
            n
            for n, (item, _) in enumerate(batch)
            if self._channels[item.message.supplier].knobs.reorder
        ]
        chosen = [batch[n] for n in slots]
        self._rng.shuffle(chosen)
        for n, entry in zip(slots, chosen, strict=True):
            batch[n] = entry

    async def _send(
        self,
        client: httpx.AsyncClient,
        item: _Pending,
        channel: _Channel,
        *,
        duplicate: bool,
    ) -> DeliveryAttempt:
        message = item.message
        assert message.url is not None  # noqa: S101 - unrouted messages never queue
        headers = dict(message.headers)
        if channel.sign is not None:
            headers.update(channel.sign(message, self._clock.now()))
        channel.stats.sent += 1
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(
                message.url,
                content=message.body,
                headers=headers,
                timeout=channel.knobs.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            accepted = False
            error = f"{type(exc).__name__}: {exc}"
        else:
            status = response.status_code
            accepted = channel.check(response)
        if accepted:
            channel.stats.accepted += 1
        else:
            channel.stats.failed += 1
        return DeliveryAttempt(
            message_id=message.message_id,
            supplier=message.supplier,
            topic=message.topic,
            url=message.url,
            attempt=item.attempts + 1,
            duplicate=duplicate,
            status_code=status,
            accepted=accepted,
            error=error,
        )

    def _settle(
        self,
        item: _Pending,
        channel: _Channel,
        attempt: DeliveryAttempt,
        abandoned: list[str],
    ) -> None:
        item.attempts += 1
        stats = channel.stats
        stats.window_attempts += 1
        if not attempt.accepted:
            stats.window_failures += 1
        ratio = channel.knobs.pause_failure_ratio
        if (
            ratio is not None
            and stats.window_attempts >= channel.knobs.pause_min_attempts
            and stats.window_failures >= ratio * stats.window_attempts
        ):
            stats.paused = True
        if attempt.accepted:
            return
        retries_used = item.attempts - 1
        if retries_used < len(channel.knobs.retry_delays):
            item.due_at = self._clock.now() + channel.knobs.retry_delays[retries_used]
            self._queue.append(item)
        else:
            stats.abandoned += 1
            abandoned.append(item.message.message_id)

    def _hold_or_discard(self, item: _Pending, channel: _Channel) -> None:
        if channel.knobs.hold_while_paused:
            self._queue.append(item)
        else:
            channel.stats.discarded_while_paused += 1

    # -- reporting ---------------------------------------------------------

    def stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for supplier, channel in self._channels.items():
            s = channel.stats
            out[supplier.value] = {
                "enqueued": s.enqueued,
                "unrouted": s.unrouted,
                "sent": s.sent,
                "accepted": s.accepted,
                "failed": s.failed,
                "dropped": s.dropped,
                "duplicated": s.duplicated,
                "abandoned": s.abandoned,
                "discarded_while_paused": s.discarded_while_paused,
                "pending": sum(1 for i in self._queue if i.message.supplier is supplier),
                "paused": s.paused,
            }
        return out
