"""Schema loading and Shopify-shaped validation errors."""

from __future__ import annotations

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)

from simulator.shopify import ShopifySimulator, load_admin_schema
from tests.simulator.shopify.shopsim_helpers import SHOP, AdminClient


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


def _literal(type_: GraphQLInputType) -> str | None:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(inner, GraphQLList):
        item = _literal(inner.of_type)
        return None if item is None else f"[{item}]"
    if isinstance(inner, GraphQLEnumType):
        return str(next(iter(inner.values)))
    scalars = {
        "ID": '"gid://shopify/Order/1"',
        "Int": "1",
        "Float": "1.0",
        "Boolean": "true",
    }
    if isinstance(inner, GraphQLScalarType):
        return scalars.get(inner.name, '"2026-01-01"')
    return None  # input objects: skipped, building them is not the point here


def _leaf_selection(type_: GraphQLOutputType) -> str:
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        return "" if is_leaf_type(named) else "{ __typename }"
    leaves = [
        name
        for name, field in named.fields.items()
        if is_leaf_type(get_named_type(field.type))
        and not any(isinstance(a.type, GraphQLNonNull) for a in field.args.values())
    ]
    return "{ __typename " + " ".join(leaves[:30]) + " }"


def _root_field_selections() -> list[tuple[str, str]]:
    """Return (operation, `field(args) { leaves }`) for every root field we can call."""
    schema = load_admin_schema()
    selections = []
    for operation, root in (
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
    ):
        assert root is not None
        for name, field in root.fields.items():
            arguments = []
            for arg_name, arg in field.args.items():
                if arg_name == "first":
                    arguments.append("first: 2")
                elif isinstance(arg.type, GraphQLNonNull):
                    value = _literal(arg.type)
                    if value is None:
                        break
                    arguments.append(f"{arg_name}: {value}")
            else:
                args = f"({', '.join(arguments)})" if arguments else ""
                selections.append((operation, f"{name}{args} {_leaf_selection(field.type)}"))
    return selections


async def test_every_root_field_answers_without_a_server_error(
    sim: ShopifySimulator, admin: AdminClient
) -> None:
    sim.create_order(SHOP, line_items=[{"sku": "A", "quantity": 1}], routing_delay=0)
    selections = _root_field_selections()
    assert len(selections) > 300
    batch = 20  # several root fields per document keeps validation time down
    for start in range(0, len(selections), batch):
        chunk = selections[start : start + batch]
        for operation in ("query", "mutation"):
            fields = " ".join(f for op, f in chunk if op == operation)
            if not fields:
                continue
            document = f"{operation} {{ {fields} }}"
            response = await admin.post({"query": document})
            assert response.status_code == 200, document
            codes = {
                error.get("extensions", {}).get("code")
                for error in response.json().get("errors", [])
            }
            assert codes <= {"THROTTLED"}, (document, response.text)
            sim.shop(SHOP).bucket_available = sim.shop(SHOP).bucket_size


@pytest.mark.parametrize(
    ("requested", "served"),
    [("2026-10", "2026-10"), ("2026-05", "2026-07"), ("2026-11", "2027-01")],
)
async def test_any_year_month_version_is_served(
    admin: AdminClient, requested: str, served: str
) -> None:
    response = await admin.http.post(
        f"/admin/api/{requested}/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": admin.token},
    )
    assert response.headers["X-Shopify-API-Version"] == served


async def test_malformed_version_is_not_found(admin: AdminClient) -> None:
    response = await admin.http.post(
        "/admin/api/latest/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": admin.token},
    )
    assert response.status_code == 404
