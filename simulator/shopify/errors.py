"""Top-level GraphQL errors in the shapes Shopify (graphql-ruby) returns them.

Validation failures answer HTTP 200 with `{"errors": [{message, locations, path,
extensions: {code, ...}}]}`; the common graphql-core messages are rewritten to
graphql-ruby's wording and codes (`undefinedField`, `argumentNotAccepted`, ...).
Throttling and the cost ceiling use Shopify's `THROTTLED` and `MAX_COST_EXCEEDED` codes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
)

from simulator.shopify.cost import MAX_QUERY_COST

__all__ = [
    "RATE_LIMITS_DOCS",
    "max_cost_error",
    "syntax_error",
    "throttled_error",
    "validation_errors",
]

RATE_LIMITS_DOCS = "https://shopify.dev/api/usage/rate-limits"

Rewrite = Callable[[re.Match[str]], tuple[str, dict[str, Any]]]


def _missing_argument(field: str, argument: str) -> tuple[str, dict[str, Any]]:
    return (
        f"Field '{field}' is missing required arguments: {argument}",
        {
            "code": "missingRequiredArguments",
            "className": "Field",
            "name": field,
            "arguments": argument,
        },
    )


_REWRITES: list[tuple[re.Pattern[str], Rewrite]] = [
    (
        re.compile(r"Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'"),
        lambda m: (
            f"Field '{m['field']}' doesn't exist on type '{m['type']}'",
            {"code": "undefinedField", "typeName": m["type"], "fieldName": m["field"]},
        ),
    ),
    (
        re.compile(r"Unknown argument '(?P<arg>\w+)' on field '\w+\.(?P<field>\w+)'"),
        lambda m: (
            f"Field '{m['field']}' doesn't accept argument '{m['arg']}'",
            {
                "code": "argumentNotAccepted",
                "name": m["field"],
                "typeName": "Field",
                "argumentName": m["arg"],
            },
        ),
    ),
    (
        # graphql-core 3.2: "Field 'f' argument 'a' of type ..."; 3.3: "Argument 'T.f(a:)' ...".
        re.compile(
            r"(?:Field '(?P<field>\w+)' argument '(?P<arg>\w+)'"
            r"|Argument '\w+\.(?P<field3>\w+)\((?P<arg3>\w+):\)') of type .* is required"
        ),
        lambda m: _missing_argument(m["field"] or m["field3"], m["arg"] or m["arg3"]),
    ),
    (
        re.compile(r"Field '(?P<field>\w+)' of type '(?P<type>[^']+)' must have a selection"),
        lambda m: (
            f"Field must have selections (field '{m['field']}' returns {m['type']} but "
            f"has no selections. Did you mean '{m['field']} {{ ... }}'?)",
            {"code": "selectionMismatch", "nodeName": f"field '{m['field']}'"},
        ),
    ),
    (
        re.compile(r"Variable '\$(?P<var>\w+)' is never used"),
        lambda m: (
            f"Variable ${m['var']} is declared by anonymous query but not used",
            {"code": "variableNotUsed", "variableName": m["var"]},
        ),
    ),
    (
        re.compile(r"Variable '\$(?P<var>\w+)' is not defined"),
        lambda m: (
            f"Variable ${m['var']} is used by anonymous query but not declared",
            {"code": "variableNotDefined", "variableName": m["var"]},
        ),
    ),
]


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [
        {"line": location.line, "column": location.column} for location in error.locations or []
    ]


def syntax_error(error: GraphQLError) -> dict[str, Any]:
    """Shape a parse failure (graphql-ruby reports no code for these)."""
    return {"message": error.message, "locations": _locations(error)}


def validation_errors(
    document: DocumentNode, errors: tuple[GraphQLError, ...]
) -> list[dict[str, Any]]:
    """Shape validation failures as Shopify does, with paths to the offending fields."""
    paths = _field_paths(document)
    shaped = []
    for error in errors:
        message, extensions = error.message.rstrip("."), {"code": "validationError"}
        for pattern, rewrite in _REWRITES:
            match = pattern.search(error.message)
            if match:
                message, extensions = rewrite(match)
                break
        entry: dict[str, Any] = {"message": message, "locations": _locations(error)}
        node = error.nodes[0] if error.nodes else None
        if node is not None and id(node) in paths:
            entry["path"] = paths[id(node)]
        entry["extensions"] = extensions
        shaped.append(entry)
    return shaped


def _field_paths(document: DocumentNode) -> dict[int, list[str]]:
    paths: dict[int, list[str]] = {}

    def walk(selection_set: SelectionSetNode | None, prefix: list[str]) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                path = [
                    *prefix,
                    selection.alias.value if selection.alias else selection.name.value,
                ]
                paths[id(selection)] = path
                walk(selection.selection_set, path)
            else:
                walk(getattr(selection, "selection_set", None), prefix)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            label = definition.operation.value
            if definition.name:
                label = f"{label} {definition.name.value}"
            walk(definition.selection_set, [label])
        elif isinstance(definition, FragmentDefinitionNode):
            walk(definition.selection_set, [f"fragment {definition.name.value}"])
    return paths


def max_cost_error(cost: int) -> dict[str, Any]:
    """Return the error for a query whose requested cost is over 1,000 points."""
    return {
        "message": (
            f"Query cost is {cost}, which exceeds the single query max cost limit "
            f"({MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/"
            "rate-limits for more information on how the\ncost of a query is "
            "calculated.\n\nTo query larger amounts of data with fewer limits, bulk "
            "operations should be used instead.\nSee https://shopify.dev/tutorials/"
            "perform-bulk-operations-with-admin-api for usage details.\n"
        ),
        "extensions": {
            "code": "MAX_COST_EXCEEDED",
            "cost": cost,
            "maxCost": MAX_QUERY_COST,
            "documentation": RATE_LIMITS_DOCS,
        },
    }


def throttled_error() -> dict[str, Any]:
    """Return the error Shopify sends when the bucket cannot pay the requested cost."""
    return {
        "message": "Throttled",
        "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOCS},
    }
