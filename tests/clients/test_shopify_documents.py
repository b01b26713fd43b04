"""Every document dropsync sends validates against Shopify's 2026-10 schema and stays under the
1,000-point query cost limit."""

import gzip
import importlib
import json
import pkgutil
from functools import cache
from pathlib import Path

import pytest
from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_client_schema,
    get_named_type,
    parse,
    validate,
)
from graphql.type.definition import GraphQLOutputType

import clients
import workers
from clients.shopify_documents import Document, register, registered_documents

_SCHEMA_FILE = Path("/work/shared/shopify-schema/admin-2026-10.json.gz")


@cache
def admin_schema() -> GraphQLSchema:
    try:
        module = importlib.import_module("simulator.shopify.schema")
    except ImportError:
        schema = build_client_schema(json.loads(gzip.decompress(_SCHEMA_FILE.read_bytes()))["data"])
        schema._validation_errors = []  # Shopify deprecates some interface implementations
        return schema
    loaded: GraphQLSchema = module.load_admin_schema()
    return loaded


def _import_everything() -> None:
    """Import every module that may register documents, so the registry is complete."""
    for package in (clients, workers):
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            importlib.import_module(module.name)


def _documents() -> list[Document]:
    _import_everything()
    return registered_documents()


def _unwrap(type_: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        if isinstance(type_, GraphQLList):
            is_list = True
        type_ = type_.of_type
    return type_, is_list


def _first(node: FieldNode) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value in {"first", "last"}:
            assert isinstance(argument.value, IntValueNode), "page sizes must be literals"
            return int(argument.value.value)
    return None


def _selection_cost(selection_set: SelectionSetNode | None, parent: GraphQLObjectType) -> int:
    """Shopify's documented rules, conservatively: objects 1, scalars and enums 0, a
    connection 2 plus `first` times its node, a list of objects `first` (or 1) times each."""
    if selection_set is None:
        return 0
    total = 0
    for node in selection_set.selections:
        assert isinstance(node, FieldNode), "documents use plain fields only"
        if node.name.value == "__typename":
            continue
        definition = parent.fields[node.name.value]
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType):
            continue
        _, is_list = _unwrap(definition.type)
        inner = _selection_cost(node.selection_set, named)
        first = _first(node)
        if named.name.endswith("Connection"):
            assert first is not None, f"connection {node.name.value} has no page size"
            total += 2 + first * _node_cost(node, named)
        elif is_list:
            total += (first or 1) * (1 + inner)
        else:
            total += 1 + inner
    return total


def _node_cost(connection: FieldNode, connection_type: GraphQLObjectType) -> int:
    assert connection.selection_set is not None
    cost = 0
    for node in connection.selection_set.selections:
        assert isinstance(node, FieldNode)
        if node.name.value in {"nodes", "edges"}:
            node_type = get_named_type(connection_type.fields[node.name.value].type)
            assert isinstance(node_type, GraphQLObjectType)
            cost += 1 + _selection_cost(node.selection_set, node_type)
    return cost


def estimated_cost(document: Document) -> int:
    schema = admin_schema()
    operation = next(
        node
        for node in parse(document.text).definitions
        if isinstance(node, OperationDefinitionNode)
    )
    root = schema.mutation_type if document.is_mutation else schema.query_type
    assert root is not None
    base = 10 if document.is_mutation else 0
    return base + _selection_cost(operation.selection_set, root)


def test_registry_holds_the_push_documents() -> None:
    names = {document.name for document in _documents()}
    assert {"OrderFulfillmentState", "FulfillmentCreate", "FulfillmentTrackingInfoUpdate"} <= names


@pytest.mark.parametrize("document", _documents(), ids=lambda document: document.name)
def test_document_validates_against_admin_schema_2026_10(document: Document) -> None:
    errors = validate(admin_schema(), parse(document.text))
    assert errors == []


@pytest.mark.parametrize("document", _documents(), ids=lambda document: document.name)
def test_document_uses_no_deprecated_field(document: Document) -> None:
    from graphql import TypeInfo, TypeInfoVisitor, Visitor, visit  # noqa: PLC0415

    schema = admin_schema()
    info = TypeInfo(schema)
    deprecated: list[str] = []

    class Collect(Visitor):
        def enter_field(self, node: FieldNode, *_: object) -> None:
            definition = info.get_field_def()
            if definition is not None and definition.deprecation_reason:
                deprecated.append(node.name.value)

    visit(parse(document.text), TypeInfoVisitor(info, Collect()))
    assert deprecated == []


@pytest.mark.parametrize("document", _documents(), ids=lambda document: document.name)
def test_document_stays_under_the_1000_point_query_limit(document: Document) -> None:
    assert estimated_cost(document) < 1000


def test_estimator_rejects_a_query_of_20_fulfillment_orders_of_100_lines() -> None:
    wide = Document(
        name="wide",
        text="""query { order(id: "gid://shopify/Order/1") { fulfillmentOrders(first: 20) {
            nodes { id lineItems(first: 100) { nodes { id lineItem { id } } } } } } }""",
        kind=registered_documents()[0].kind,
    )
    assert estimated_cost(wide) > 1000


def test_register_refuses_different_text_under_a_taken_name() -> None:
    register("TestOnlyShop", "query { shop { id } }")
    assert register("TestOnlyShop", "query { shop { id } }").name == "TestOnlyShop"
    with pytest.raises(ValueError, match="already registered"):
        register("TestOnlyShop", "query { shop { name } }")
