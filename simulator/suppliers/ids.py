"""Deterministic, realistic-looking identifiers drawn from one seeded generator."""

from __future__ import annotations

import random
import string
import uuid

__all__ = ["IdFactory"]

_ALNUM = string.ascii_letters + string.digits


class IdFactory:
    """Make ids in each platform's usual shape; the same seed gives the same ids."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._issued: set[str] = set()

    def _unique(self, make: str) -> str:
        # Collisions are astronomically unlikely, but a repeated id would
        # silently merge two orders, so guard anyway.
        while make in self._issued:
            make += str(self._rng.randrange(10))
        self._issued.add(make)
        return make

    def _digits(self, count: int) -> str:
        return "".join(str(self._rng.randrange(10)) for _ in range(count))

    def cj_order_id(self) -> str:
        """18 digits, like ``210823100016290555``."""
        return self._unique("2" + self._digits(17))

    def aliexpress_order_id(self) -> str:
        """16 digits, like ``3031265788145237``."""
        return self._unique("3" + self._digits(15))

    def generic_order_id(self) -> str:
        return self._unique("SO-" + self._digits(8))

    def cj_tracking_number(self) -> str:
        """CJPacket style, like ``CJPKL7160102171YQ``."""
        return self._unique("CJPKL" + self._digits(10) + "YQ")

    def aliexpress_tracking_number(self) -> str:
        """Cainiao style, like ``LP00123456789012``."""
        return self._unique("LP00" + self._digits(12))

    def generic_tracking_number(self) -> str:
        letters = "".join(
            self._rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)
        )
        return self._unique("1Z" + letters)

    def package_id(self) -> str:
        return self._unique("pkg_" + self._digits(10))

    def uuid_hex(self) -> str:
        """A version-4 UUID as 32 hex characters (CJ ``messageId`` style)."""
        return self._unique(uuid.UUID(int=self._rng.getrandbits(128), version=4).hex)

    def request_id(self) -> str:
        return self._unique(uuid.UUID(int=self._rng.getrandbits(128), version=4).hex)

    def webhook_id(self) -> str:
        """Standard Webhooks ``msg_`` style."""
        return self._unique("msg_" + "".join(self._rng.choice(_ALNUM) for _ in range(27)))

    def token(self, prefix: str) -> str:
        return self._unique(prefix + "".join(self._rng.choice(_ALNUM) for _ in range(32)))
