from collections.abc import AsyncIterator

import asyncpg
import pytest

from service.runtime import Runtime
from tests.workers.pushkit import Kit, make_kit


@pytest.fixture
async def kit(pool: asyncpg.Pool, runtime: Runtime) -> AsyncIterator[Kit]:
    made = await make_kit(pool, runtime.secrets)
    yield made
    await made.http.aclose()
    await made.sim.aclose()
