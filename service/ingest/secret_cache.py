"""Decrypted Shopify app secrets per shop domain, cached briefly in the process.

Every delivery needs its shop's secrets, and a database round trip plus a Fernet decryption per
request would cost more than the rest of the receipt. Entries live a few seconds, so a rotated
secret, a new shop or an erased one is seen almost at once; unknown domains are cached too (for
less time), so a flood of made-up domains costs one query per domain per TTL.
"""

import time
from dataclasses import dataclass

from schema.db import Pool
from schema.queries.shops import secrets_for_domain
from schema.secrets import SecretBox, SecretDecryptError

__all__ = ["ShopSecretCache", "ShopSecrets"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopSecrets:
    shop_id: int
    secrets: tuple[bytes, ...]


class ShopSecretCache:
    def __init__(
        self,
        pool: Pool,
        box: SecretBox,
        *,
        ttl_seconds: float = 10.0,
        miss_ttl_seconds: float = 2.0,
    ) -> None:
        self._pool = pool
        self._box = box
        self._ttl = ttl_seconds
        self._miss_ttl = miss_ttl_seconds
        self._entries: dict[str, tuple[float, ShopSecrets | None]] = {}

    async def lookup(self, domain: str) -> ShopSecrets | None:
        """The shop and its secrets (UTF-8 bytes), or None for a domain we do not know."""
        key = domain.strip().lower()
        now = time.monotonic()
        cached = self._entries.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._pool.acquire() as connection:
            found = await secrets_for_domain(connection, key)
        entry: ShopSecrets | None = None
        if found is not None:
            shop_id, encrypted = found
            decrypted = []
            for secret in encrypted:
                try:
                    decrypted.append(self._box.decrypt(secret).encode())
                except SecretDecryptError:
                    continue  # a key was rotated away; the other secret may still verify
            entry = ShopSecrets(shop_id=shop_id, secrets=tuple(decrypted))
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (now + (self._ttl if entry else self._miss_ttl), entry)
        return entry
