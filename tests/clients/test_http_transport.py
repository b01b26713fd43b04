"""The outbound transport: against a real TCP server, the same answers as httpx's own, keep-alive,
and idle connections the server closed are never reused; against a recording stream, one send
per request."""

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clients.http_transport import _ReadyStream, outbound_transport

_LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


@dataclass
class _Server:
    """A minimal HTTP/1.1 server that echoes bodies and records how each request arrived."""

    close_after_response: bool = False
    answer: bool = True
    requests_received: int = 0
    connections: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = await reader.read(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    chunk = await reader.read(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                self.requests_received += 1
                if not self.answer:
                    await asyncio.sleep(10)
                    return
                reply = b"echo:" + body
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply)
                )
                await writer.drain()
                if self.close_after_response:
                    # Like a server dropping an idle keep-alive connection after answering.
                    writer.close()
                    return
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[_Server]:
    state = _Server()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    async with listener:
        yield state


def _client(server: _Server, *, timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url, transport=outbound_transport(limits=_LIMITS), timeout=timeout
    )


async def test_answers_match_and_connections_are_kept_alive(server: _Server) -> None:
    body = b'{"query": "' + b"x" * 2000 + b'"}'
    async with _client(server) as client:
        for _ in range(5):
            answer = await client.post("/graphql.json", content=body)
            assert answer.status_code == 200
            assert answer.content == b"echo:" + body
            # The request went through the transport's own stream, not httpcore's stock one.
            stream = answer.extensions["network_stream"]
            assert type(stream).__name__ == "_ReadyStream"
        answer = await client.get("/status")
        assert answer.content == b"echo:"
    assert server.requests_received == 6
    # Keep-alive: one connection served all of them.
    assert server.connections == 1


async def test_an_idle_connection_the_server_closed_is_not_reused(server: _Server) -> None:
    server.close_after_response = True
    async with _client(server) as client:
        for index in range(3):
            # Give the server's close time to arrive, so the connection sits idle and readable.
            await asyncio.sleep(0.05)
            answer = await client.post("/graphql.json", content=b"%d" % index)
            assert answer.content == b"echo:%d" % index
    assert server.connections == 3


async def test_read_timeouts_still_apply(server: _Server) -> None:
    server.answer = False
    async with _client(server, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/graphql.json", content=b"{}")
    # The request itself was sent before the wait for the answer.
    assert server.requests_received == 1


class _RecordingStream(httpcore.AsyncNetworkStream):
    """Stands in for the socket stream below ours, recording what is sent on it."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.sent.append(buffer)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return b"HTTP/1.1 200 OK\r\n"

    async def aclose(self) -> None:
        self.closed = True


async def test_a_request_head_and_body_go_out_in_one_send() -> None:
    inner = _RecordingStream()
    stream = _ReadyStream(inner)
    await stream.write(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n")
    await stream.write(b"{}")
    await stream.write(b"")  # h11's end of a Content-Length body
    assert inner.sent == []
    assert await stream.read(100) == b"HTTP/1.1 200 OK\r\n"
    assert inner.sent == [b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"]
    # Nothing held: a read sends nothing more.
    await stream.read(100)
    assert len(inner.sent) == 1


async def test_closing_drops_what_an_abandoned_request_held() -> None:
    inner = _RecordingStream()
    stream = _ReadyStream(inner)
    await stream.write(b"GET / HTTP/1.1\r\n\r\n")
    await stream.aclose()
    assert inner.closed
    assert inner.sent == []


def test_a_proxy_in_the_environment_keeps_httpx_default_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpx routes through HTTPS_PROXY only on the transports it builds itself.
    assert outbound_transport(limits=_LIMITS) is not None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert outbound_transport(limits=_LIMITS) is None


async def test_a_large_body_is_sent_as_it_comes_not_held_whole() -> None:
    inner = _RecordingStream()
    stream = _ReadyStream(inner)
    await stream.write(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 40_000
    await stream.write(chunk)
    assert inner.sent == []
    await stream.write(chunk)
    assert len(inner.sent) == 1
    assert inner.sent[0].endswith(chunk + chunk)
    await stream.write(b"0\r\n\r\n")
    await stream.read(100)
    assert inner.sent[1:] == [b"0\r\n\r\n"]


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "server.pem", directory / "server.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


async def test_https_answers_match_and_connections_are_kept_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shopify is HTTPS: the stream is wrapped again after the TLS handshake (start_tls).
    certificate_path, key_path = _self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate_path))  # httpx trusts it from the env
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certificate_path, key_path)
    state = _Server()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=server_context)
    port = listener.sockets[0].getsockname()[1]
    async with (
        listener,
        httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}",
            transport=outbound_transport(limits=_LIMITS),
            timeout=5.0,
        ) as client,
    ):
        for index in range(3):
            answer = await client.post("/graphql.json", content=b"%d" % index)
            assert answer.content == b"echo:%d" % index
            assert type(answer.extensions["network_stream"]).__name__ == "_ReadyStream"
    assert (state.requests_received, state.connections) == (3, 1)
