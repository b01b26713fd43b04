"""A faithful in-memory fake of Shopify's Admin GraphQL API 2026-10, OAuth and webhooks.

Public interface (everything else in this package is internal):

`ShopifySimulator(*, seed=0, clock=time.monotonic, sleep=asyncio.sleep, epoch=None,
routing_delay=0.2, http_client=None, require_https_webhooks=True,
default_webhook_url=None)`
    `clock` returns monotonic seconds (use `ManualClock` in tests); `sleep` is
    awaited for slow answers and hangs (`ManualClock.sleep` advances time instead of
    waiting); `epoch` is the wall-clock datetime at the clock's first reading;
    `http_client` is the `httpx.AsyncClient` webhooks are sent with (route it to an
    ASGI app with `httpx.ASGITransport`).

    sim.app                                   ASGI app (see "HTTP surface")
    sim.add_shop(domain, *, plan="standard", access_token=None, client_id=None,
                 client_secret=None, timezone="UTC", name=None, scope=DEFAULT_SCOPE)
                                              -> ShopCredentials(domain, access_token,
                                                 client_id, client_secret, shop_id,
                                                 primary_location_id)
    sim.add_location(domain, name) -> location gid
    sim.create_order(domain, *, line_items=[{sku, quantity, location?, title?, price?,
                     variant_id?, product_id?}], name=None, financial_status="paid",
                     email=..., customer=None, note=None, test=False, tags=(),
                     custom_attributes=(), shipping_address=None, routing_delay=None)
                                              -> {id (gid), legacy_id, name, line_items,
                                                  fulfillment_order_ids, ...}
    sim.route_orders(domain=None) -> new FO gids  (else routing happens routing_delay
                                                  seconds of `clock` after creation)
    sim.order(domain, order_id) / sim.fulfillment_orders(domain, order_id)
    sim.fulfillments(domain, order_id=None) / sim.fulfillment_count_by_tracking(domain)
    Acting underneath the client (same rules and webhooks as the mutations):
    sim.hold_fulfillment_order(domain, fo_id, *, reason="OTHER", reason_notes=None,
                               handle=None) -> hold gid
    sim.release_fulfillment_order(domain, fo_id, *, hold_ids=None)
    sim.split_fulfillment_order(domain, fo_id, *, keep=[(fo_line_item_id, qty)])
                                              -> new FO gid (holding the rest)
    sim.move_fulfillment_order(domain, fo_id, *, location=name_or_gid) -> new FO gid
    sim.cancel_fulfillment_order(domain, fo_id, *, replace=True) -> replacement gid|None
    sim.close_fulfillment_order(domain, fo_id)            (status INCOMPLETE)
    sim.cancel_order(domain, order_id, *, reason="CUSTOMER")
    sim.close_order(domain, order_id) / sim.mark_order_paid(domain, order_id)
    sim.create_fulfillment(domain, *, fulfillment_order_id, line_items=None,
                           tracking_number=None, tracking_company=None,
                           tracking_url=None, notify_customer=False,
                           created_by="merchant") -> fulfillment gid
    sim.cancel_fulfillment(domain, fulfillment_id)
    sim.update_tracking(domain, fulfillment_id, *, number, company=None, url=None)
    sim.uninstall_app(domain) / sim.revoke_token(domain, token=None)
    sim.expire_token(domain, token=None)
    Webhooks:
    sim.subscriptions(domain) / sim.set_default_webhook_url(url, *, domain=None)
    sim.set_webhook_knobs(WebhookKnobs(...) | None, *, domain=None)
    await sim.deliver_webhooks(*, include_future=False) -> [DeliveryRecord]
    sim.pending_webhooks() / sim.webhook_log
    sim.start_background_delivery(*, interval=0.05)
    await sim.stop_background_delivery()
    Faults:
    sim.set_faults(FaultPlan(...) | None, *, domain=None)
    sim.queue_fault(FaultKind | str, *, domain=None, count=1)
    Inspection: sim.calls ([CallRecord]), sim.stats(), sim.shop(domain) (raw state),
    sim.oauth.requests ([AuthorizeRequest]); await sim.aclose().
    Ids accepted by the helpers: a gid string, a numeric string or an int.

HTTP surface (`sim.app`):
    POST /admin/api/{version}/graphql.json            shop from the Host header
    POST /shops/{shop}/admin/api/{version}/graphql.json
    GET  /admin/oauth/authorize, POST /admin/oauth/access_token
                                                      (also under /shops/{shop})
    /_sim/...                                         JSON control endpoints (see docs)

Also public: `load_admin_schema()` (the 2026-10 `GraphQLSchema`, cached per process),
`ManualClock`, `WebhookKnobs`, `FaultPlan`, `FaultKind`, `sign_webhook(body, secret)`,
`oauth_query_hmac(params, secret)`, `INVALID_TOKEN_BODY`.
"""

from simulator.shopify.app import INVALID_TOKEN_BODY
from simulator.shopify.clock import ManualClock
from simulator.shopify.faults import FaultKind, FaultPlan
from simulator.shopify.model import CallRecord
from simulator.shopify.oauth import AuthorizeRequest, oauth_query_hmac
from simulator.shopify.schema import ADMIN_API_VERSION, load_admin_schema
from simulator.shopify.simulator import DEFAULT_SCOPE, ShopCredentials, ShopifySimulator
from simulator.shopify.webhooks import DeliveryRecord, WebhookKnobs, sign_webhook

__all__ = [
    "ADMIN_API_VERSION",
    "DEFAULT_SCOPE",
    "INVALID_TOKEN_BODY",
    "AuthorizeRequest",
    "CallRecord",
    "DeliveryRecord",
    "FaultKind",
    "FaultPlan",
    "ManualClock",
    "ShopCredentials",
    "ShopifySimulator",
    "WebhookKnobs",
    "load_admin_schema",
    "oauth_query_hmac",
    "sign_webhook",
]
