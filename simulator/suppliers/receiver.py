"""A recording webhook receiver standing in for dropsync's endpoint in tests and demos.

It records every request verbatim and answers 200 with the body CJ expects
(``{"code": 200, "result": "success", ...}``), unless told to fail.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["CJ_SUCCESS_BODY", "ReceivedRequest", "RecordingReceiver"]

CJ_SUCCESS_BODY = {"code": 200, "result": "success", "message": "received"}

Responder = Callable[["ReceivedRequest"], Response]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingReceiver:
    """ASGI app (``.app``) that records requests and answers as configured."""

    def __init__(self, *, respond: Responder | None = None) -> None:
        self.requests: list[ReceivedRequest] = []
        self._respond = respond or (lambda _request: JSONResponse(CJ_SUCCESS_BODY))
        self._scripted: deque[Response] = deque()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "PUT"])])

    def fail_next(self, count: int, *, status_code: int = 500) -> None:
        """Answer the next ``count`` requests with ``status_code``."""
        for _ in range(count):
            self._scripted.append(
                JSONResponse({"error": "scripted failure"}, status_code=status_code)
            )

    def bodies(self) -> list[Any]:
        return [r.json() for r in self.requests]

    async def _handle(self, request: Request) -> Response:
        received = ReceivedRequest(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        self.requests.append(received)
        if self._scripted:
            return self._scripted.popleft()
        return self._respond(received)
