"""Benchmark the Shopify webhook receiver against same-run baselines.

    python -m bench.ingest [--duration 20] [--workers 1] [--skip-lag]

What it does, on a scratch database it creates and drops:

1. Starts the API under uvicorn (`--workers N`, default 1 like `dropsync serve`; uvloop and
   httptools), with the real app plus a bare endpoint that only reads the body, verifies the
   HMAC and answers 200 (`bench/ingest/app.py`).
2. Runs `wrk` at 8 and at 32 connections for `--duration` seconds each against both endpoints,
   POSTing Shopify's documented `orders/create` payload, correctly signed, each request with its
   own webhook id and event id, as Shopify sends them (so every one is a new, stored delivery
   and both dedup indexes take an entry). The endpoints take turns in
   `--slices` slices so that other load on the machine falls on both alike; a row reports the
   mean rate and p50 of its slices and the worst p99.
3. Runs `pgbench` with single-row durable inserts into the inbox table at 8 and 32 clients: the
   database's own ceiling for one commit per delivery.
4. Starts a worker and sends 500 deliveries/s (varied orders) for `--lag-seconds`, then reports
   the apply lag (receipt to applied) at p50 and p99.

It prints requests/s, p50/p99 latency and non-2xx counts, the ratios, and the targets.
Servers: `DROPSYNC_BENCH_DATABASE_URL` (an admin URL; default `DROPSYNC_TEST_DATABASE_URL`,
else postgresql://postgres@127.0.0.1:5432/postgres) and `DROPSYNC_BENCH_REDIS_URL` (default
`DROPSYNC_TEST_REDIS_URL`, else redis://127.0.0.1:6379/0).
"""

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import orjson
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from bench.ingest.sender import send_paced
from schema.db import init_connection
from schema.migrate import upgrade_to_head
from schema.secrets import SecretBox
from service.shops import AppKind, ShopRegistration, register_shop
from tests.ingest_helpers import order_body, sample, sign

_SECRET = "bench-app-secret"  # noqa: S105  (the scratch shop's made-up app secret)
_DOMAIN = "bench.myshopify.com"
_ROOT = Path(__file__).resolve().parents[2]

_INSTALL_HINTS = {
    "wrk": "apt-get install -y wrk   (or build https://github.com/wg/wrk)",
    "pgbench": "apt-get install -y postgresql-contrib   (pgbench ships with PostgreSQL)",
}


@dataclass(frozen=True, kw_only=True)
class Figures:
    name: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: str = ""


def _check_tools() -> None:
    missing = [tool for tool in _INSTALL_HINTS if shutil.which(tool) is None]
    if missing:
        for tool in missing:
            print(f"error: `{tool}` is not installed. Install it with: {_INSTALL_HINTS[tool]}")
        sys.exit(2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


async def _admin(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


_WRK_SCRIPT = """
local counter = 0
local prefix = "%(prefix)s"
local thread_counter = 0
function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("tid", thread_counter)
end
function init(args)
  local f = io.open("%(body_path)s", "rb")
  body = f:read("*all")
  f:close()
end
request = function()
  counter = counter + 1
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-Shopify-Topic"] = "orders/create"
  headers["X-Shopify-Hmac-Sha256"] = "%(signature)s"
  headers["X-Shopify-Shop-Domain"] = "%(domain)s"
  headers["X-Shopify-API-Version"] = "2026-10"
  headers["X-Shopify-Triggered-At"] = "2026-01-01T00:00:00.000Z"
  headers["X-Shopify-Webhook-Id"] = prefix .. "-" .. tostring(tid) .. "-" .. counter
  headers["X-Shopify-Event-Id"] = prefix .. "-event-" .. tostring(tid) .. "-" .. counter
  return wrk.format("POST", "%(path)s", headers, body)
end
"""


def _to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not match:
        return float("nan")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _run_wrk(
    *, url: str, path: str, connections: int, duration: int, workdir: Path, body: bytes, name: str
) -> Figures:
    body_path = workdir / "body.json"
    body_path.write_bytes(body)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    script = workdir / f"{slug}-{connections}.lua"
    script.write_text(
        _WRK_SCRIPT
        % {
            "prefix": f"{slug}-{connections}-{uuid.uuid4().hex[:8]}",
            "body_path": body_path,
            "signature": sign(body, _SECRET),
            "domain": _DOMAIN,
            "path": path,
        }
    )
    threads = min(2, connections)
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _to_ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _to_ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors_match = re.search(r"Socket errors:.*", output)
    return Figures(
        name=name,
        connections=connections,
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
        errors=errors_match.group(0) if errors_match else "",
    )


# The same body the HTTP runs send, as a literal: a repeated filler would compress to nothing
# and make the baseline cheaper than the real insert.
_PGBENCH_SCRIPT = """INSERT INTO webhook_delivery (shop_id, webhook_id, topic, headers, body) \
VALUES (%(shop_id)d, md5(random()::text || clock_timestamp()::text), 'orders/create', \
'{"topic": "orders/create"}'::jsonb, convert_to(%(body)s, 'UTF8'));
"""


def _run_pgbench(
    *, database_url: str, shop_id: int, clients: int, duration: int, workdir: Path, body: bytes
) -> Figures:
    script = workdir / "insert.sql"
    literal = "'" + body.decode().replace("'", "''").replace("\n", " ") + "'"
    script.write_text(_PGBENCH_SCRIPT % {"shop_id": shop_id, "body": literal})
    logdir = workdir / f"pgbench-{clients}"
    logdir.mkdir()
    output = subprocess.run(
        [
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-f",
            str(script),
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(duration),
            "-l",
            "--log-prefix",
            str(logdir / "log"),
            database_url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tps = float(re.search(r"tps = ([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latencies = sorted(
        int(line.split()[2]) / 1000.0
        for path in logdir.iterdir()
        for line in path.read_text().splitlines()
        if line.strip()
    )
    return Figures(
        name="pgbench single-row insert",
        connections=clients,
        rps=tps,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        non_2xx=0,
    )


def _combine(parts: list[Figures]) -> Figures:
    """One row from a run's slices: mean rate and p50, worst p99, summed non-2xx."""
    return Figures(
        name=parts[0].name,
        connections=parts[0].connections,
        rps=statistics.fmean(part.rps for part in parts),
        p50_ms=statistics.fmean(part.p50_ms for part in parts),
        p99_ms=max(part.p99_ms for part in parts),
        non_2xx=sum(part.non_2xx for part in parts),
        errors=" ".join(part.errors for part in parts if part.errors),
    )


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(fraction * len(values)))]


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the API exited during start-up; see its output above")
        with suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("the API did not answer /healthz within 30 s")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from service.cli import app; app()", "worker"], env=env, cwd=_ROOT
    )


async def _measure_apply_lag(
    *, database_url: str, port: int, rate: int, seconds: int, env: dict[str, str]
) -> dict[str, float]:
    connection = await asyncpg.connect(database_url)
    try:
        # The wrk runs left their deliveries pending; the lag run starts from a clean inbox.
        await connection.execute(
            "UPDATE webhook_delivery SET status = 'ignored' WHERE status = 'pending'"
        )
        worker = _start_worker(env)
        try:
            await asyncio.sleep(4)  # worker start-up (schema check, Redis connection)
            count = rate * seconds
            prefix = f"lag-{uuid.uuid4().hex[:8]}"
            requests = []
            for index in range(count):
                order_id = 1_000_000 + index % 2000
                body = order_body(
                    order_id=order_id,
                    line_items=[
                        {
                            "id": order_id * 10 + line,
                            "admin_graphql_api_id": (
                                f"gid://shopify/LineItem/{order_id * 10 + line}"
                            ),
                            "sku": f"SKU-{line}",
                            "title": f"Widget {line}",
                            "quantity": 1 + line,
                            "fulfillable_quantity": 1 + line,
                        }
                        for line in range(3)
                    ],
                    updated_at=f"2026-01-01T10:{index // 6000 % 60:02d}:{index // 100 % 60:02d}Z",
                )
                headers = {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": "orders/updated",
                    "X-Shopify-Hmac-Sha256": sign(body, _SECRET),
                    "X-Shopify-Shop-Domain": _DOMAIN,
                    "X-Shopify-Webhook-Id": f"{prefix}-{index}",
                    "X-Shopify-Triggered-At": f"2026-01-01T10:00:00.{index % 1000:03d}Z",
                }
                requests.append((headers, body))
            sent = await send_paced(
                host="127.0.0.1",
                port=port,
                path="/webhooks/shopify",
                requests=requests,
                rate=rate,
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                left = await connection.fetchval(
                    "SELECT count(*) FROM webhook_delivery WHERE status = 'pending'"
                    " AND webhook_id LIKE $1",
                    f"{prefix}-%",
                )
                if left == 0:
                    break
                await asyncio.sleep(0.5)
            lags = await connection.fetch(
                """
                SELECT extract(epoch FROM applied_at - received_at) * 1000 AS lag_ms, status
                FROM webhook_delivery WHERE webhook_id LIKE $1
                """,
                f"{prefix}-%",
            )
        finally:
            _stop(worker)
    finally:
        await connection.close()
    values = sorted(float(row["lag_ms"]) for row in lags if row["lag_ms"] is not None)
    return {
        "sent": sent.sent,
        "answered_200": sent.statuses.get(200, 0),
        "stored": len(lags),
        "unapplied": sum(1 for row in lags if row["lag_ms"] is None),
        "achieved_rate": sent.sent / seconds,
        "lag_p50_ms": _percentile(values, 0.50),
        "lag_p99_ms": _percentile(values, 0.99),
        "lag_max_ms": values[-1] if values else float("nan"),
        "http_p99_ms": _percentile(sorted(sent.latencies), 0.99) * 1000,
        "http_mean_ms": statistics.fmean(sent.latencies) * 1000 if sent.latencies else 0.0,
    }


def _print_table(rows: list[Figures]) -> None:
    print(f"{'run':<34}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for row in rows:
        print(
            f"{row.name:<34}{row.connections:>6}{row.rps:>10.0f}{row.p50_ms:>9.2f}"
            f"{row.p99_ms:>9.2f}{row.non_2xx:>9}  {row.errors}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk/pgbench run")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (dropsync serve runs 1)"
    )
    parser.add_argument(
        "--slices", type=int, default=2, help="alternate the endpoints in this many slices"
    )
    parser.add_argument("--lag-rate", type=int, default=500, help="deliveries/s for apply lag")
    parser.add_argument("--lag-seconds", type=int, default=15)
    parser.add_argument("--skip-lag", action="store_true")
    args = parser.parse_args()
    _check_tools()

    admin_url = (
        os.environ.get("DROPSYNC_BENCH_DATABASE_URL")
        or os.environ.get("DROPSYNC_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = (
        os.environ.get("DROPSYNC_BENCH_REDIS_URL")
        or os.environ.get("DROPSYNC_TEST_REDIS_URL")
        or "redis://127.0.0.1:6379/0"
    )
    name = f"dropsync_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    database_url = _with_database(admin_url, name)
    key = Fernet.generate_key().decode()
    server: subprocess.Popen[bytes] | None = None
    try:
        upgrade_to_head(database_url)

        async def register() -> int:
            connection = await asyncpg.connect(database_url)
            await init_connection(connection)
            try:
                shop = await register_shop(
                    connection,
                    SecretBox([key]),
                    ShopRegistration(
                        domain=_DOMAIN,
                        kind=AppKind.LEGACY,
                        client_secret=_SECRET,
                        access_token="shpat_bench",  # noqa: S106  (made up)
                    ),
                )
            finally:
                await connection.close()
            return shop.shop_id

        shop_id = asyncio.run(register())
        port = _free_port()
        env = {
            **os.environ,
            "DROPSYNC_DATABASE_URL": database_url,
            "DROPSYNC_REDIS_URL": redis_url,
            "DROPSYNC_SECRET_KEYS": key,
            "DROPSYNC_QUEUE_NAME": f"dropsync-bench-{name}",
            "DROPSYNC_LOG_LEVEL": "warning",
            "DROPSYNC_PORT": str(port),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "bench.ingest.app:create",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=_ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, server)
        body = sample("orders-create")
        print(
            f"dropsync ingest benchmark: {os.cpu_count()} CPUs, uvicorn x{args.workers}, "
            f"{args.duration}s per run, body {len(body)} bytes (Shopify's orders/create sample)"
        )
        rows: list[Figures] = []
        with tempfile.TemporaryDirectory() as scratch:
            workdir = Path(scratch)
            for connections in (8, 32):
                endpoints = (
                    ("bare HMAC-only endpoint", "/bench/bare-shopify"),
                    ("POST /webhooks/shopify (stored)", "/webhooks/shopify"),
                )
                for _, path in endpoints:
                    # A short warm-up fills caches and connection pools before measuring.
                    _run_wrk(
                        url=url,
                        path=path,
                        connections=connections,
                        duration=2,
                        workdir=workdir,
                        body=body,
                        name=f"warm-{connections}",
                    )
                # The two endpoints take turns in slices, so that load from anything else on
                # the machine falls on both alike; each still gets `duration` seconds in all.
                slices: dict[str, list[Figures]] = {label: [] for label, _ in endpoints}
                for _ in range(args.slices):
                    for label, path in endpoints:
                        slices[label].append(
                            _run_wrk(
                                url=url,
                                path=path,
                                connections=connections,
                                duration=max(1, args.duration // args.slices),
                                workdir=workdir,
                                body=body,
                                name=label,
                            )
                        )
                rows.extend(_combine(parts) for parts in slices.values())
            for clients in (8, 32):
                rows.append(
                    _run_pgbench(
                        database_url=database_url,
                        shop_id=shop_id,
                        clients=clients,
                        duration=args.duration,
                        workdir=workdir,
                        body=body,
                    )
                )
        print()
        _print_table(rows)
        print()
        ok = True
        for connections in (8, 32):
            bare = next(
                r for r in rows if r.connections == connections and r.name.startswith("bare")
            )
            real = next(
                r for r in rows if r.connections == connections and r.name.startswith("POST")
            )
            pg = next(r for r in rows if r.connections == connections and r.name.startswith("pg"))
            ratio = real.rps / bare.rps
            print(
                f"c={connections}: stored/bare = {ratio:.2f}  (target >= 0.6, goal 0.8); "
                f"stored/pgbench single-row = {real.rps / pg.rps:.2f}"
            )
            ok &= ratio >= 0.6 and real.non_2xx == 0
            if connections == 32:
                print(f"c=32: p99 {real.p99_ms:.1f} ms (target <= 50 ms)")
                ok &= real.p99_ms <= 50
        stored_non_2xx = sum(r.non_2xx for r in rows if r.name.startswith("POST"))
        print(f"non-2xx on the stored endpoint: {stored_non_2xx}")
        if not args.skip_lag:
            print()
            print(
                f"apply lag: {args.lag_rate} deliveries/s for {args.lag_seconds}s, worker running"
            )
            lag = asyncio.run(
                _measure_apply_lag(
                    database_url=database_url,
                    port=port,
                    rate=args.lag_rate,
                    seconds=args.lag_seconds,
                    env=env,
                )
            )
            print(orjson.dumps(lag, option=orjson.OPT_INDENT_2).decode())
            print(f"apply lag p99 {lag['lag_p99_ms']:.0f} ms (target < 1000 ms)")
            ok &= lag["lag_p99_ms"] < 1000 and lag["unapplied"] == 0
        print()
        print("all targets met" if ok else "some targets missed")
    finally:
        _stop(server)
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_clear_queue(redis_url, f"dropsync-bench-{name}"))


async def _clear_queue(redis_url: str, queue_name: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"arq:*{queue_name}*")]
        await client.delete(queue_name, *keys)
    finally:
        await client.aclose()


if __name__ == "__main__":
    main()
