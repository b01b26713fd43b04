"""Render the HTTP API's endpoint list as docs/api.md, from the app's own OpenAPI schema.

`python -m service.api_doc --write` regenerates it; a test fails when it is stale. The full
schema, with every field, is served at `/openapi.json` and browsable at `/docs`.
"""

import sys
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from schema.secrets import SecretBox
from service.app import create_app
from service.runtime import Runtime
from service.settings import Settings

__all__ = ["render_markdown"]

_TARGET = Path(__file__).resolve().parent.parent / "docs" / "api.md"
_METHODS = ("get", "post", "put", "patch", "delete")

_INTRO = """\
# HTTP API

Every endpoint answers JSON (the report can also stream CSV and NDJSON). Errors always have the
shape `{"error": "<code>", "detail": "<what is wrong>"}`: 401 for a missing or unknown token,
403 for a read-only token that tries to act, 404 for an unknown route or a shop outside the
token's scope, 413 for an oversized webhook, 422 for a body or parameter that does not validate.

Authentication: `Authorization: Bearer <token>` (see `dropsync tokens`) on every endpoint except
those marked *public* below, which authenticate by signature (webhooks, OAuth) or need none
(health).

The full schema is served at `/openapi.json` and browsable at `/docs` on a running service. This
page is generated from it by `python -m service.api_doc --write`.
"""


def _is_public(operation: dict[str, Any]) -> bool:
    return "security" not in operation


def render_markdown(openapi: dict[str, Any]) -> str:
    sections: dict[str, list[str]] = {}
    for path, operations in sorted(openapi["paths"].items()):
        for method in _METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            summary = operation.get("summary", "").replace("|", "\\|")
            if _is_public(operation):
                summary = f"*public* {summary}"
            sections.setdefault(tag, []).append(f"| `{method.upper()}` | `{path}` | {summary} |")
    lines = [_INTRO]
    for tag in sorted(sections):
        lines += [f"## {tag}", "", "| method | path | what it does |", "| --- | --- | --- |"]
        lines += [*sections[tag], ""]
    return "\n".join(lines)


def _openapi() -> dict[str, Any]:
    settings = Settings(database_url="postgresql://unused/x", redis_url="redis://unused")
    runtime = Runtime(
        settings=settings,
        database_url="postgresql://unused/x",
        redis_url="redis://unused",
        secrets=SecretBox([Fernet.generate_key().decode()]),
    )
    schema: dict[str, Any] = create_app(runtime).openapi()
    return schema


def main() -> int:
    text = render_markdown(_openapi())
    if "--write" in sys.argv:
        _TARGET.write_text(text)
        return 0
    if not _TARGET.exists() or _TARGET.read_text() != text:
        print(f"stale: {_TARGET}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
