"""Read a request body with a hard size cap.

uvicorn and Starlette accept bodies of any size, and a `Content-Length` check alone is not
enough (a chunked body has none), so the stream is counted as it arrives and abandoned the moment
it passes the cap: the rest is never read.
"""

from starlette.requests import Request

__all__ = ["BodyTooLargeError", "read_capped_body"]


class BodyTooLargeError(Exception):
    """The body is larger than the cap; answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than the {limit}-byte limit")
        self.limit = limit


async def read_capped_body(request: Request, *, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
