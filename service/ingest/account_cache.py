"""Supplier accounts as the webhook edge needs them, cached briefly in the process.

Holds the token hash (CJ, AliExpress) or the decrypted Standard Webhooks secrets (generic). A
few seconds of caching keeps a burst of supplier messages from costing a query and a decryption
each, while a removed account or a rotated secret is seen almost at once.
"""

import time
from dataclasses import dataclass

from schema.db import Pool
from schema.queries.supplier_accounts import get_supplier_account
from schema.secrets import SecretBox
from service.suppliers import account_webhook_secrets

__all__ = ["EdgeAccount", "SupplierAccountCache"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeAccount:
    account_id: int
    kind: str
    webhook_token_hash: str | None
    webhook_secrets: tuple[str, ...]


class SupplierAccountCache:
    def __init__(self, pool: Pool, box: SecretBox, *, ttl_seconds: float = 10.0) -> None:
        self._pool = pool
        self._box = box
        self._ttl = ttl_seconds
        self._entries: dict[int, tuple[float, EdgeAccount | None]] = {}

    async def lookup(self, account_id: int) -> EdgeAccount | None:
        now = time.monotonic()
        cached = self._entries.get(account_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._pool.acquire() as connection:
            record = await get_supplier_account(connection, account_id)
        entry: EdgeAccount | None = None
        if record is not None and record.status == "active":
            entry = EdgeAccount(
                account_id=record.account_id,
                kind=record.kind,
                webhook_token_hash=record.webhook_token_hash,
                webhook_secrets=tuple(account_webhook_secrets(record, self._box)),
            )
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[account_id] = (now + self._ttl, entry)
        return entry
