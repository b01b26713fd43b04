"""Apply a supplier account's stored deliveries (placeholder, replaced below)."""

from typing import Any

__all__ = ["apply_supplier"]


async def apply_supplier(ctx: dict[str, Any], account_id: int) -> dict[str, int]:
    del ctx, account_id
    return {}
