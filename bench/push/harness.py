"""Shared set-up for the push benchmarks and the fault check.

A fresh migrated database per run, the Shopify simulator (in-process or standalone), and
seeding as ingest would have stored it: shop, Shopify order and line items, supplier order,
one package per supplier order.
"""

import asyncio
import contextlib
import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from cryptography.fernet import Fernet

from core.tracking import normalize_tracking_number
from schema.db import create_pool
from schema.migrate import upgrade_to_head
from schema.secrets import SecretBox

__all__ = [
    "SIMULATOR_PIDS",
    "SeededPackage",
    "admin_database_url",
    "free_port",
    "fresh_database",
    "make_secrets",
    "seed_orders",
    "seed_shop",
    "simulator_process",
    "wait_for",
]

# Base URL of each running standalone simulator -> its process id.
SIMULATOR_PIDS: dict[str, int] = {}

SIM_TOKEN = "shpat_simulator"  # noqa: S105  (the simulator's public test token)


def admin_database_url() -> str:
    return os.environ.get(
        "DROPSYNC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def make_secrets() -> tuple[str, SecretBox]:
    """A fresh encryption key and its box (the key is handed to worker subprocesses)."""
    key = Fernet.generate_key().decode()
    return key, SecretBox([key])


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str | None = None) -> AsyncIterator[str]:
    """A new database migrated to head, dropped afterwards."""
    admin_url = admin_url or admin_database_url()
    name = f"dropsync_bench_{uuid.uuid4().hex[:8]}"
    base, _, query = admin_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
    finally:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def simulator_process(*, port: int, shops: int, plan: str) -> Iterator[str]:
    """Run `python -m simulator shopify` standalone; yields its base URL (its process id is
    `SIMULATOR_PIDS[base]` while it runs, for CPU accounting)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "shopify",
            "--port",
            str(port),
            "--shops",
            str(shops),
            "--plan",
            plan,
            "--routing-delay",
            "0",
            "--access-token",
            SIM_TOKEN,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    SIMULATOR_PIDS[base] = process.pid
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/_sim/stats", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            msg = "the simulator did not start"
            raise RuntimeError(msg)
        yield base
    finally:
        SIMULATOR_PIDS.pop(base, None)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_for(predicate: Any, *, within: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval)
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class SeededPackage:
    shop_id: int
    domain: str
    order_id: int
    package_id: int
    tracking_number: str
    carrier: str
    # (line item id, quantity)
    lines: tuple[tuple[int, int], ...]


_tracking = itertools.count(1)
_CARRIERS = ("YunExpress", "4PX", "China Post", "Yanwen")


def _gid_number(gid: str) -> int:
    return int(str(gid).rsplit("/", 1)[-1])


async def seed_shop(
    pool: asyncpg.Pool,
    secrets: SecretBox,
    *,
    domain: str,
    orders: Sequence[dict[str, Any]],
    app_id: int,
    account_id: int,
    settings: dict[str, Any] | None = None,
) -> tuple[int, list[SeededPackage]]:
    """Store a shop and, for each simulator order summary, the order, its line items, one
    supplier order and one package covering every item. Returns (shop id, packages)."""
    async with pool.acquire() as connection:
        shop_id: int = await connection.fetchval(
            """
            INSERT INTO shop (domain, app_id, access_token_enc, settings)
            VALUES ($1, $2, $3, $4) RETURNING shop_id
            """,
            domain,
            app_id,
            secrets.encrypt(SIM_TOKEN),
            settings or {},
        )
    packages = await seed_orders(
        pool, shop_id=shop_id, domain=domain, orders=orders, account_id=account_id
    )
    return shop_id, packages


async def seed_orders(
    pool: asyncpg.Pool,
    *,
    shop_id: int,
    domain: str,
    orders: Sequence[dict[str, Any]],
    account_id: int,
) -> list[SeededPackage]:
    """Store simulator orders for a stored shop, each with one supplier order and package."""
    packages: list[SeededPackage] = []
    async with pool.acquire() as connection, connection.transaction():
        for summary in orders:
            order_id = _gid_number(summary["id"])
            await connection.execute(
                """
                INSERT INTO shopify_order (shop_id, order_id, name, created_at, updated_at,
                                           stored_at)
                VALUES ($1, $2, $3, now(), now(), now())
                """,
                shop_id,
                order_id,
                summary["name"],
            )
            lines = tuple(
                (_gid_number(item["id"]), item["quantity"]) for item in summary["line_items"]
            )
            await connection.executemany(
                """
                INSERT INTO shopify_line_item (shop_id, line_item_id, order_id, sku, quantity)
                VALUES ($1, $2, $3, $4, $5)
                """,
                [
                    (shop_id, _gid_number(item["id"]), order_id, item["sku"], item["quantity"])
                    for item in summary["line_items"]
                ],
            )
            number = next(_tracking)
            supplier_order_id: int = await connection.fetchval(
                """
                INSERT INTO supplier_order (shop_id, account_id, external_id, external_id_norm,
                                            shopify_order_id, status, updated_at)
                VALUES ($1, $2, $3, $3, $4, 'shipped', now()) RETURNING supplier_order_id
                """,
                shop_id,
                account_id,
                f"SO{shop_id}X{number}",
                order_id,
            )
            tracking = f"YT{number:014d}"
            carrier = _CARRIERS[number % len(_CARRIERS)]
            package_id: int = await connection.fetchval(
                """
                INSERT INTO package (shop_id, supplier_order_id, tracking_number,
                                     tracking_number_norm, carrier, lines, shipped_at)
                VALUES ($1, $2, $3, $4, $5, $6, now() - interval '1 minute')
                RETURNING package_id
                """,
                shop_id,
                supplier_order_id,
                tracking,
                normalize_tracking_number(tracking),
                carrier,
                [{"line_item_id": line_id, "quantity": quantity} for line_id, quantity in lines],
            )
            packages.append(
                SeededPackage(
                    shop_id=shop_id,
                    domain=domain,
                    order_id=order_id,
                    package_id=package_id,
                    tracking_number=tracking,
                    carrier=carrier,
                    lines=lines,
                )
            )
    return packages


async def seed_basics(pool: asyncpg.Pool) -> tuple[int, int]:
    """The app and the supplier account every seeded shop uses."""
    async with pool.acquire() as connection:
        app_id: int = await connection.fetchval(
            "INSERT INTO app (name, kind) VALUES ('bench', 'custom') RETURNING app_id"
        )
        account_id: int = await connection.fetchval(
            "INSERT INTO supplier_account (kind, name) VALUES ('cj', 'bench') RETURNING account_id"
        )
    return app_id, account_id


async def bench_pool(database_url: str, *, max_size: int = 20) -> asyncpg.Pool:
    return await create_pool(database_url, min_size=2, max_size=max_size)
