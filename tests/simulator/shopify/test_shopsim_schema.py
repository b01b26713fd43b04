"""Schema loading and Shopify-shaped validation errors."""

from __future__ import annotations

from shopsim_helpers import AdminClient

from simulator.shopify import load_admin_schema


def test_load_admin_schema_is_cached_and_has_admin_types() -> None:
    schema = load_admin_schema()
    assert schema is load_admin_schema()
    assert schema.get_type("FulfillmentOrder") is not None
    assert "fulfillmentCreate" in schema.mutation_type.fields  # type: ignore[union-attr]


async def test_unknown_field_is_rejected_with_shopify_error_shape(
    admin: AdminClient,
) -> None:
    response = await admin.post({"query": "query Mine { shop { id nonsense } }"})
    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "Field 'nonsense' doesn't exist on type 'Shop'",
                "locations": [{"line": 1, "column": 24}],
                "path": ["query Mine", "shop", "nonsense"],
                "extensions": {
                    "code": "undefinedField",
                    "typeName": "Shop",
                    "fieldName": "nonsense",
                },
            }
        ]
    }


async def test_missing_required_argument_is_rejected(admin: AdminClient) -> None:
    body = await admin.gql("{ order { id } }")
    assert body["errors"][0]["extensions"]["code"] == "missingRequiredArguments"
    assert "data" not in body


async def test_syntax_error_answers_200_with_locations(admin: AdminClient) -> None:
    body = await admin.gql("{ shop { id ")
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 13}]


async def test_missing_query_is_a_400(admin: AdminClient) -> None:
    response = await admin.post({"variables": {}})
    assert response.status_code == 400
    assert response.json() == {"errors": {"query": "Required parameter missing or invalid"}}


async def test_invalid_variable_is_rejected_before_execution(
    admin: AdminClient,
) -> None:
    body = await admin.gql("query($id: ID!) { order(id: $id) { id } }")
    assert body["errors"][0]["message"] == "Variable $id of type ID! was provided invalid value"


async def test_unmodelled_but_valid_fields_resolve_to_empty_values(
    admin: AdminClient,
) -> None:
    body = await admin.gql(
        "{ shop { id billingAddress { city } features { giftCards } alerts { action { title } } } }"
    )
    assert "errors" not in body
    shop = body["data"]["shop"]
    assert shop["alerts"] == []
    assert shop["features"] == {"giftCards": False}


async def test_old_api_version_falls_forward(admin: AdminClient) -> None:
    response = await admin.http.post(
        "/admin/api/2023-01/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": admin.token},
    )
    assert response.status_code == 200
    assert response.headers["X-Shopify-API-Version"] == "2025-10"


async def test_deprecated_mutation_answers_with_deprecation_header(
    admin: AdminClient,
) -> None:
    response = await admin.post(
        {
            "query": "mutation($f: FulfillmentV2Input!) { fulfillmentCreateV2("
            "fulfillment: $f) { userErrors { message } } }",
            "variables": {"f": {"lineItemsByFulfillmentOrder": []}},
        }
    )
    assert response.status_code == 200
    assert "X-Shopify-API-Deprecated-Reason" in response.headers
    current = await admin.post({"query": "{ shop { id } }"})
    assert "X-Shopify-API-Deprecated-Reason" not in current.headers
