"""No input ever gets a 500: schemathesis fuzzes every documented endpoint of a live server.

The server runs in a thread on a free port with an admin read-write token, so every route is
reached past authentication. Outbound HTTP (Shopify token endpoints, suppliers) goes to a
transport that refuses every connection: nothing leaves the machine, and the routes must turn
that into a clean error too.
"""

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from pydantic import SecretStr
from schemathesis.core.result import Ok

from schema.db import create_pool
from schema.queries.tokens import insert_token
from service.app import create_app
from service.auth import generate_token, hash_token
from service.runtime import Runtime


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("outbound calls are refused in this test", request=request)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test thread owns no signals
        return


@pytest.fixture(scope="module")
def live_api(runtime: Runtime) -> Iterator[tuple[str, str]]:
    """(base URL, admin token) of a live API server for this module."""
    token = generate_token()

    async def create_token() -> None:
        pool = await create_pool(runtime.database_url, min_size=1, max_size=1)
        async with pool.acquire() as connection:
            await insert_token(
                connection,
                name="fuzz",
                token_hash=hash_token(token),
                is_admin=True,
                shop_ids=[],
                can_write=True,
            )
        await pool.close()

    asyncio.run(create_token())
    port = _free_port()
    # A configured public app, so the OAuth routes are fuzzed past their configuration check.
    settings = runtime.settings.model_copy(
        update={
            "shopify_app_client_id": "fuzz-client",
            "shopify_app_client_secret": SecretStr("fuzz-secret"),
        }
    )
    app = create_app(
        dataclasses.replace(runtime, settings=settings),
        http_transport=httpx.MockTransport(_refuse),
    )
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(timeout=10)


def test_no_input_gets_a_server_error(live_api: tuple[str, str]) -> None:
    base_url, token = live_api
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    checked: list[str] = []
    for result in schema.get_all_operations():
        # An operation our own schema cannot describe is itself a failure worth seeing.
        assert isinstance(result, Ok), result
        operation = result.ok()

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=30,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            response = case.call(base_url=base_url, headers=headers)
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

        call()
        checked.append(operation.label)
    assert len(checked) >= 10, checked
