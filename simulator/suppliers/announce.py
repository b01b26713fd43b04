"""Turn order lifecycle changes into each supplier's webhooks and queue them.

change      CJ                          AliExpress (msg 53)    generic
placed      ORDER / INSERT              OrderCreated           order.placed
shipped     ORDER / UPDATE + LOGISTIC   OrderShipped (first)   order.shipped
scan        LOGISTIC (+ ORDER at end)   OrderConfirmed (end)   tracking.updated
relabelled  ORDER / UPDATE + LOGISTIC   nothing                tracking.updated
split       ORDERSPLIT                  (refused earlier)      order.split
cancelled   ORDER / UPDATE              OrderClosed            order.cancelled
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from simulator.suppliers import aliexpress, cj, generic
from simulator.suppliers.clock import Clock
from simulator.suppliers.delivery import Outbox, WebhookMessage
from simulator.suppliers.ids import IdFactory
from simulator.suppliers.model import Package, Supplier, SupplierOrder
from simulator.suppliers.settings import SupplierSettings
from simulator.suppliers.standard_webhooks import signature_headers

__all__ = ["TOPICS", "Announcer"]

# Webhook topics per supplier; each topic has its own callback URL (CJ
# registers "order" and "logistics" separately; ORDERSPLIT rides on "order").
TOPICS: Mapping[Supplier, tuple[str, ...]] = {
    Supplier.CJ: ("order", "logistics"),
    Supplier.ALIEXPRESS: ("order_status",),
    Supplier.GENERIC: ("events",),
}


class Announcer:
    """Build, record and enqueue the webhooks for each change."""

    def __init__(
        self,
        *,
        settings: SupplierSettings,
        ids: IdFactory,
        clock: Clock,
        signing_clock: Clock,
        outbox: Outbox,
    ) -> None:
        self._settings = settings
        self._ids = ids
        self._clock = clock
        self._signing_clock = signing_clock
        self._outbox = outbox
        self.urls: dict[tuple[Supplier, str], str] = {}
        self.history: list[WebhookMessage] = []
        outbox.set_signer(Supplier.GENERIC, self._sign_generic)
        outbox.set_signer(Supplier.ALIEXPRESS, self._sign_push)

    # -- lifecycle changes ---------------------------------------------------

    def placed(self, order: SupplierOrder) -> None:
        match order.supplier:
            case Supplier.CJ:
                self._cj_order(order, message_type="INSERT")
            case Supplier.ALIEXPRESS:
                self._ae_push(order)
            case Supplier.GENERIC:
                self._generic(generic.placed_event(order, occurred_at=self._clock.now()))

    def shipped(self, order: SupplierOrder, packages: Sequence[Package], *, first: bool) -> None:
        match order.supplier:
            case Supplier.CJ:
                self._cj_order(order, message_type="UPDATE")
                self._cj_logistic(order, packages[0])
            case Supplier.ALIEXPRESS:
                # Later packages change no order status, so no message 53.
                if first:
                    self._ae_push(order)
            case Supplier.GENERIC:
                self._generic(generic.shipped_event(order, packages, occurred_at=self._clock.now()))

    def scanned(self, order: SupplierOrder, package: Package, *, delivered: bool) -> None:
        match order.supplier:
            case Supplier.CJ:
                self._cj_logistic(order, package)
                if delivered:
                    self._cj_order(order, message_type="UPDATE")
            case Supplier.ALIEXPRESS:
                if delivered:
                    self._ae_push(order)
            case Supplier.GENERIC:
                self._generic(
                    generic.tracking_updated_event(order, package, occurred_at=self._clock.now())
                )

    def relabelled(self, order: SupplierOrder, package: Package, *, previous: str) -> None:
        match order.supplier:
            case Supplier.CJ:
                self._cj_order(order, message_type="UPDATE")
                self._cj_logistic(order, package)
            case Supplier.ALIEXPRESS:
                # Message 53 reports order *status*; a relabel changes none, so
                # AliExpress stays silent and only polling can notice.
                pass
            case Supplier.GENERIC:
                # The package as it is now, naming the number its new one replaces.
                self._generic(
                    generic.tracking_updated_event(
                        order,
                        package,
                        occurred_at=self._clock.now(),
                        previous_tracking_number=previous,
                    )
                )

    def split(self, order: SupplierOrder, children: Sequence[SupplierOrder]) -> None:
        match order.supplier:
            case Supplier.CJ:
                message_id = self._ids.uuid_hex()
                payload = cj.split_message(
                    order,
                    children,
                    message_id=message_id,
                    open_id=self._settings.cj_open_id,
                    split_at=self._clock.now(),
                    zone=self._settings.cj_timezone,
                )
                self._emit(Supplier.CJ, "ORDERSPLIT", "order", payload, message_id)
            case Supplier.ALIEXPRESS:
                raise AssertionError("AliExpress splits are refused before this")
            case Supplier.GENERIC:
                self._generic(generic.split_event(order, children, occurred_at=self._clock.now()))

    def cancelled(self, order: SupplierOrder) -> None:
        match order.supplier:
            case Supplier.CJ:
                self._cj_order(order, message_type="UPDATE")
            case Supplier.ALIEXPRESS:
                self._ae_push(order)
            case Supplier.GENERIC:
                self._generic(generic.cancelled_event(order, occurred_at=self._clock.now()))

    # -- building and queueing -------------------------------------------------

    def _emit(
        self,
        supplier: Supplier,
        topic: str,
        url_topic: str,
        payload: Any,
        message_id: str,
    ) -> None:
        message = WebhookMessage(
            message_id=message_id,
            supplier=supplier,
            topic=topic,
            url=self.urls.get((supplier, url_topic)),
            body=json.dumps(payload, separators=(",", ":")).encode(),
            created_at=self._clock.now(),
        )
        self.history.append(message)
        self._outbox.enqueue(message)

    def _cj_order(self, order: SupplierOrder, *, message_type: str) -> None:
        message_id = self._ids.uuid_hex()
        payload = cj.order_message(
            order,
            message_id=message_id,
            message_type=message_type,
            open_id=self._settings.cj_open_id,
            zone=self._settings.cj_timezone,
            newer_fields=self._settings.cj_newer_fields,
        )
        self._emit(Supplier.CJ, "ORDER", "order", payload, message_id)

    def _cj_logistic(self, order: SupplierOrder, package: Package) -> None:
        message_id = self._ids.uuid_hex()
        payload = cj.logistic_message(
            order,
            package,
            message_id=message_id,
            open_id=self._settings.cj_open_id,
            zone=self._settings.cj_timezone,
            newer_fields=self._settings.cj_newer_fields,
        )
        self._emit(Supplier.CJ, "LOGISTIC", "logistics", payload, message_id)

    def _ae_push(self, order: SupplierOrder) -> None:
        payload = aliexpress.push_message(
            order,
            status=aliexpress.push_status(order),
            buyer_id=self._settings.ae_buyer_id,
            seller_id=self._settings.ae_seller_id,
            sent_at=self._clock.now(),
        )
        topic = str(aliexpress.MESSAGE_TYPE_ORDER_STATUS)
        message_id = self._ids.uuid_hex()
        self._emit(Supplier.ALIEXPRESS, topic, "order_status", payload, message_id)

    def _generic(self, payload: dict[str, Any]) -> None:
        # The webhook-id header identifies the delivery; the body does not repeat it.
        self._emit(Supplier.GENERIC, payload["type"], "events", payload, self._ids.webhook_id())

    # -- signing at send time ----------------------------------------------------

    def _sign_generic(self, message: WebhookMessage, _now: datetime) -> Mapping[str, str]:
        return signature_headers(
            secrets=self._settings.generic_secrets,
            message_id=message.message_id,
            timestamp=int(self._signing_clock.now().timestamp()),
            body=message.body,
        )

    def _sign_push(self, message: WebhookMessage, _now: datetime) -> Mapping[str, str]:
        header = self._settings.ae_push_signature_header
        if header is None:
            return {}
        secret = self._settings.ae_app_secret.encode()
        return {header: hmac.new(secret, message.body, hashlib.sha256).hexdigest()}
