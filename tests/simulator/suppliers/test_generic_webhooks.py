"""Generic supplier: Standard Webhooks signatures and the JSON Schema of its events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
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
    assert request.headers["webhook-id"].startswith("msg_")
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
    assert [p["line_items"] for p in shipped["data"]["packages"]] == [
        [{"quantity": 2, "shopify_line_item_id": 13300000001, "sku": "TS-BLK-M"}],
        [{"quantity": 1, "shopify_line_item_id": 13300000002, "variant_id": 44000000002}],
    ]
    assert shipped["data"]["shopify_order_id"] == "gid://shopify/Order/5550000002"
    assert shipped["data"]["order_name"] == "#2001"


def test_relabel_sends_the_package_with_its_new_tracking_number() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())

    events = _every_event_type(sim)

    [shipped] = [e for e in events if e["type"] == "order.shipped"]
    updates = [e for e in events if e["type"] == "tracking.updated"]
    [scan, relabel] = [u["data"]["packages"][0] for u in updates]
    old_number = shipped["data"]["packages"][1]["tracking_number"]
    assert scan["tracking_number"] == old_number
    assert scan["status"] == "out_for_delivery"
    assert scan["events"][-1]["location"] == "Denver, CO"
    assert relabel["tracking_number"] != old_number
    assert relabel["line_items"] == shipped["data"]["packages"][1]["line_items"]


def test_split_and_cancel_carry_their_parts_and_reason() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())

    events = _every_event_type(sim)

    [split] = [e for e in events if e["type"] == "order.split"]
    [cancelled] = [e for e in events if e["type"] == "order.cancelled"]
    assert [part["line_items"] for part in split["data"]["split_into"]] == [
        [{"quantity": 2, "shopify_line_item_id": 13300000001, "sku": "TS-BLK-M"}],
        [{"quantity": 1, "shopify_line_item_id": 13300000002, "variant_id": 44000000002}],
    ]
    assert split["data"]["order_name"] == "#2002"
    assert cancelled["data"]["reason"] == "out of stock"


def test_numeric_shopify_order_id_is_sent_as_a_json_integer() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())
    sim.place_order(
        Supplier.GENERIC,
        merchant_reference="#3001",
        shopify_order_id="5550000003",
        line_items=(SHIRT,),
    )

    [placed] = [m.json() for m in sim.messages(supplier=Supplier.GENERIC)]

    assert placed["data"]["shopify_order_id"] == 5550000003
    assert "order_name" not in placed["data"]


def test_line_without_a_reference_the_format_accepts_is_refused() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())

    with pytest.raises(ValueError, match="no shopify_line_item_id"):
        sim.place_order(
            Supplier.GENERIC,
            merchant_reference="#3002",
            line_items=(LineItem(quantity=1, variant_id="V-100"),),
        )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("data", "occurred_at"), "2026-01-15T08:00:00"),
        (("type",), "order.refunded"),
        (("data", "shopify_order_id"), "5550000002"),
        (("data", "supplier_order_id"), " "),
    ],
    ids=["zone_missing", "unknown_type", "order_id_as_digit_string", "blank_supplier_order"],
)
def test_schema_rejects_malformed_events(path: tuple[str, ...], value: object) -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())
    validator = jsonschema_rs.validator_for(load_schema(), validate_formats=True)
    event = _every_event_type(sim)[0]
    target = event
    for key in path[:-1]:
        target = target[key]

    target[path[-1]] = value

    assert not validator.is_valid(event)


def test_schema_requires_packages_on_a_shipped_event() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())
    validator = jsonschema_rs.validator_for(load_schema(), validate_formats=True)
    [shipped] = [e for e in _every_event_type(sim) if e["type"] == "order.shipped"]

    shipped["data"]["packages"] = []

    assert not validator.is_valid(shipped)


def test_schema_requires_a_shopify_order_reference() -> None:
    sim = SupplierSimulator(seed=5, clock=ManualClock())
    validator = jsonschema_rs.validator_for(load_schema(), validate_formats=True)
    event = _every_event_type(sim)[0]

    del event["data"]["shopify_order_id"]
    still_named = validator.is_valid(event)
    del event["data"]["order_name"]

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


def test_schema_copy_is_identical_to_dropsyncs_published_schema() -> None:
    # Read as a file, not imported: the simulator speaks the published contract.
    published = Path(__file__).parents[3] / "core" / "generic_event.schema.json"

    assert load_schema() == json.loads(published.read_text())


def test_generic_relabel_names_the_number_it_replaces() -> None:
    sim = SupplierSimulator(seed=6, clock=ManualClock())
    order = sim.place_order(Supplier.GENERIC, merchant_reference="#3001", line_items=(SHIRT,))
    [package] = sim.ship(order.supplier_order_id)
    old_number = package.tracking_number
    sim.change_tracking_number(order.supplier_order_id, tracking_number="NEWNUMBER1")

    last = sim.messages(supplier=Supplier.GENERIC)[-1].json()

    assert last["type"] == "tracking.updated"
    [sent] = last["data"]["packages"]
    assert sent["tracking_number"] == "NEWNUMBER1"
    assert sent["previous_tracking_number"] == old_number
