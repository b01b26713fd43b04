"""The CJ and AliExpress clients against the supplier simulator's APIs."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from clients.aliexpress import (
    AliExpressClient,
    AliExpressCredentials,
    logistics_numbers,
    sign_request,
    unwrap_list,
)
from clients.cj import CjClient
from clients.supplier_errors import SupplierAuthError, SupplierNotFoundError
from simulator.suppliers import (
    LineItem,
    ShipmentSpec,
    Supplier,
    SupplierSimulator,
    create_app,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
CJ_URL = "https://cj.test/api2.0/v1"
AE_URL = "https://ae.test/sync"


@pytest.fixture
def sim() -> SupplierSimulator:
    return SupplierSimulator(seed=7)


@pytest.fixture
async def http(sim: SupplierSimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


def _ae(http: httpx.AsyncClient, *, session: str = "ae-test-session") -> AliExpressClient:
    return AliExpressClient(
        http=http,
        url=AE_URL,
        credentials=AliExpressCredentials(
            app_key="500001", app_secret="ae-test-secret", session=session
        ),
    )


def _items() -> list[LineItem]:
    return [LineItem(quantity=1, sku="A"), LineItem(quantity=2, sku="B")]


def test_sign_request_is_upper_hex_over_sorted_name_value_pairs() -> None:
    # HMAC-SHA256(key "s", message "a1b2"), computed independently; `sign` itself is left out.
    expected = "AFD1ED70462CA57C91A26BEE586FE975C88C02AD0F1A52735712C4E8E897CED2"
    assert sign_request({"b": "2", "sign": "x", "a": "1"}, secret="s") == expected


def test_unwrap_list_undoes_the_gateway_wrappers() -> None:
    assert unwrap_list({"x": [{"a": 1}, {"a": 2}]}) == [{"a": 1}, {"a": 2}]
    assert unwrap_list({"x": {"a": 1}}) == [{"a": 1}]
    assert unwrap_list([1, 2]) == [1, 2]
    assert unwrap_list(None) == []


async def test_aliexpress_order_detail_lists_every_parcel_of_a_split_shipment(
    sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#1001", line_items=_items())
    sim.ship(
        order.supplier_order_id,
        packages=[
            ShipmentSpec(line_items=(LineItem(quantity=1, sku="A"),)),
            ShipmentSpec(line_items=(LineItem(quantity=2, sku="B"),)),
        ],
    )
    result = await _ae(http).order_detail(order.supplier_order_id, now=NOW)
    numbers = [number for number, _ in logistics_numbers(result)]
    assert numbers == [package.tracking_number for package in order.packages]
    assert result["order_status"] == "WAIT_BUYER_ACCEPT_GOODS"


async def test_aliexpress_single_parcel_collapsed_list_is_read(
    sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#1002", line_items=_items())
    sim.ship(order.supplier_order_id)
    result = await _ae(http).order_detail(order.supplier_order_id, now=NOW)
    assert [n for n, _ in logistics_numbers(result)] == [order.packages[0].tracking_number]


async def test_aliexpress_tracking_is_none_before_shipping_and_lines_after(
    sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.ALIEXPRESS, merchant_reference="#1003", line_items=_items())
    client = _ae(http)
    assert await client.tracking(order.supplier_order_id, now=NOW) is None
    sim.ship(order.supplier_order_id)
    lines = await client.tracking(order.supplier_order_id, now=NOW)
    assert lines is not None
    assert [line["mail_no"] for line in lines] == [order.packages[0].tracking_number]


async def test_aliexpress_foreign_order_is_not_found(http: httpx.AsyncClient) -> None:
    with pytest.raises(SupplierNotFoundError):
        await _ae(http).order_detail("999999", now=NOW)


async def test_aliexpress_expired_session_is_an_auth_error(http: httpx.AsyncClient) -> None:
    with pytest.raises(SupplierAuthError):
        await _ae(http, session="expired").order_detail("1", now=NOW)


async def test_cj_order_detail_and_tracking(
    sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#2001", line_items=_items())
    client = CjClient(http=http, url=CJ_URL, access_token="cj-test-token")
    detail = await client.order_detail(order.supplier_order_id)
    assert detail["orderStatus"] == "UNSHIPPED"
    assert detail["trackNumber"] is None
    sim.ship(order.supplier_order_id)
    detail = await client.order_detail(order.supplier_order_id)
    number = order.packages[0].tracking_number
    assert detail["trackNumber"] == number
    tracks = await client.track_info([number])
    assert [entry["trackingNumber"] for entry in tracks] == [number]


async def test_cj_unknown_order_is_not_found(http: httpx.AsyncClient) -> None:
    client = CjClient(http=http, url=CJ_URL, access_token="cj-test-token")
    with pytest.raises(SupplierNotFoundError):
        await client.order_detail("nope")


async def test_cj_refused_token_is_renewed_once_from_the_api_key(
    sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    order = sim.place_order(Supplier.CJ, merchant_reference="#2002", line_items=_items())
    client = CjClient(http=http, url=CJ_URL, access_token="expired", api_key="cj-test-api-key")
    detail = await client.order_detail(order.supplier_order_id)
    assert detail["orderId"] == order.supplier_order_id
    assert client.renewed
    assert client.access_token != "expired"


async def test_cj_refused_token_without_api_key_is_an_auth_error(
    http: httpx.AsyncClient,
) -> None:
    client = CjClient(http=http, url=CJ_URL, access_token="expired")
    with pytest.raises(SupplierAuthError):
        await client.order_detail("x")


async def test_cj_set_webhook_registers_both_topics_and_lifts_a_pause(
    sim: SupplierSimulator, http: httpx.AsyncClient
) -> None:
    client = CjClient(http=http, url=CJ_URL, access_token="cj-test-token")
    await client.set_webhook(
        order_url="https://dropsync.test/webhooks/cj/1/t",
        logistics_url="https://dropsync.test/webhooks/cj/1/t",
    )
    assert sim.webhook_url(Supplier.CJ, "order") == "https://dropsync.test/webhooks/cj/1/t"
    assert sim.webhook_url(Supplier.CJ, "logistics") == "https://dropsync.test/webhooks/cj/1/t"
