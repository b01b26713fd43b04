"""Why the simulator refuses a change."""

from __future__ import annotations

__all__ = ["InvalidTransitionError", "UnknownOrderError"]


class InvalidTransitionError(ValueError):
    """The requested change is impossible for the order in its current state."""


class UnknownOrderError(KeyError):
    """No order (or package) has that id."""
