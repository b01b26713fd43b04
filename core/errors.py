"""The domain error hierarchy of dropsync.

Every error raised on purpose by dropsync derives from :class:`DropsyncError`, so an
edge can catch the whole family in one clause. Core never maps errors to HTTP statuses;
the service edge does that in its own table.

::

    DropsyncError
    ├── PayloadError            an inbound payload is malformed: `field` names the
    │   │                       JSON path, `problem` says what is wrong
    │   └── InvalidIdError      a Shopify GID or numeric id is malformed or unsafe
    ├── InvalidWebhook          a delivery failed authentication: answer 401
    │   ├── SignatureMismatch   no configured secret produced the signature
    │   ├── SignatureExpired    the signed timestamp is outside the tolerance
    │   └── MalformedSignature  a signature header or timestamp is unreadable
    ├── ConfigurationError      a secret, carrier override or setting is unusable
    ├── PlanInputError          the push planner got inconsistent input (caller bug)
    ├── RemoteError             a call to Shopify or a supplier failed (clients/)
    │   ├── RemoteUnavailable   transient: retry later (`retry_after` when known)
    │   │   └── RemoteThrottled the remote asked us to slow down
    │   └── RemoteRejected      terminal: the remote refused (`user_errors`)
    ├── ConflictError           the change conflicts with current state
    └── NotFound                the referenced entity does not exist

`PayloadError`, `InvalidIdError`, `ConfigurationError` and `PlanInputError` also
derive from :class:`ValueError`, so code written against the standard library keeps
working.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConfigurationError",
    "ConflictError",
    "DropsyncError",
    "InvalidIdError",
    "InvalidWebhook",
    "MalformedSignature",
    "NotFound",
    "PayloadError",
    "PlanInputError",
    "RemoteError",
    "RemoteRejected",
    "RemoteThrottled",
    "RemoteUnavailable",
    "SignatureExpired",
    "SignatureMismatch",
]


class DropsyncError(Exception):
    """Base class of every error dropsync raises on purpose."""


class PayloadError(DropsyncError, ValueError):
    """An inbound payload is malformed.

    `field` is the JSON path of the offending value (``"line_items[2].quantity"``),
    or ``None`` when the problem concerns the whole body; `problem` is the bare
    description.
    """

    def __init__(self, problem: str, *, field: str | None = None) -> None:
        self.problem = problem
        self.field = field
        super().__init__(f"{field}: {problem}" if field else problem)


class InvalidIdError(PayloadError):
    """A Shopify GID or numeric id is malformed, of the wrong type, or unsafe."""


class InvalidWebhook(DropsyncError):  # noqa: N818 (named after what it is, like httpx)
    """A webhook delivery failed authentication."""


class SignatureMismatch(InvalidWebhook):
    """No configured secret produced the delivered signature."""


class SignatureExpired(InvalidWebhook):
    """The signed timestamp is too far from now (replay protection)."""


class MalformedSignature(InvalidWebhook):
    """A signature header or signed timestamp cannot be parsed."""


class ConfigurationError(DropsyncError, ValueError):
    """A secret, carrier override or other setting is unusable."""


class PlanInputError(DropsyncError, ValueError):
    """The push planner received inconsistent input; this is a caller bug."""


class RemoteError(DropsyncError):
    """A call to Shopify or a supplier failed."""


class RemoteUnavailable(RemoteError):  # noqa: N818 (reads as a state, like httpx)
    """A transient remote failure; the call may be retried.

    `retry_after` is the delay in seconds the remote asked for, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class RemoteThrottled(RemoteUnavailable):
    """The remote rate limit was hit."""


class RemoteRejected(RemoteError):  # noqa: N818 (reads as a state, like httpx)
    """A terminal remote failure: retrying the same request cannot succeed.

    `user_errors` carries the remote's own messages (Shopify ``userErrors[].message``).
    """

    def __init__(self, message: str, *, user_errors: Sequence[str] = ()) -> None:
        self.user_errors = tuple(user_errors)
        super().__init__(message)


class ConflictError(DropsyncError):
    """The requested change conflicts with the current state."""


class NotFound(DropsyncError):  # noqa: N818 (reads as a state, like httpx)
    """The referenced entity does not exist."""
