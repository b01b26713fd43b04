"""Render the settings as documentation, so docs/configuration.md and .env.example never drift.

`python -m service.settings_doc --write` regenerates both files; a test fails when either is stale.
"""

import sys
from datetime import timedelta
from pathlib import Path

from pydantic.fields import FieldInfo

from service.settings import Settings

__all__ = ["render_env_example", "render_markdown"]

_ROOT = Path(__file__).resolve().parent.parent
_MARKDOWN = _ROOT / "docs" / "configuration.md"
_ENV_EXAMPLE = _ROOT / ".env.example"


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return ""
    if isinstance(value, timedelta):
        return f"PT{int(value.total_seconds())}S"
    if isinstance(value, Path):
        return "~/.local/share/dropsync (platform data dir)"
    return str(value)


def _variable(name: str) -> str:
    return f"DROPSYNC_{name.upper()}"


def render_markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable (or a line in a `.env` file in the working",
        "folder). Durations are ISO 8601 (`PT2S`, `P30D`) or seconds. An invalid value stops",
        "start-up with one line naming the variable. This file is generated from",
        "`service/settings.py` by `python -m service.settings_doc --write`.",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = _default(field)
        meaning = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{_variable(name)}` | {f'`{default}`' if default else '-'} | {meaning} |")
    return "\n".join(lines) + "\n"


def render_env_example() -> str:
    lines = [
        "# dropsync settings: copy to .env and uncomment what you change.",
        "# Generated from service/settings.py; docs/configuration.md explains each one.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        if field.description:
            lines.append(f"# {field.description}")
        lines.append(f"# {_variable(name)}={_default(field)}")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    outputs = {_MARKDOWN: render_markdown(), _ENV_EXAMPLE: render_env_example()}
    if "--write" in sys.argv:
        for path, text in outputs.items():
            path.write_text(text)
        return 0
    stale = [str(path) for path, text in outputs.items() if path.read_text() != text]
    if stale:
        print("stale:", ", ".join(stale), file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
