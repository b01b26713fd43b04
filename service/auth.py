"""API tokens: generation, hashing, and the FastAPI dependency that checks them.

Every endpoint except health and the webhook receivers (which authenticate by signature)
requires `Authorization: Bearer <token>`. A token is admin (every shop) or scoped to a set of
shops, and read or read-write.
"""

import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from schema.queries.tokens import find_active_token
from service.errors import ApiError

__all__ = ["Principal", "PrincipalDep", "generate_token", "hash_token"]

_PREFIX = "dsk_"


def generate_token() -> str:
    return _PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling, and what they may see and do."""

    token_id: int
    is_admin: bool
    shop_ids: frozenset[int]
    can_write: bool

    @property
    def actor(self) -> str:
        return f"api-token:{self.token_id}"

    def can_see(self, shop_id: int) -> bool:
        return self.is_admin or shop_id in self.shop_ids

    def visible_shop_ids(self) -> list[int] | None:
        """None means every shop (admin); otherwise the shops in scope."""
        return None if self.is_admin else sorted(self.shop_ids)

    def require_shop(self, shop_id: int) -> None:
        """Refuse a shop outside the scope as if it did not exist (404), so scope leaks nothing."""
        if not self.can_see(shop_id):
            raise ApiError(404, "shop_not_found", f"no shop with id {shop_id}")

    def require_write(self) -> None:
        if not self.can_write:
            raise ApiError(403, "read_only_token", "this token may read but not act")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise ApiError(403, "admin_required", "this endpoint needs an admin token")


# Declared as a security scheme so the OpenAPI schema (and docs/api.md) shows which endpoints
# need a token; `auto_error=False` keeps our own error shape for a missing one.
_bearer = HTTPBearer(auto_error=False, description="An API token from `dropsync tokens create`.")


async def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    token = credentials.credentials.strip() if credentials is not None else ""
    if not token:
        raise ApiError(401, "missing_token", "send an API token as 'Authorization: Bearer <token>'")
    pool = request.app.state.resources.pool
    async with pool.acquire() as connection:
        record = await find_active_token(connection, hash_token(token))
    if record is None:
        raise ApiError(401, "invalid_token", "the API token is unknown or revoked")
    return Principal(
        token_id=record.token_id,
        is_admin=record.is_admin,
        shop_ids=frozenset(record.shop_ids),
        can_write=record.can_write,
    )


PrincipalDep = Annotated[Principal, Depends(require_principal)]
