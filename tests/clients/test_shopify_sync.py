"""GraphQL orders become the same snapshots webhooks produce."""

from datetime import UTC, datetime

import pytest

from clients.shopify import ShopifyRequestError
from clients.shopify_sync import parse_order

NODE = {
    "id": "gid://shopify/Order/820982911946154508",
    "name": "#1001",
    "number": 1,
    "displayFinancialStatus": "PARTIALLY_REFUNDED",
    "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
    "cancelledAt": None,
    "closedAt": "2026-11-02T10:00:00Z",
    "createdAt": "2026-11-01T09:00:00Z",
    "updatedAt": "2026-11-02T10:00:01Z",
    "test": False,
    "email": "jane@example.com",
    "phone": None,
    "customAttributes": [{"key": "cj_order", "value": "CJ123"}],
    "customer": {"id": "gid://shopify/Customer/115310627314723954"},
    "shippingAddress": {"name": "Jane Doe", "city": "Paris", "countryCodeV2": "FR"},
    "lineItems": {
        "pageInfo": {"hasNextPage": False},
        "nodes": [
            {
                "id": "gid://shopify/LineItem/1",
                "sku": "A",
                "title": "Mug",
                "quantity": 2,
                "currentQuantity": 2,
                "unfulfilledQuantity": 1,
                "requiresShipping": True,
                "variant": {"id": "gid://shopify/ProductVariant/9"},
            },
            {
                "id": "gid://shopify/LineItem/2",
                "sku": None,
                "title": "Card",
                "quantity": 1,
                "currentQuantity": 1,
                "unfulfilledQuantity": 0,
                "requiresShipping": False,
                "variant": None,
            },
        ],
    },
}


def test_parse_order_maps_graphql_to_the_webhook_snapshot() -> None:
    order = parse_order(NODE)
    assert order.order_id == 820982911946154508
    assert order.financial_status == "partially_refunded"
    assert order.fulfillment_status == "partial"
    assert order.closed_at == datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert order.updated_at == datetime(2026, 11, 2, 10, 0, 1, tzinfo=UTC)
    assert order.note_attributes == (("cj_order", "CJ123"),)
    assert order.pii.customer_id == 115310627314723954
    assert order.pii.shipping_address is not None
    assert order.pii.shipping_address.country_code == "FR"
    first, second = order.line_items
    assert (first.line_item_id, first.variant_id, first.fulfillment_status) == (1, 9, "partial")
    assert (second.sku, second.fulfillment_status, second.requires_shipping) == (
        None,
        "fulfilled",
        False,
    )
    assert order.fulfillments == ()


def test_parse_order_without_updated_at_is_refused() -> None:
    with pytest.raises(ShopifyRequestError):
        parse_order({**NODE, "updatedAt": None})
