"""core/ stays pure: it imports only the standard library, orjson and pydantic."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import core

CORE = Path(core.__file__).parent
ALLOWED_THIRD_PARTY = {"orjson", "pydantic"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_only_stdlib_orjson_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY | {"core", "__future__"}
    offenders = {
        f"{path.name}: {root}"
        for path in sorted(CORE.glob("*.py"))
        for root in _imported_roots(path)
        if root not in allowed
    }
    assert offenders == set()


def test_core_has_no_async_code() -> None:
    for path in sorted(CORE.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        async_nodes = (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)
        assert not any(isinstance(node, async_nodes) for node in ast.walk(tree)), path.name
