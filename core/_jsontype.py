"""Describe a parsed JSON value in words, for error messages."""

from __future__ import annotations

__all__ = ["describe"]


def describe(value: object) -> str:  # noqa: PLR0911 (one return per JSON type)
    """Return e.g. ``"a string ('abc')"``, ``"null"`` or ``"an array"``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
