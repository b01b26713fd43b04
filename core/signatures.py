"""Verify webhook and OAuth signatures (pure HMAC, constant-time comparisons).

Three schemes:

* Shopify webhooks: ``X-Shopify-Hmac-Sha256`` is base64(HMAC-SHA256(raw body, app
  secret)). Several secrets may be valid at once: after a secret rotation Shopify can
  take up to an hour to switch (facts doc 1.2). :func:`verify_shopify_hmac`.
* Shopify OAuth and app-launch query strings: hex HMAC-SHA256 of the query without
  ``hmac`` (and ``signature``), parameters sorted by key and joined as ``k=v`` with
  ``&``; ``%``, ``&`` and ``=`` escaped in keys, ``%`` and ``&`` in values; repeated
  or ``[]`` keys become ``key=["a", "b"]`` (facts doc 5.1, Shopify's libraries).
  :func:`verify_oauth_query`, plus :func:`is_oauth_timestamp_fresh` (90 s tolerance).
* Standard Webhooks (our generic supplier format): headers ``webhook-id``,
  ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (space-separated
  ``v1,<base64>`` entries); the signature is base64(HMAC-SHA256(``{id}.{ts}.{body}``))
  keyed with the base64-decoded part of a ``whsec_`` secret; the timestamp must be
  within the tolerance (5 minutes by default) of now, in either direction.
  :func:`verify_standard_webhook` and :func:`sign_standard_webhook`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from core.errors import (
    ConfigurationError,
    MalformedSignature,
    SignatureExpired,
    SignatureMismatch,
)

__all__ = [
    "DEFAULT_OAUTH_TOLERANCE",
    "DEFAULT_WEBHOOK_TOLERANCE",
    "is_oauth_timestamp_fresh",
    "oauth_query_message",
    "shopify_hmac",
    "sign_oauth_query",
    "sign_standard_webhook",
    "verify_oauth_query",
    "verify_shopify_hmac",
    "verify_standard_webhook",
]

DEFAULT_WEBHOOK_TOLERANCE = timedelta(minutes=5)
DEFAULT_OAUTH_TOLERANCE = timedelta(seconds=90)

QueryParams = Mapping[str, str] | Iterable[tuple[str, str]]
_S = TypeVar("_S")


def shopify_hmac(body: bytes, secret: bytes | str) -> str:
    """Return the base64 HMAC-SHA256 Shopify puts in ``X-Shopify-Hmac-Sha256``."""
    digest = hmac.new(_secret_bytes(secret), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_shopify_hmac(
    body: bytes, header: str, secrets: Sequence[bytes | str]
) -> bool:
    """Return whether `header` signs the raw `body` with any of `secrets`.

    A header that is not valid base64 simply does not verify.

    Raises
    ------
    ConfigurationError
        If no secret is configured (failing open would accept forged webhooks).
    """
    _require_secrets(secrets)
    try:
        delivered = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return _any_matches(
        delivered,
        (hmac.new(_secret_bytes(s), body, hashlib.sha256).digest() for s in secrets),
    )


def oauth_query_message(params: QueryParams) -> str:
    """Return the string Shopify signs for an OAuth or app-launch query."""
    grouped: dict[str, list[str]] = {}
    arrays: set[str] = set()
    for key, value in _pairs(params):
        if key in {"hmac", "signature"}:
            continue
        name = key.removesuffix("[]")
        if name != key:
            arrays.add(name)
        grouped.setdefault(name, []).append(value)
    parts = []
    for name in sorted(grouped):
        values = grouped[name]
        if name in arrays or len(values) > 1:
            value = "[" + ", ".join(f'"{v}"' for v in values) + "]"
        else:
            value = values[0]
        parts.append(f"{_escape(name, key=True)}={_escape(value, key=False)}")
    return "&".join(parts)


def sign_oauth_query(params: QueryParams, secret: bytes | str) -> str:
    """Return the hex HMAC Shopify would put in the ``hmac`` query parameter."""
    message = oauth_query_message(params).encode()
    return hmac.new(_secret_bytes(secret), message, hashlib.sha256).hexdigest()


def verify_oauth_query(params: QueryParams, secret: bytes | str) -> bool:
    """Return whether the query's ``hmac`` parameter is valid for `secret`.

    `params` is a mapping or, when keys repeat, a sequence of (key, value) pairs.
    A missing ``hmac`` parameter does not verify. Check freshness separately with
    :func:`is_oauth_timestamp_fresh`.
    """
    pairs = list(_pairs(params))
    delivered = [value for key, value in pairs if key == "hmac"]
    if len(delivered) != 1:
        return False
    expected = sign_oauth_query(pairs, secret)
    return hmac.compare_digest(expected.encode(), delivered[0].strip().lower().encode())


def is_oauth_timestamp_fresh(
    params: QueryParams,
    *,
    now: datetime,
    tolerance: timedelta = DEFAULT_OAUTH_TOLERANCE,
) -> bool:
    """Return whether the query's ``timestamp`` (Unix seconds) is within `tolerance`."""
    stamps = [value for key, value in _pairs(params) if key == "timestamp"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    return abs(now.timestamp() - int(stamps[0])) <= tolerance.total_seconds()


def sign_standard_webhook(
    *, secret: str, msg_id: str, timestamp: int, body: bytes
) -> str:
    """Return a ``webhook-signature`` header value (``v1,<base64>``) for one secret."""
    digest = hmac.new(
        _standard_key(secret),
        _signed_content(msg_id, str(timestamp), body),
        hashlib.sha256,
    ).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard_webhook(
    *,
    secrets: Sequence[str],
    msg_id: str,
    timestamp: str,
    body: bytes,
    signature_header: str,
    now: datetime,
    tolerance: timedelta = DEFAULT_WEBHOOK_TOLERANCE,
) -> None:
    """Verify a Standard Webhooks delivery; return only if it is authentic.

    Parameters
    ----------
    secrets
        The endpoint's ``whsec_...`` secrets (several during a rotation).
    msg_id, timestamp, signature_header
        The ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers.
    body
        The raw request body.
    now
        The current time (tz-aware).
    tolerance
        How far the signed timestamp may be from `now`, either way.

    Raises
    ------
    MalformedSignature
        If a header is empty, the timestamp is not an integer, or there is no ``v1``
        signature in the header.
    SignatureExpired
        If the timestamp is outside the tolerance (replay protection).
    SignatureMismatch
        If no secret produced any of the ``v1`` signatures.
    ConfigurationError
        If no secret is configured or a secret is not ``whsec_`` + base64.
    """
    keys = [_standard_key(secret) for secret in _require_secrets(secrets)]
    if not msg_id.strip():
        raise MalformedSignature("the webhook-id header is empty")
    sent_at = _parse_unix_seconds(timestamp)
    drift = abs(now.timestamp() - sent_at)
    if drift > tolerance.total_seconds():
        raise SignatureExpired(
            f"webhook-timestamp {sent_at} is {int(drift)} s away from now; "
            f"at most {int(tolerance.total_seconds())} s is accepted"
        )
    delivered = _v1_signatures(signature_header)
    content = _signed_content(msg_id, timestamp.strip(), body)
    expected = [hmac.new(key, content, hashlib.sha256).digest() for key in keys]
    if not any(_any_matches(sig, iter(expected)) for sig in delivered):
        raise SignatureMismatch("no v1 signature matches any configured secret")


def _v1_signatures(header: str) -> list[bytes]:
    found: list[bytes] = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not found:
        raise MalformedSignature(
            "the webhook-signature header has no valid v1 signature"
        )
    return found


def _parse_unix_seconds(value: str) -> int:
    text = value.strip()
    if not text.isdigit():
        raise MalformedSignature(
            f"webhook-timestamp {value!r} is not a Unix time in whole seconds"
        )
    return int(text)


def _signed_content(msg_id: str, timestamp: str, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _standard_key(secret: str) -> bytes:
    if not secret.startswith("whsec_"):
        raise ConfigurationError("Standard Webhooks secrets must start with 'whsec_'")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(
            "Standard Webhooks secret is not 'whsec_' followed by base64"
        ) from exc
    if not key:
        raise ConfigurationError("Standard Webhooks secret is empty")
    return key


def _require_secrets(secrets: Sequence[_S]) -> Sequence[_S]:
    if not secrets:
        raise ConfigurationError("no signing secret is configured")
    return secrets


def _secret_bytes(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _any_matches(delivered: bytes, candidates: Iterable[bytes]) -> bool:
    # Compare against every candidate so timing does not reveal which secret matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(delivered, candidate)
    return matched


def _pairs(params: QueryParams) -> Iterable[tuple[str, str]]:
    if isinstance(params, Mapping):
        return list(params.items())
    return list(params)


def _escape(text: str, *, key: bool) -> str:
    text = text.replace("%", "%25").replace("&", "%26")
    return text.replace("=", "%3D") if key else text
