"""The API's error shape and the handlers that guarantee every error uses it.

Every error answers `{"error": "<code>", "detail": "<what is wrong>"}`. No input ever produces a
500: validation failures are 422 with the offending field named, unknown routes 404, and an
unexpected exception is logged with its context and answered 500 only as a last resort.
"""

from typing import Any

import asyncpg
import structlog
from asyncpg.exceptions._base import DataError as ArgumentDataError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.responses import JsonResponse

__all__ = ["ApiError", "error_response", "install_error_handlers"]

log = structlog.get_logger()


class ApiError(Exception):
    """An error with its HTTP status, a stable machine code and a message for people."""

    def __init__(
        self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers = headers


def error_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status_code=status_code, headers=headers)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _describe_validation(errors: list[Any]) -> str:
    parts = []
    for error in errors[:5]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JsonResponse:
        assert isinstance(exc, ApiError)  # noqa: S101  (registered for ApiError only)
        return error_response(exc.status_code, exc.code, exc.detail, exc.headers)

    async def http_error(request: Request, exc: Exception) -> JsonResponse:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        code = _HTTP_CODES.get(exc.status_code, "error")
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        return error_response(exc.status_code, code, detail, dict(exc.headers or {}))

    async def validation_error(_: Request, exc: Exception) -> JsonResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        return error_response(422, "invalid_request", _describe_validation(list(exc.errors())))

    async def database_refused_value(_: Request, exc: Exception) -> JsonResponse:
        # PostgreSQL refused a value the request carried (out of range, NUL byte, bad text):
        # the request is at fault, and nothing was written.
        return error_response(422, "invalid_value", _first_line(exc))

    async def database_constraint(_: Request, exc: Exception) -> JsonResponse:
        if isinstance(exc, asyncpg.UniqueViolationError):
            return error_response(409, "conflict", _first_line(exc))
        if isinstance(exc, asyncpg.ForeignKeyViolationError):
            detail = getattr(exc, "detail", None) or _first_line(exc)
            return error_response(422, "unknown_reference", str(detail))
        return error_response(422, "invalid_value", _first_line(exc))

    async def unexpected_error(request: Request, exc: Exception) -> JsonResponse:
        log.exception("api.unexpected_error", path=request.url.path, error=repr(exc))
        return error_response(500, "internal_error", "an unexpected error occurred; see logs")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(asyncpg.DataError, database_refused_value)
    # asyncpg's own check of an argument before it is sent (an int beyond 64 bits, say).
    app.add_exception_handler(ArgumentDataError, database_refused_value)
    app.add_exception_handler(asyncpg.IntegrityConstraintViolationError, database_constraint)
    app.add_exception_handler(Exception, unexpected_error)
