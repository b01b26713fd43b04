"""Standard Webhooks signing (https://www.standardwebhooks.com), sender side.

``webhook-signature`` is ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))
where the key is the base64 part of a ``whsec_`` secret. During rotation the
header carries one signature per active secret, separated by spaces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import Sequence

__all__ = [
    "SECRET_PREFIX",
    "decode_secret",
    "generate_secret",
    "sign",
    "signature_headers",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def decode_secret(secret: str) -> bytes:
    """Turn ``whsec_<base64>`` into the raw HMAC key."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a Standard Webhooks secret starts with whsec_")
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    if not 24 <= len(key) <= 64:
        raise ValueError("the secret must decode to 24-64 bytes")
    return key


def generate_secret(rng: random.Random, *, size: int = 32) -> str:
    key = bytes(rng.getrandbits(8) for _ in range(size))
    return SECRET_PREFIX + base64.b64encode(key).decode()


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    *, secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers for one delivery attempt, signed with every secret."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    signatures = " ".join(
        sign(secret=s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
