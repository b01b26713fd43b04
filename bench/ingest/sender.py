"""A paced HTTP/1.1 sender: POSTs prepared requests at a fixed rate over keep-alive connections.

wrk measures the most a server takes; apply lag has to be measured at a set arrival rate
(500 deliveries/s), which wrk cannot hold. This sender is deliberately small (raw asyncio
streams, no client library) so that it costs little CPU on the machine it shares with the server.
"""

import asyncio
import time
from dataclasses import dataclass, field

__all__ = ["PacedResult", "send_paced"]


@dataclass(kw_only=True)
class PacedResult:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    late_starts: int = 0


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


def _request_bytes(host: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def send_paced(
    *,
    host: str,
    port: int,
    path: str,
    requests: list[tuple[dict[str, str], bytes]],
    rate: float,
    connections: int = 16,
) -> PacedResult:
    """Send every request, the i-th at start + i/rate, spread over `connections` sockets."""
    result = PacedResult()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    start = time.perf_counter() + 0.2
    for index, (headers, body) in enumerate(requests):
        queue.put_nowait((start + index / rate, _request_bytes(host, path, headers, body)))

    async def connection_loop() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                try:
                    due, payload = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.05:
                    result.late_starts += 1
                sent_at = time.perf_counter()
                writer.write(payload)
                await writer.drain()
                status = await _read_response(reader)
                result.latencies.append(time.perf_counter() - sent_at)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.sent += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection_loop() for _ in range(connections)))
    return result
