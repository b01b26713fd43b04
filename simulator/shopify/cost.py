"""Shopify's calculated query cost: requested (static) and actual (metered) cost.

Rules (shopify.dev rate limits, facts doc 4.1): scalars and enums cost 0, objects 1,
interfaces and unions the maximum of their possible selections, connections 2 plus
`first`/`last` times the cost of one node, and mutations 10. Edge and PageInfo wrappers
and `userErrors` are free. The actual cost applies the same rules to what was returned.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)

__all__ = [
    "MAX_QUERY_COST",
    "MUTATION_COST",
    "CostMeter",
    "CostReport",
    "is_connection_type",
    "is_free_type",
    "requested_cost",
]

MAX_QUERY_COST = 1000
MUTATION_COST = 10
CONNECTION_COST = 2


def is_connection_type(named: GraphQLNamedType) -> bool:
    """Return True for Relay connection types (`...Connection` with `pageInfo`)."""
    return (
        isinstance(named, GraphQLObjectType)
        and "pageInfo" in named.fields
        and ("edges" in named.fields or "nodes" in named.fields)
    )


def is_free_type(named: GraphQLNamedType) -> bool:
    """Return True for types that cost nothing: edges, PageInfo and user errors."""
    name = named.name
    if name == "PageInfo" or name.endswith(("UserError", "Error")):
        return True
    return (
        isinstance(named, GraphQLObjectType)
        and name.endswith("Edge")
        and "node" in named.fields
        and "cursor" in named.fields
    )


@dataclass(slots=True)
class CostReport:
    """The requested cost of an operation, or the argument errors that block it."""

    requested: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def requested_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> CostReport:
    """Compute the requested cost of one operation before executing it."""
    root = (
        schema.mutation_type if operation.operation is OperationType.MUTATION else schema.query_type
    )
    assert root is not None  # noqa: S101 - Shopify's schema has both roots
    walker = _CostWalker(schema, fragments, variables)
    cost = walker.selection_cost(operation.selection_set, root, path=[])
    return CostReport(requested=cost, errors=walker.errors)


class _CostWalker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        self.errors: list[dict[str, Any]] = []

    def selection_cost(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, path: list[str]
    ) -> int:
        direct = 0
        branches: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                direct += self._field_cost(selection, parent, path)
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments[selection.name.value]
                condition_name: str | None = fragment.type_condition.name.value
                inner = fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)  # noqa: S101
                # None for an inline fragment without a type condition (`... { id }`).
                condition: NamedTypeNode | None = selection.type_condition
                condition_name = condition.name.value if condition else None
                inner = selection.selection_set
            condition_type = (
                self._schema.get_type(condition_name) if condition_name else parent
            ) or parent
            cost = self.selection_cost(inner, condition_type, path)
            if condition_type is parent or not is_abstract_type(parent):
                direct += cost
            else:
                branches[condition_type.name] = branches.get(condition_type.name, 0) + cost
        return direct + max(branches.values(), default=0)

    def _field_cost(self, node: FieldNode, parent: GraphQLNamedType, path: list[str]) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return 0
        definition: GraphQLField = fields[name]
        named = get_named_type(definition.type)
        if is_leaf_type(named) or node.selection_set is None:
            return 0
        child_path = [*path, node.alias.value if node.alias else name]
        children = self.selection_cost(node.selection_set, named, child_path)
        if parent is self._schema.mutation_type:
            return MUTATION_COST + children
        if is_connection_type(named):
            size = self._page_size(node, definition, child_path)
            return CONNECTION_COST + size * children
        own = 0 if is_free_type(named) else 1
        multiplier = 1
        if _is_list(definition.type):
            multiplier = self._int_argument(node, "first") or 1
        return multiplier * (own + children)

    def _page_size(self, node: FieldNode, definition: GraphQLField, path: list[str]) -> int:
        first = self._int_argument(node, "first")
        last = self._int_argument(node, "last")
        size = first if first is not None else last
        if size is None and ("first" in definition.args or "last" in definition.args):
            self.errors.append(
                {
                    "message": "you must provide one of first or last",
                    "locations": [_location(node)],
                    "path": path,
                }
            )
            return 0
        return max(size or 0, 0)

    def _int_argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return _int_value(argument.value, self._variables)
        return None


def _is_list(type_: GraphQLOutputType) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList)


def _int_value(value: ValueNode, variables: dict[str, Any]) -> int | None:
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, VariableNode):
        raw = variables.get(value.name.value)
        return int(raw) if isinstance(raw, int) else None
    return None


def _location(node: FieldNode) -> dict[str, int]:
    loc = node.loc
    if loc is None:
        return {"line": 1, "column": 1}
    token = loc.start_token
    return {"line": token.line, "column": token.column}


class CostMeter:
    """Accumulate the actual cost of an execution, field by field, as it resolves."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self._schema = schema
        self.actual = 0

    def record(self, parent: GraphQLObjectType, field_type: GraphQLOutputType, value: Any) -> None:
        """Count what one resolved field really returned."""
        if parent is self._schema.mutation_type:
            self.actual += MUTATION_COST
            return
        if value is None:
            return
        kind = _field_kind(field_type)
        if kind is _FieldKind.CONNECTION:
            self.actual += CONNECTION_COST
        elif kind is _FieldKind.OBJECT:
            if isinstance(value, list):
                self.actual += sum(1 for item in value if item is not None)
            else:
                self.actual += 1


class _FieldKind(Enum):
    FREE = "free"  # scalars, enums and free types cost nothing
    CONNECTION = "connection"
    OBJECT = "object"


@functools.cache
def _field_kind(field_type: GraphQLOutputType) -> _FieldKind:
    """How a field of this type is charged; cached per type, since every resolved field of a
    query asks (the schema's types live as long as the process)."""
    named = get_named_type(field_type)
    if is_leaf_type(named) or is_free_type(named):
        return _FieldKind.FREE
    if is_connection_type(named):
        return _FieldKind.CONNECTION
    if is_object_type(named) or is_abstract_type(named):
        return _FieldKind.OBJECT
    return _FieldKind.FREE
