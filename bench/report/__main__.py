"""Benchmark the mismatch report at 1,000,000 orders, next to a same-run baseline.

    /work/venv/bin/python -m bench.report [--orders 1000000] [--admin-url postgresql://...]

Creates a database for the run (dropped afterwards), seeds the fixed shape of `tests.seed.
BulkShape` set-based, then prints: the baseline (a plain anti-join of orders against supplier
orders), the full classification pass and its ratio to the baseline (target <= 8x; on one
connection, then on `--concurrency` connections, the setting's default), an
incremental pass after 1,000 changed orders (<= 200 ms), the summary (<= 300 ms), a filtered
page of 100 rows (<= 100 ms), and the CSV export's peak memory over idle (< 100 MiB), measured
on a real API server process streaming every row (ok rows included) over HTTP.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from core.report_classes import Thresholds
from schema.classify.passes import run_full_pass, run_incremental_pass
from schema.db import create_pool
from schema.migrate import upgrade_to_head
from schema.queries.tokens import insert_token
from service.auth import generate_token, hash_token
from service.settings import Settings
from tests.seed import BulkShape, seed_account, seed_bulk, seed_shop

_ROOT = Path(__file__).resolve().parents[2]


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


async def _timed(action: Callable[[], Awaitable[Any]], *, repeat: int = 1) -> tuple[float, Any]:
    """Median wall time in seconds over `repeat` runs, and the last result."""
    times = []
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _line(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<46} {value:>14}  {target}")


async def _bench(
    admin_url: str,
    orders: int,
    redis_url: str,
    *,
    api: bool,
    concurrency: int,
    keep: bool = False,
) -> None:
    name = f"dropsync_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = _with_database(admin_url, name)
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        await _run(url, orders, redis_url, api=api, concurrency=concurrency)
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            admin = await asyncpg.connect(admin_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


async def _run(url: str, orders: int, redis_url: str, *, api: bool, concurrency: int) -> None:
    now = datetime.now(UTC)
    pool = await create_pool(url, min_size=1, max_size=4)
    thresholds = Thresholds()
    async with pool.acquire() as connection:
        shops = [
            await seed_shop(connection, domain=f"bench{i}.myshopify.com", timezone="Europe/Paris")
            for i in range(10)
        ]
        accounts = [
            await seed_account(connection, name=f"bench-{kind}", kind=kind)
            for kind in ("cj", "aliexpress", "generic")
        ]
        started = time.perf_counter()
        await seed_bulk(
            connection,
            shape=BulkShape(orders=orders, now=now),
            shop_ids=shops,
            account_ids=accounts,
        )
        await connection.execute("VACUUM ANALYZE")
        seeded = time.perf_counter() - started
        counts = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")
            for table in (
                "shopify_order",
                "shopify_line_item",
                "shopify_fulfillment_order",
                "supplier_order",
                "package",
                "shopify_fulfillment",
                "push",
            )
        }
        print(
            f"seeded {orders:,} orders in {seeded:.1f} s: "
            + ", ".join(f"{table} {count:,}" for table, count in counts.items())
        )

        async def baseline() -> int:
            found: int = await connection.fetchval(
                """
                SELECT count(*) FROM shopify_order o
                WHERE NOT EXISTS (
                    SELECT 1 FROM supplier_order s
                    WHERE s.shop_id = o.shop_id AND s.shopify_order_id = o.order_id)
                """
            )
            return found

        def full_pass(connections: int) -> Callable[[], Awaitable[Any]]:
            return lambda: run_full_pass(
                connection, now=now, thresholds=thresholds, pool=pool, concurrency=connections
            )

        base_s, _ = await _timed(baseline, repeat=3)
        first_s, first = await _timed(full_pass(concurrency))
        serial_s, _ = await _timed(full_pass(1), repeat=3)
        full_s, full = await _timed(full_pass(concurrency), repeat=3)
        breaks = await connection.fetchval(
            "SELECT count(*) FROM mismatch WHERE resolved_at IS NULL AND outcome = 'break'"
        )
        # 1,000 changed orders: a mix of both sides changing, through the dirty-set triggers
        await connection.execute(
            """
            UPDATE shopify_order SET updated_at = updated_at + interval '1 second'
            WHERE (shop_id, order_id) IN (
                SELECT shop_id, order_id FROM shopify_order ORDER BY order_id LIMIT 500)
            """
        )
        await connection.execute(
            """
            UPDATE package SET last_event_at = $1
            WHERE (shop_id, package_id) IN (
                SELECT shop_id, package_id FROM package ORDER BY package_id DESC LIMIT 500)
            """,
            now,
        )
        dirty = await connection.fetchval("SELECT count(*) FROM classify_dirty")
        incremental_s, incremental = await _timed(
            lambda: run_incremental_pass(connection, now=now, thresholds=thresholds)
        )
        token = generate_token()
        await insert_token(
            connection,
            name="bench",
            token_hash=hash_token(token),
            is_admin=True,
            shop_ids=[],
            can_write=False,
        )
    await pool.close()

    print(f"\nreport at {orders:,} orders ({breaks:,} breaks, {first.found:,} open rows)")
    _line("baseline: anti-join orders vs supplier orders", f"{base_s * 1000:.0f} ms")
    _line(
        "full pass, first (inserts every row)",
        f"{first_s * 1000:.0f} ms",
        f"{first_s / base_s:.1f}x baseline",
    )
    _line(
        "full pass, steady state, 1 connection",
        f"{serial_s * 1000:.0f} ms",
        f"{serial_s / base_s:.1f}x baseline",
    )
    _line(
        f"full pass, steady state, {concurrency} connections",
        f"{full_s * 1000:.0f} ms",
        f"{full_s / base_s:.1f}x baseline (target <= 8x)",
    )
    _line(
        f"incremental pass, {dirty:,} dirty subjects",
        f"{incremental_s * 1000:.0f} ms",
        "(target <= 200 ms)",
    )
    del full, incremental
    if api:
        await _api(url, redis_url, token, shops)


async def _api(url: str, redis_url: str, token: str, shops: list[int]) -> None:
    """Start a real API server and time the endpoints; measure the export's peak memory."""
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "DROPSYNC_DATABASE_URL": url,
        "DROPSYNC_REDIS_URL": redis_url,
        "DROPSYNC_SECRET_KEYS": "bP6mV9cR0yVbq7S9T3mF7k2r1YwB6kq2a0mXo8x5Zb8=",
        "DROPSYNC_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(  # noqa: ASYNC220  (the server under test runs for the whole bench)
        [sys.executable, "-m", "bench.report.server", str(port)],
        cwd=_ROOT,
        env=env,
    )
    headers = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as client:
            for _ in range(100):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)

            async def summary() -> httpx.Response:
                return (await client.get("/reports/summary")).raise_for_status()

            async def page() -> httpx.Response:
                return (
                    await client.get(
                        "/reports/mismatches",
                        params={"shop_id": shops[3], "class": "shipped_not_synced", "limit": 100},
                    )
                ).raise_for_status()

            async def unfiltered() -> httpx.Response:
                return (
                    await client.get("/reports/mismatches", params={"limit": 100})
                ).raise_for_status()

            await summary()
            await page()
            summary_s, _ = await _timed(summary, repeat=5)
            page_s, page_response = await _timed(page, repeat=5)
            unfiltered_s, _ = await _timed(unfiltered, repeat=5)
            _line("summary", f"{summary_s * 1000:.0f} ms", "(target <= 300 ms)")
            _line(
                f"filtered page ({len(page_response.json()['rows'])} rows)",
                f"{page_s * 1000:.0f} ms",
                "(target <= 100 ms)",
            )
            _line("unfiltered first page (100 rows)", f"{unfiltered_s * 1000:.0f} ms")

            # reset the peak-RSS mark, so VmHWM below is the export's own peak
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # noqa: ASYNC240  (procfs)
            idle_kib = _rss_kib(server.pid, "VmRSS")
            rows = 0
            started = time.perf_counter()
            async with client.stream(
                "GET",
                "/reports/mismatches",
                params={"format": "csv", "outcome": "ok,pending,break"},
            ) as response:
                response.raise_for_status()
                async for chunk in response.aiter_bytes():
                    rows += chunk.count(b"\n")
            export_s = time.perf_counter() - started
            peak_kib = _rss_kib(server.pid, "VmHWM")
            _line(
                f"CSV export, {rows - 1:,} rows",
                f"{export_s:.1f} s",
                f"{(rows - 1) / export_s:,.0f} rows/s",
            )
            _line(
                "CSV export peak RSS over idle",
                f"{(peak_kib - idle_kib) / 1024:.1f} MiB",
                f"(idle {idle_kib / 1024:.0f} MiB; target < 100 MiB)",
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "DROPSYNC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="A Postgres URL allowed to create and drop databases.",
    )
    parser.add_argument("--no-api", action="store_true", help="Skip the API measurements.")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=Settings.model_fields["classify_full_pass_concurrency"].default,
        help="Batches of shops the full pass runs at once (the setting's default).",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the bench database (prints its name)."
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("DROPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    args = parser.parse_args()
    asyncio.run(
        _bench(
            args.admin_url,
            args.orders,
            args.redis_url,
            api=not args.no_api,
            concurrency=args.concurrency,
            keep=args.keep,
        )
    )


if __name__ == "__main__":
    main()
