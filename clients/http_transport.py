"""The HTTP transport behind dropsync's outbound clients: httpx's own, minus two costs per request.

A busy push worker spends most of its CPU in the HTTP client rather than in its own work, and
two of those costs are paid on every request for nothing:

- **The idle-connection check.** Before and after each request, httpcore's pool asks every idle
  connection whether its socket has become readable (the server closed it): with 20 connections
  that is up to 40 `poll` calls per request. The stock anyio stream also rebuilds anyio's
  table of socket attributes to find the raw socket, every time. `_ReadyStream` looks the
  socket up once, and polls a connection at most once per `_READABLE_RECHECK_SECONDS`.
- **Two sends per request.** httpcore writes a request's head and its body separately, and each
  send is a system call that wakes the receiver. `_ReadyStream` holds writes back until the
  request is read for (HTTP/1.1 always reads the response after sending the request), then
  sends them together: one send per request, the same bytes in the same order (a body over
  64 KiB is sent as it comes).

Everything else (pooling, keep-alive, timeouts, TLS, the exceptions httpx raises) is httpx's and
httpcore's own, unchanged.
"""

# httpcore's stream and backend interfaces take their timeouts as parameters.
# ruff: noqa: ASYNC109

import ssl
import time
import urllib.request
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

# httpcore's own readable test (poll with a zero timeout): the check stays exactly httpcore's.
from httpcore._utils import is_socket_readable

__all__ = ["outbound_transport"]

# How long a "not readable" answer stands. A server closing a connection inside this window is
# the race httpcore's check has anyway (the close can come just after any check): the request
# then fails as a transport error, which the Shopify client already handles (a read is retried;
# a mutation is re-read and adopted before anything is sent again).
_READABLE_RECHECK_SECONDS = 0.005

# A large streamed body is sent as it comes rather than held whole in memory.
_HOLD_AT_MOST_BYTES = 64 * 1024

# The environment proxies httpx honours (its `get_environment_proxies`), by scheme.
_PROXY_SCHEMES = frozenset({"http", "https", "all"})


class _ReadyStream(httpcore.AsyncNetworkStream):
    """One connection's stream: write-behind until the next read, and a cheap readable check."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        # The stock stream looks the socket up through anyio's attribute table on every check.
        self._socket = inner.get_extra_info("socket")
        self._held: list[bytes] = []
        self._held_size = 0
        self._held_timeout: float | None = None
        self._quiet_until = 0.0

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._held.append(buffer)
            self._held_size += len(buffer)
            self._held_timeout = timeout
            if self._held_size >= _HOLD_AT_MOST_BYTES:
                await self._flush()

    async def _flush(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._held_size = 0
            await self._inner.write(data, self._held_timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush()
        return await self._inner.read(max_bytes, timeout)

    async def aclose(self) -> None:
        # Whatever is still held belongs to a request being abandoned with its connection.
        self._held.clear()
        self._held_size = 0
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        await self._flush()
        return _ReadyStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            now = time.monotonic()
            if now < self._quiet_until:
                return False
            readable = is_socket_readable(self._socket)
            if not readable:
                self._quiet_until = now + _READABLE_RECHECK_SECONDS
            return readable
        return self._inner.get_extra_info(info)


class _ReadyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, with every stream it opens wrapped in `_ReadyStream`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _ReadyStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return _ReadyStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def outbound_transport(*, limits: httpx.Limits) -> httpx.AsyncHTTPTransport | None:
    """httpx's transport (certificate checks from the environment, as `httpx.AsyncClient`
    sets up by default) on a connection pool whose streams are `_ReadyStream`s.

    None when the environment names a proxy (`HTTPS_PROXY`, `ALL_PROXY`, ...): httpx applies
    those only to the transports it builds itself, so the client keeps its default one."""
    if any(scheme in _PROXY_SCHEMES for scheme in urllib.request.getproxies()):
        return None
    transport = httpx.AsyncHTTPTransport(limits=limits)
    # httpx offers no way to hand its pool a network backend, so the pool is built again with
    # the same settings and ours. tests/clients/test_http_transport.py fails if a release of
    # httpx stops sending requests through `_pool`.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_ReadyBackend(),
    )
    return transport
