"""Architecture rules, checked on the import statements of every module.

- `simulator/` imports nothing of dropsync's: a fake sharing our reading of Shopify would agree
  with our bugs.
- `core/` does no IO: no database, HTTP, queue or web framework imports.
- `service/` (the HTTP edge) reaches workers only through job names and the trigger; the CLI,
  which runs workers, is the one composition root allowed more.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_OURS = {"core", "schema", "service", "workers", "clients", "simulator"}
_IO = {
    "asyncpg",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "httpx",
    "arq",
    "redis",
    "fastapi",
    "starlette",
    "uvicorn",
    "socket",
    "subprocess",
}


def _imports(package: str) -> Iterator[tuple[Path, str]]:
    for path in sorted((_ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module


def test_simulator_imports_nothing_of_ours() -> None:
    offenders = [
        f"{path.relative_to(_ROOT)}: {name}"
        for path, name in _imports("simulator")
        if name.split(".")[0] in _OURS - {"simulator"}
    ]
    assert offenders == []


def test_core_does_no_io() -> None:
    offenders = [
        f"{path.relative_to(_ROOT)}: {name}"
        for path, name in _imports("core")
        if name.split(".")[0] in _IO | (_OURS - {"core"})
    ]
    assert offenders == []


def test_http_edge_reaches_workers_only_through_names_and_trigger() -> None:
    allowed = {"workers.names", "workers.trigger"}
    offenders = [
        f"{path.relative_to(_ROOT)}: {name}"
        for path, name in _imports("service")
        if name.split(".")[0] == "workers"
        and name not in allowed
        and "cli" not in path.relative_to(_ROOT).parts
    ]
    assert offenders == []
