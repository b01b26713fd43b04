"""Durability: deliveries acknowledged with 200 survive the API being SIGKILLed, exactly once.

A few thousand signed deliveries go to a real uvicorn process while it is killed with SIGKILL
and restarted several times. Some deliveries are sent again after a restart (Shopify retries).
Deliveries not acknowledged are sent again, as Shopify would. Afterwards every delivery that
was answered 200 must be in the inbox, and none twice.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from service.runtime import Runtime
from tests.ingest_helpers import order_body, register_test_shop, shopify_headers

_ROOT = Path(__file__).resolve().parents[2]
DELIVERIES = 3000
KILLS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(port: int, runtime: Runtime) -> subprocess.Popen[bytes]:
    settings = runtime.settings
    assert settings.secret_keys is not None
    env = {
        **os.environ,
        "DROPSYNC_DATABASE_URL": runtime.database_url,
        "DROPSYNC_REDIS_URL": runtime.redis_url,
        "DROPSYNC_SECRET_KEYS": settings.secret_keys.get_secret_value(),
        "DROPSYNC_QUEUE_NAME": settings.queue_name,
        "DROPSYNC_LOG_LEVEL": "error",
    }
    return subprocess.Popen(  # noqa: S603  (our own interpreter and module, fixed arguments)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "tests.service.durability_app:create",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "error",
        ],
        cwd=_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_up(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the API did not come up within 20 s")


async def test_acknowledged_deliveries_survive_sigkill_exactly_once(
    pool: asyncpg.Pool, runtime: Runtime
) -> None:
    await register_test_shop(pool, runtime.secrets)
    port = _free_port()
    body = order_body()
    requests = [
        (
            f"durable-{index}",
            shopify_headers(body, topic="orders/updated", webhook_id=f"durable-{index}"),
        )
        for index in range(DELIVERIES)
    ]
    acknowledged: set[str] = set()
    refused = 0
    server = _start(port, runtime)
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=5.0
    ) as client:
        await _wait_up(client)
        pending = list(requests)

        async def sender() -> None:
            nonlocal refused
            while pending:
                webhook_id, headers = pending.pop()
                try:
                    response = await client.post("/webhooks/shopify", content=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                if status == 200:
                    acknowledged.add(webhook_id)
                else:
                    # Not acknowledged: like Shopify, send it again later.
                    refused += 1
                    pending.insert(0, (webhook_id, headers))
                    await asyncio.sleep(0.05)

        async def killer() -> None:
            nonlocal server
            for _ in range(KILLS):
                await asyncio.sleep(0.6)
                server.send_signal(signal.SIGKILL)
                server.wait()
                server = _start(port, runtime)
                await _wait_up(client)

        try:
            await asyncio.gather(killer(), *(sender() for _ in range(16)))
            # Shopify's retries: send a slice of the acknowledged ones again after the kills.
            again = [r for r in requests if r[0] in acknowledged][:300]
            for webhook_id, headers in again:
                response = await client.post("/webhooks/shopify", content=body, headers=headers)
                assert response.status_code == 200, webhook_id
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait()
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT webhook_id, count(*) AS copies FROM webhook_delivery"
            " WHERE webhook_id LIKE 'durable-%' GROUP BY webhook_id"
        )
    stored = {row["webhook_id"]: row["copies"] for row in rows}
    assert len(acknowledged) == DELIVERIES
    assert refused > 0, "no request was cut off by a kill: the test proved nothing"
    missing = acknowledged - stored.keys()
    assert missing == set(), f"{len(missing)} acknowledged deliveries were lost"
    assert all(copies == 1 for copies in stored.values())
