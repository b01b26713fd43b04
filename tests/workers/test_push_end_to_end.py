"""From a supplier's shipped message to one Shopify fulfilment: ingest's apply jobs store the
Shopify order and the CJ package, then the push job fulfils it in the simulator."""

import asyncpg

from schema.queries.inbox import NewSupplierDelivery, insert_supplier_deliveries
from service.runtime import Runtime
from service.suppliers import SupplierKind
from tests.ingest_helpers import order_body, register_test_shop, store_delivery
from tests.supplier_helpers import cj_message, create_account
from tests.workers.pushkit import Kit, gid_number
from workers.jobs.apply_shopify import run_apply_shopify
from workers.jobs.apply_supplier import run_apply_supplier
from workers.jobs.push import run_push_shop


async def test_cj_shipment_applied_by_ingest_is_pushed_once(
    kit: Kit, pool: asyncpg.Pool, runtime: Runtime
) -> None:
    domain = "acme.myshopify.com"
    kit.sim.add_shop(domain, access_token="shpat_t")
    order = kit.sim.create_order(
        domain, line_items=[{"sku": "SKU-1", "quantity": 2}], routing_delay=0
    )
    order_id = gid_number(order["id"])
    [item] = order["line_items"]
    shop_id = await register_test_shop(pool, runtime.secrets, domain=domain)
    body = order_body(
        order_id=order_id,
        line_items=[
            {
                "id": gid_number(item["id"]),
                "admin_graphql_api_id": item["id"],
                "sku": "SKU-1",
                "quantity": 2,
                "fulfillable_quantity": 2,
                "fulfillment_status": None,
                "title": "Widget",
            }
        ],
    )
    await store_delivery(pool, shop_id, body, topic="orders/create")
    await run_apply_shopify(pool, shop_id=shop_id)
    cj = await create_account(
        pool, runtime.secrets, kind=SupplierKind.CJ, shop_ids=[shop_id], note_attributes=["cj_ref"]
    )
    shipped = cj_message(
        "ORDER",
        {
            "cjOrderId": "CJ100",
            "orderNumber": "#1001",
            "orderStatus": "SHIPPED",
            "trackNumber": "CJPKL7160102171YQ",
            "logisticName": "YunExpress",
        },
    )
    async with pool.acquire() as connection:
        await insert_supplier_deliveries(
            connection,
            [
                NewSupplierDelivery(
                    account_id=cj.account.account_id,
                    dedup_key="cj:e2e",
                    kind=cj.account.kind,
                    headers={},
                    body=shipped,
                )
            ],
        )
    touched: set[int] = set()
    await run_apply_supplier(pool, account_id=cj.account.account_id, touched_shops=touched)
    assert touched == {shop_id}

    await run_push_shop(kit.push_deps(), shop_id=shop_id)
    await run_push_shop(kit.push_deps(), shop_id=shop_id)

    [fulfillment] = kit.sim.fulfillments(domain, order_id)
    assert fulfillment["tracking"][0]["number"] == "CJPKL7160102171YQ"
    assert fulfillment["tracking"][0]["company"] == "YunExpress"
    assert [(gid_number(i["line_item_id"]), i["quantity"]) for i in fulfillment["line_items"]] == [
        (gid_number(item["id"]), 2)
    ]
