"""Encryption at rest for access tokens, client secrets and webhook secrets.

MultiFernet: the first key encrypts, every key decrypts, so keys rotate by prepending a new one
and re-encrypting (`dropsync keys rotate`).
"""

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["SecretBox", "SecretDecryptError", "load_or_create_key_file"]


class SecretDecryptError(Exception):
    """A stored secret did not decrypt with any configured key."""


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            msg = "at least one encryption key is required"
            raise ValueError(msg)
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    @classmethod
    def from_setting(cls, value: str) -> "SecretBox":
        return cls([key.strip() for key in value.split(",") if key.strip()])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as error:
            msg = "a stored secret did not decrypt: was the encryption key changed?"
            raise SecretDecryptError(msg) from error

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt with the first key."""
        return self._fernet.rotate(bytes(token))


def load_or_create_key_file(path: Path) -> str:
    """Return the key kept at `path`, creating it (mode 0600) the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key
