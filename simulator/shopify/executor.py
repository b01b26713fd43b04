"""Answer one Admin API GraphQL request: validate, price, throttle, execute, refund.

Order of checks follows Shopify: a malformed body is a 400; syntax and validation errors
answer 200 with `errors`; then the requested cost is computed, refused over 1,000 points
(`MAX_COST_EXCEEDED`) or when the shop's leaky bucket cannot pay it (`THROTTLED`); after
execution the bucket is refunded the difference between requested and actual cost.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
)
from graphql.execution.values import get_variable_values

from simulator.shopify.behaviour import ShopBehaviour
from simulator.shopify.context import ExecutionContext
from simulator.shopify.cost import MAX_QUERY_COST, CostMeter, CostReport, requested_cost
from simulator.shopify.errors import (
    max_cost_error,
    syntax_error,
    throttled_error,
    validation_errors,
)
from simulator.shopify.model import Shop
from simulator.shopify.resolvers import field_resolver, type_resolver
from simulator.shopify.schema import load_admin_schema, parse_and_validate

__all__ = [
    "GraphQLOutcome",
    "execute_admin_request",
    "refill_bucket",
    "throttle_status",
]


@dataclass(slots=True, kw_only=True)
class GraphQLOutcome:
    """The HTTP answer to one GraphQL request plus what the call log records."""

    status: int
    body: dict[str, Any]
    outcome: str
    operation: str = "query"
    operation_name: str | None = None
    requested_cost: int | None = None
    actual_cost: int | None = None
    root_fields: tuple[str, ...] = field(default_factory=tuple)


def refill_bucket(shop: Shop, now: float) -> None:
    """Restore the shop's bucket at its plan's rate up to its size."""
    elapsed = max(now - shop.bucket_updated_at, 0.0)
    shop.bucket_available = min(
        shop.bucket_size, shop.bucket_available + elapsed * shop.restore_rate
    )
    shop.bucket_updated_at = now


def throttle_status(shop: Shop) -> dict[str, Any]:
    return {
        "maximumAvailable": shop.bucket_size,
        "currentlyAvailable": int(shop.bucket_available),
        "restoreRate": shop.restore_rate,
    }


def _cost_extension(shop: Shop, requested: int, actual: int | None) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": throttle_status(shop),
        }
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class _Prepared:
    source: str
    document: DocumentNode
    operation: OperationDefinitionNode
    variables: dict[str, Any]
    operation_name: str | None


@lru_cache(maxsize=1024)
def _requested_cost(
    source: str, operation_name: str | None, int_variables: tuple[tuple[str, int], ...]
) -> CostReport:
    """The requested cost of a validated document's operation, computed once per document,
    operation and integer variables: page sizes are the only variables a cost depends on
    (`first`/`last`), and only integer values count."""
    parsed = parse_and_validate(source)
    assert parsed.document is not None  # noqa: S101 - only validated documents get here
    operation = get_operation_ast(parsed.document, operation_name)
    assert operation is not None  # noqa: S101 - _prepare found it
    definitions = parsed.document.definitions
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    return requested_cost(load_admin_schema(), operation, fragments, dict(int_variables))


def execute_admin_request(
    shop: Shop,
    body: Any,
    *,
    api_version: str,
    clock: Callable[[], float],
    now: Callable[[], datetime],
    behaviour: ShopBehaviour,
    require_https_webhooks: bool,
) -> GraphQLOutcome:
    """Run one `POST .../graphql.json` body against the shop."""
    prepared = _prepare(body)
    if isinstance(prepared, GraphQLOutcome):
        return prepared
    operation = prepared.operation
    outcome = GraphQLOutcome(
        status=200,
        body={},
        outcome="ok",
        operation=operation.operation.value,
        operation_name=operation.name.value if operation.name else None,
        root_fields=_root_fields(operation),
    )
    report = _requested_cost(
        prepared.source,
        prepared.operation_name,
        tuple(sorted((k, v) for k, v in prepared.variables.items() if isinstance(v, int))),
    )
    outcome.requested_cost = report.requested
    refill_bucket(shop, clock())
    # The report is shared by every request of the same document: hand out copies.
    refusal = _refusal(shop, report.requested, copy.deepcopy(report.errors))
    if refusal is not None:
        outcome.body, outcome.outcome = refusal
        return outcome
    shop.bucket_available -= report.requested
    context = ExecutionContext(
        shop=shop,
        behaviour=behaviour,
        meter=CostMeter(load_admin_schema()),
        api_version=api_version,
        now=now,
        require_https_webhooks=require_https_webhooks,
    )
    result = _run(prepared, context)
    actual = min(context.meter.actual, report.requested)
    shop.bucket_available += report.requested - actual
    outcome.actual_cost = actual
    outcome.body = _result_body(result)
    outcome.body["extensions"] = _cost_extension(shop, report.requested, actual)
    if result.errors:
        outcome.outcome = "partial" if result.data else "error"
    return outcome


def _prepare(body: Any) -> _Prepared | GraphQLOutcome:
    """Parse, validate and coerce variables, or return the refusal."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return GraphQLOutcome(
            status=400,
            body={"errors": {"query": "Required parameter missing or invalid"}},
            outcome="bad_request",
        )
    parsed = parse_and_validate(body["query"])
    if parsed.syntax_error is not None:
        return _refused([syntax_error(parsed.syntax_error)], "invalid")
    assert parsed.document is not None  # noqa: S101 - set whenever parsing succeeded
    if parsed.validation_errors:
        return _refused(validation_errors(parsed.document, parsed.validation_errors), "invalid")
    operation_name = body.get("operationName") or None
    operation = get_operation_ast(parsed.document, operation_name)
    variables = _variables(body.get("variables"))
    if operation is None or variables is None:
        message = (
            "An operation name is required"
            if operation is None
            else "Variables must be a JSON object"
        )
        return _refused([{"message": message}], "invalid")
    coerced = get_variable_values(
        load_admin_schema(), operation.variable_definitions or (), variables
    )
    if isinstance(coerced, list):
        return _refused([_variable_error(e, variables) for e in coerced], "invalid")
    return _Prepared(
        source=body["query"],
        document=parsed.document,
        operation=operation,
        variables=variables,
        operation_name=operation_name,
    )


def _variables(raw: Any) -> dict[str, Any] | None:
    """Accept variables as an object or a JSON string of one; None when invalid."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else None
        except ValueError:
            return None
    if raw is None:
        return {}
    return raw if isinstance(raw, dict) else None


def _refusal(
    shop: Shop, requested: int, errors: list[dict[str, Any]]
) -> tuple[dict[str, Any], str] | None:
    """Return (body, outcome) when the request may not run, else None."""
    if errors:
        return {"errors": errors}, "invalid"
    if requested > MAX_QUERY_COST:
        return {
            "errors": [max_cost_error(requested)],
            "extensions": _cost_extension(shop, requested, None),
        }, "max_cost_exceeded"
    if shop.bucket_available < requested:
        return {
            "errors": [throttled_error()],
            "extensions": _cost_extension(shop, requested, None),
        }, "throttled"
    return None


def _run(prepared: _Prepared, context: ExecutionContext) -> ExecutionResult:
    operation = prepared.operation
    result = execute(
        load_admin_schema(),
        prepared.document,
        context_value=context,
        variable_values=prepared.variables,
        operation_name=prepared.operation_name
        or (operation.name.value if operation.name else None),
        field_resolver=field_resolver,
        type_resolver=type_resolver,
    )
    assert isinstance(result, ExecutionResult)  # noqa: S101 - resolvers are synchronous
    return result


def _result_body(result: ExecutionResult) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    body["data"] = result.data
    return body


def _refused(errors: list[dict[str, Any]], outcome: str) -> GraphQLOutcome:
    return GraphQLOutcome(status=200, body={"errors": errors}, outcome=outcome)


def _root_fields(operation: OperationDefinitionNode) -> tuple[str, ...]:
    names = []
    for selection in operation.selection_set.selections:
        name = getattr(selection, "name", None)
        if name is not None:
            names.append(name.value)
    return tuple(names)


def _variable_error(error: GraphQLError, variables: dict[str, Any]) -> dict[str, Any]:
    node = error.nodes[0] if error.nodes else None
    variable = getattr(getattr(node, "variable", None), "name", None)
    name = variable.value if variable is not None else "?"
    type_node = getattr(node, "type", None)
    type_text = _print_type(type_node) if type_node is not None else "?"
    return {
        "message": f"Variable ${name} of type {type_text} was provided invalid value",
        "locations": [{"line": loc.line, "column": loc.column} for loc in error.locations or []],
        "extensions": {
            "code": "INVALID_VARIABLE",
            "value": variables.get(name),
            "problems": [{"path": [], "explanation": error.message}],
        },
    }


def _print_type(type_node: Any) -> str:
    from graphql import print_ast  # noqa: PLC0415 - only needed on this error path

    return str(print_ast(type_node))
