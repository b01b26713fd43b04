"""Generic supplier: Standard Webhooks signatures and the JSON Schema of its events."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jsonschema_rs
import pytest

from simulator.suppliers import (
    CjTrackingStatus,
    LineItem,
    ManualClock,
    ShipmentSpec,
    Supplier,
    SupplierSimulator,
)
from simulator.suppliers.generic import load_schema
from simulator.suppliers.receiver import ReceivedRequest, RecordingReceiver

ENDPOINT = "http://dropsync.test/webhooks/suppliers/acme?token=xyz"
SHIRT = LineItem(quantity=2, sku="TS-BLK-M", shopify_line_item_id="13300000001")
SOCKS = LineItem(quantity=1, variant_id="44000000002", shopify_line_item_id="13300000002")


def reference_verify(
    request: ReceivedRequest, secret: str, *, now: int, tolerance: int = 300
) -> bool:
    """Standard Webhooks verification, written from the spec, not from the sender."""
    message_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    content = message_id.encode() + b"." + timestamp.encode() + b"." + request.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    for candidate in request.headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


@pytest.fixture
async def receiver() -> RecordingReceiver:
    return RecordingReceiver()


@pytest.fixture
async def sim(receiver: RecordingReceiver) -> AsyncIterator[SupplierSimulator]:
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport) as client:
        simulator = SupplierSimulator(seed=3, clock=ManualClock(), http_client=client)
        simulator.set_webhook_url(Supplier.GENERIC, ENDPOINT)
        yield simulator


def _now(sim: SupplierSimulator) -> int:
    return int(sim.clock.now().timestamp())


async def test_signature_verifies_with_reference_implementation(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    sim.place_order(
        Supplier.GENERIC,
        merchant_reference="#1001",
        shopify_order_id="5550000001",
        line_items=(SHIRT,),
    )

    await sim.deliver()

    [request] = receiver.requests
    [secret] = sim.settings.generic_secrets
    assert reference_verify(request, secret, now=_now(sim))
    assert request.headers["webhook-id"] == request.json()["event_id"]
    assert request.headers["webhook-timestamp"] == str(_now(sim))


async def test_tampered_body_or_foreign_secret_fails_verification(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    sim.place_order(Supplier.GENERIC, merchant_reference="#1002", line_items=(SHIRT,))
    await sim.deliver()
    [request] = receiver.requests
    [secret] = sim.settings.generic_secrets
    tampered = ReceivedRequest(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body.replace(b"#1002", b"#9999"),
    )
    foreign = "whsec_" + base64.b64encode(b"x" * 32).decode()

    assert not reference_verify(tampered, secret, now=_now(sim))
    assert not reference_verify(request, foreign, now=_now(sim))


async def test_rotation_signs_with_every_active_secret(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    [old_secret] = sim.settings.generic_secrets
    new_secret = sim.rotate_generic_secret()
    sim.place_order(Supplier.GENERIC, merchant_reference="#1003", line_items=(SHIRT,))

    await sim.deliver()

    [request] = receiver.requests
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)
    assert reference_verify(request, old_secret, now=_now(sim))
    assert reference_verify(request, new_secret, now=_now(sim))


async def test_retired_secret_stops_verifying_after_rotation_completes(
    sim: SupplierSimulator, receiver: RecordingReceiver
) -> None:
    [old_secret] = sim.settings.generic_secrets
    new_secret = sim.rotate_generic_secret(keep_previous=False)
    sim.place_order(Supplier.GENERIC, merchant_reference="#1004", line_items=(SHIRT,))

    await sim.deliver()

    [request] = receiver.requests
    assert reference_verify(request, new_secret, now=_now(sim))
    assert not reference_verify(request, old_secret, now=_now(sim))


def _every_event_type(sim: SupplierSimulator) -> list[dict[str, Any]]:
    shipped = sim.place_order(
        Supplier.GENERIC,
        merchant_reference="#2001",
        shopify_order_id="gid://shopify/Order/5550000002",
        order_name="#2001",
        line_items=(SHIRT, SOCKS),
    )
    sim.ship(
        shipped.supplier_order_id,
        packages=[ShipmentSpec(line_items=(SHIRT,)), ShipmentSpec(line_items=(SOCKS,))],
    )
    sim.add_tracking_event(
        shipped.supplier_order_id,
        status=CjTrackingStatus.OUT_FOR_DELIVERY,
        location="Denver, CO",
    )
    sim.change_tracking_number(shipped.supplier_order_id)
    split = sim.place_order(Supplier.GENERIC, merchant_reference="#2002", line_items=(SHIRT, SOCKS))
    sim.split(split.supplier_order_id, parts=[[SHIRT], [SOCKS]])
    cancelled = sim.place_order(Supplier.GENERIC, merchant_reference="#2003", line_items=(SOCKS,))
    sim.cancel(cancelled.supplier_order_id, reason="out of stock")
    return [m.json() for m in sim.messages(supplier=Supplier.GENERIC)]


def test_every_generic_event_matches_the_published_schema() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())
    validator = jsonschema_rs.validator_for(load_schema(), validate_formats=True)

    events = _every_event_type(sim)

    assert {e["type"] for e in events} == {
        "order.placed",
        "order.shipped",
        "tracking.updated",
        "order.split",
        "order.cancelled",
    }
    for event in events:
        errors = [e.message for e in validator.iter_errors(event)]
        assert errors == [], (event["type"], errors)


def test_shipped_event_lists_each_package_with_its_line_items() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())

    events = _every_event_type(sim)

    [shipped] = [e for e in events if e["type"] == "order.shipped"]
    assert [p["line_items"] for p in shipped["packages"]] == [
        [{"quantity": 2, "shopify_line_item_id": "13300000001", "sku": "TS-BLK-M"}],
        [
            {
                "quantity": 1,
                "shopify_line_item_id": "13300000002",
                "variant_id": "44000000002",
            }
        ],
    ]
    relabel = [e for e in events if "previous_tracking_number" in e]
    assert relabel[0]["previous_tracking_number"] == shipped["packages"][1]["tracking_number"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "2026-01-15T08:00:00"),
        ("type", "order.refunded"),
        ("surprise", True),
    ],
    ids=["zone_missing", "unknown_type", "unknown_field"],
)
def test_schema_rejects_malformed_events(field: str, value: object) -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())
    validator = jsonschema_rs.validator_for(load_schema(), validate_formats=True)
    event = _every_event_type(sim)[0]

    event[field] = value

    assert not validator.is_valid(event)


def test_schema_requires_a_shopify_order_reference() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())
    validator = jsonschema_rs.validator_for(load_schema(), validate_formats=True)
    event = _every_event_type(sim)[0]

    del event["shopify_order_id"]
    still_named = validator.is_valid(event)
    del event["order_name"]

    assert still_named
    assert not validator.is_valid(event)


async def test_signing_clock_stamps_wall_time_while_state_uses_manual_clock(
    receiver: RecordingReceiver,
) -> None:
    wall = ManualClock(start=ManualClock().now() + timedelta(days=400))
    transport = httpx.ASGITransport(app=receiver.app)
    async with httpx.AsyncClient(transport=transport) as client:
        sim = SupplierSimulator(seed=3, clock=ManualClock(), http_client=client, signing_clock=wall)
        sim.set_webhook_url(Supplier.GENERIC, ENDPOINT)
        sim.place_order(Supplier.GENERIC, merchant_reference="#5", line_items=(SHIRT,))
        await sim.deliver()

    [request] = receiver.requests
    [secret] = sim.settings.generic_secrets
    assert request.headers["webhook-timestamp"] == str(int(wall.now().timestamp()))
    assert reference_verify(request, secret, now=int(wall.now().timestamp()))
