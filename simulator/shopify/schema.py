"""Load Shopify's Admin GraphQL 2026-10 schema and validate documents against it.

The introspection result ships next to this module (`admin-2026-10.json.gz`). Building
the schema takes a fraction of a second, so it is built once per process; parsing and
validation are cached per distinct document text so repeated queries cost a dictionary
lookup.
"""

from __future__ import annotations

import gc
import gzip
import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    build_client_schema,
    parse,
    validate,
)

__all__ = [
    "ADMIN_API_VERSION",
    "ParsedDocument",
    "load_admin_schema",
    "parse_and_validate",
    "schema_path",
]

ADMIN_API_VERSION = "2026-10"
_SCHEMA_FILE = Path(__file__).with_name("admin-2026-10.json.gz")


def schema_path() -> Path:
    """Return the path of the bundled 2026-10 introspection file."""
    return _SCHEMA_FILE


@cache
def load_admin_schema() -> GraphQLSchema:
    """Build (once per process) the Admin API 2026-10 schema from the bundled file."""
    with gzip.open(_SCHEMA_FILE, "rt", encoding="utf-8") as handle:
        introspection = json.load(handle)["data"]
    schema = build_client_schema(introspection)
    # Shopify deprecates some interface implementations, which graphql-core's schema
    # self-check rejects; the schema is Shopify's own, so skip the self-check.
    schema._validation_errors = []
    # The schema is about 150,000 objects that live as long as the process and never form
    # garbage. Left to the collector, every full collection walks all of them (about 0.1 s
    # each, and they recur as the shops' state grows); frozen, collections see only the
    # simulator's own state.
    gc.collect()
    gc.freeze()
    return schema


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedDocument:
    """A parsed document, or the errors that stopped it (syntax or validation)."""

    document: DocumentNode | None
    syntax_error: GraphQLError | None = None
    validation_errors: tuple[GraphQLError, ...] = ()


@lru_cache(maxsize=1024)
def parse_and_validate(source: str) -> ParsedDocument:
    """Parse and validate one document against the 2026-10 schema (cached by text)."""
    try:
        document = parse(source)
    except GraphQLError as error:
        return ParsedDocument(document=None, syntax_error=error)
    errors = validate(load_admin_schema(), document)
    return ParsedDocument(document=document, validation_errors=tuple(errors))
