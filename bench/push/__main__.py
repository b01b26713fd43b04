"""Push benchmarks; every figure is a ratio against a baseline measured in the same run.

    python -m bench.push [throughput|shops|latency|all] [--packages 1000] [--time-scale 10]

1. throughput: one standard-plan shop (100 points/s) pushes N fulfilments. Achieved
   fulfilments/s after the initial burst, against the rate the bucket allows for the measured
   cost per fulfilment (reads included): that ratio is the bucket's utilisation. Target >= 0.9,
   and no THROTTLED after the first second. The simulator runs in-process; with
   --time-scale S its clock, and the client limiter's, run S times faster than the wall clock
   (the bucket still restores 100 points per simulated second), so 1,000 fulfilments take
   about a minute instead of seven.
2. shops: 200 standard shops at once against a standalone simulator; aggregate fulfilments/s of
   this process (arq's max_jobs shops at a time, push_order_concurrency orders each) against a
   plain client calling fulfillmentCreate at the same concurrency. Target >= 0.7; peak memory
   <= 300 MiB.
3. latency: 10 shipments per second across 20 shops through a real arq worker; time from the
   package being stored and the push triggered (what ingest does when the supplier's shipped
   webhook is applied) to the ledger row recording the fulfilment Shopify returned. Target
   p99 <= 5 s.
"""

import argparse
import asyncio
import contextlib
import os
import random
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from arq.worker import Worker

from bench.push.harness import (
    SIM_TOKEN,
    SIMULATOR_PIDS,
    bench_pool,
    free_port,
    fresh_database,
    make_secrets,
    seed_basics,
    seed_orders,
    seed_shop,
    simulator_process,
    wait_for,
)
from clients.http_transport import outbound_transport
from clients.rate_limit import CostLimiter
from clients.shopify import RetryPolicy, ShopifyClient
from clients.shopify_documents import ORDERS_FULFILLMENT_STATE_BATCH_SIZE
from core.tracking import normalize_tracking_number
from schema.classify.unsynced import unsynced_packages
from service.logging import configure_logging
from service.runtime import Runtime
from service.settings import Settings
from simulator.shopify import ShopifySimulator
from workers import names
from workers.jobs.push import PushDeps, run_push_shop
from workers.settings import worker_options
from workers.trigger import trigger

_SHOPS_MAX_JOBS = 20
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_SHOPS_ORDER_CONCURRENCY = 2


def _process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


async def database_backends(pool: Any) -> frozenset[int]:
    """Process ids of the server backends connected to the pool's database: where the
    database's share of a round goes (other databases on the machine are left out)."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        )
    return frozenset(int(row["pid"]) for row in rows)


@dataclass(frozen=True, slots=True)
class _CpuSample:
    worker: float
    simulator: float
    # backend pid -> CPU seconds
    postgres: dict[int, float]

    @classmethod
    def take(cls, simulator_pid: int, backends: frozenset[int] = frozenset()) -> "_CpuSample":
        return cls(
            time.process_time(),
            _process_cpu_seconds(simulator_pid),
            {pid: _process_cpu_seconds(pid) for pid in backends},
        )

    def ms_per(self, later: "_CpuSample", count: int) -> str:
        """worker/simulator/postgres CPU milliseconds per unit between two samples (a backend
        that connected in between counts from its start)."""
        spent = (
            later.worker - self.worker,
            later.simulator - self.simulator,
            sum(seconds - self.postgres.get(pid, 0.0) for pid, seconds in later.postgres.items()),
        )
        return "/".join(f"{1000 * seconds / max(count, 1):.2f}" for seconds in spent)


def _line_items(rng: random.Random, index: int) -> list[dict[str, Any]]:
    return [
        {"sku": f"SKU-{index}-{n}", "quantity": rng.randint(1, 2)} for n in range(rng.randint(1, 2))
    ]


# ------------------------------------------------------------------------- 1. throughput


async def bench_throughput(packages: int, scale: float) -> dict[str, float | str]:
    start_wall = time.monotonic()

    def clock() -> float:
        return (time.monotonic() - start_wall) * scale

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / scale)

    sim = ShopifySimulator(seed=1, clock=clock, sleep=sleep, routing_delay=0)
    domain = "standard.myshopify.com"
    sim.add_shop(domain, plan="standard", access_token=SIM_TOKEN)
    rng = random.Random(1)
    orders = [
        sim.create_order(domain, line_items=_line_items(rng, index), routing_delay=0)
        for index in range(packages)
    ]
    key, secrets = make_secrets()
    del key
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), timeout=30)
    client = ShopifyClient(
        http=http,
        limiter=CostLimiter(clock=clock, sleep=sleep),
        sleep=sleep,
        retry=RetryPolicy(),
    )
    async with fresh_database() as database_url:
        pool = await bench_pool(database_url)
        app_id, account_id = await seed_basics(pool)
        shop_id, _ = await seed_shop(
            pool, secrets, domain=domain, orders=orders, app_id=app_id, account_id=account_id
        )
        deps = PushDeps(pool=pool, shopify=client, secrets=secrets, order_concurrency=4)
        calls_before = len(sim.calls)
        started = clock()
        await run_push_shop(deps, shop_id=shop_id)
        ended = clock()
        async with pool.acquire() as connection:
            left = len(await unsynced_packages(connection, grace=timedelta(0)))
        await pool.close()
    await http.aclose()
    calls = sim.calls[calls_before:]
    created = [c for c in calls if "fulfillmentCreate" in c.root_fields and c.outcome == "ok"]
    points = sum(c.actual_cost or 0 for c in calls)
    maximum = 2000.0
    restore = 100.0
    # The initial burst: until the bucket is (nearly) empty it is not yet the limit. Replay the
    # bucket from the calls' actual costs and measure from the moment it first runs dry.
    level = maximum
    previous = started
    burst_end = started
    for call in calls:
        level = min(maximum, level + restore * (call.at - previous)) - (call.actual_cost or 0)
        previous = call.at
        if level < 0.1 * maximum:
            burst_end = call.at
            break
    window = [c for c in calls if c.at > burst_end]
    window_points = sum(c.actual_cost or 0 for c in window)
    window_fulfilments = sum(
        1 for c in window if "fulfillmentCreate" in c.root_fields and c.outcome == "ok"
    )
    duration = max(ended - burst_end, 1e-9)
    cost_per_fulfilment = window_points / max(window_fulfilments, 1)
    achieved = window_fulfilments / duration
    allowed = restore / cost_per_fulfilment
    throttled_late = sum(1 for c in calls if c.outcome == "throttled" and c.at > started + 1.0)
    return {
        "fulfilments": len(created),
        "unsynced_left": left,
        "points_per_fulfilment": round(points / max(len(created), 1), 2),
        "steady_fulfilments_per_s": round(achieved, 3),
        "bucket_allows_per_s": round(allowed, 3),
        "ratio": round(achieved / allowed, 3),
        "throttled_after_first_second": throttled_late,
        "simulated_seconds": round(ended - started, 1),
        "wall_seconds": round((ended - started) / scale, 1),
    }


# ------------------------------------------------------------------------------ 2. shops


async def _create_orders(
    sim: httpx.AsyncClient, domains: list[str], per_shop: int, seed: int
) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    result: dict[str, list[dict[str, Any]]] = {domain: [] for domain in domains}
    semaphore = asyncio.Semaphore(32)

    async def one(domain: str, index: int) -> None:
        async with semaphore:
            answer = await sim.post(
                f"/_sim/shops/{domain}/orders", json={"line_items": _line_items(rng, index)}
            )
            answer.raise_for_status()
            result[domain].append(answer.json())

    await asyncio.gather(*(one(d, i) for d in domains for i in range(per_shop)))
    return result


_BASELINE_CREATE = """
mutation BaselineCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""


async def _baseline(
    base: str,
    orders: dict[str, list[dict[str, Any]]],
    concurrency: int,
    *,
    simulator_pid: int,
    transport: str,
) -> tuple[int, float, str]:
    """A plain client: one fulfillmentCreate per order, no reads, no database, no limiter.
    `transport` "stock" is httpx as installed; "dropsync" puts it on dropsync's own transport,
    to show how much of the ratio that transport accounts for."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as control:
        jobs = []
        for domain, summaries in orders.items():
            for index, summary in enumerate(summaries):
                detail = (await control.get(f"/_sim/shops/{domain}/orders/{summary['id']}")).json()
                jobs.append((domain, index, detail["fulfillment_orders"]))
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base,
        timeout=30,
        limits=limits,
        transport=outbound_transport(limits=limits) if transport == "dropsync" else None,
    ) as http:

        async def one(domain: str, index: int, fos: list[dict[str, Any]]) -> None:
            fulfillment = {
                "notifyCustomer": True,
                "trackingInfo": {"number": f"BASE{index}{domain[:8]}", "company": "4PX"},
                "lineItemsByFulfillmentOrder": [
                    {
                        "fulfillmentOrderId": fo["id"],
                        "fulfillmentOrderLineItems": [
                            {"id": line["id"], "quantity": line["remaining_quantity"]}
                            for line in fo["line_items"]
                        ],
                    }
                    for fo in fos[:1]
                ],
            }
            async with semaphore:
                answer = await http.post(
                    f"/shops/{domain}/admin/api/2026-10/graphql.json",
                    json={"query": _BASELINE_CREATE, "variables": {"fulfillment": fulfillment}},
                    headers={"X-Shopify-Access-Token": SIM_TOKEN},
                )
                answer.raise_for_status()

        cpu_before = _CpuSample.take(simulator_pid)
        started = time.monotonic()
        await asyncio.gather(*(one(*job) for job in jobs))
        elapsed = time.monotonic() - started
        cpu_after = _CpuSample.take(simulator_pid)
    return len(jobs), elapsed, cpu_before.ms_per(cpu_after, len(jobs))


async def bench_shops(
    shops: int, per_shop: int, rounds: int, *, baseline_transport: str, warmup: int = 1
) -> dict[str, float | str]:
    """Alternate baseline and dropsync rounds on fresh orders and report the median ratio: the
    machine is shared, so one pair of runs can be skewed by whatever else runs then."""
    domains = [f"shop-{i}.myshopify.com" for i in range(1, shops + 1)]
    # In flight at once: arq runs max_jobs shops; each pushes its orders in groups of up to
    # ORDERS_FULFILLMENT_STATE_BATCH_SIZE, order_concurrency groups at a time. With 5 orders a
    # shop that is one group, so one Shopify call in flight per shop.
    groups_per_shop = min(
        _SHOPS_ORDER_CONCURRENCY, -(-per_shop // ORDERS_FULFILLMENT_STATE_BATCH_SIZE)
    )
    concurrency = _SHOPS_MAX_JOBS * groups_per_shop
    ratios: list[float] = []
    ours_rates: list[float] = []
    baseline_rates: list[float] = []
    pushed_total = 0
    cpu_ours: list[str] = []
    cpu_baseline: list[str] = []
    _, secrets = make_secrets()
    with simulator_process(port=free_port(), shops=shops, plan="plus") as base:
        simulator_pid = SIMULATOR_PIDS[base]
        # The simulator loads the Admin schema on its first GraphQL request (about half a
        # second of CPU): load it now, so neither side's first round pays for it.
        async with httpx.AsyncClient(base_url=base, timeout=30) as warm:
            answer = await warm.post(
                f"/shops/{domains[0]}/admin/api/2026-10/graphql.json",
                json={"query": "{ shop { id } }"},
                headers={"X-Shopify-Access-Token": SIM_TOKEN},
            )
            answer.raise_for_status()
        async with fresh_database() as database_url:
            pool = await bench_pool(database_url, max_size=concurrency + 5)
            app_id, account_id = await seed_basics(pool)
            shop_ids: dict[str, int] = {}
            for domain in domains:
                shop_ids[domain], _ = await seed_shop(
                    pool, secrets, domain=domain, orders=[], app_id=app_id, account_id=account_id
                )
            # The same connection limits as the baseline's client: httpcore's pool scans every
            # connection on each request, so a bigger pool costs CPU for nothing here.
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            http = httpx.AsyncClient(
                transport=outbound_transport(limits=limits),
                timeout=httpx.Timeout(10.0, connect=3.0),
            )
            template = f"{base}/shops/{{shop}}/admin/api/{{version}}/graphql.json"
            deps = PushDeps(
                pool=pool,
                shopify=ShopifyClient(http=http, url_template=template),
                secrets=secrets,
                order_concurrency=_SHOPS_ORDER_CONCURRENCY,
            )
            jobs = asyncio.Semaphore(_SHOPS_MAX_JOBS)

            async def job(shop_id: int) -> None:
                async with jobs:
                    await run_push_shop(deps, shop_id=shop_id)

            # Round -1 warms both sides up and is not counted: the pool's new connections, their
            # prepared statements, the simulator's per-document validation cache.
            for round_ in range(-warmup, rounds):
                async with httpx.AsyncClient(base_url=base, timeout=30) as sim:
                    ours = await _create_orders(sim, domains, per_shop, seed=10 + round_)
                    theirs = await _create_orders(sim, domains, per_shop, seed=100 + round_)
                baseline_count, baseline_seconds, baseline_cpu = await _baseline(
                    base,
                    theirs,
                    concurrency,
                    simulator_pid=simulator_pid,
                    transport=baseline_transport,
                )
                for domain in domains:
                    await seed_orders(
                        pool,
                        shop_id=shop_ids[domain],
                        domain=domain,
                        orders=ours[domain],
                        account_id=account_id,
                    )
                async with pool.acquire() as connection:
                    before = await connection.fetchval(
                        "SELECT count(*) FROM push WHERE status IN ('succeeded', 'adopted')"
                    )
                cpu_before = _CpuSample.take(simulator_pid, await database_backends(pool))
                started = time.monotonic()
                await asyncio.gather(*(job(shop_id) for shop_id in shop_ids.values()))
                elapsed = time.monotonic() - started
                cpu_after = _CpuSample.take(simulator_pid, await database_backends(pool))
                async with pool.acquire() as connection:
                    pushed = (
                        await connection.fetchval(
                            "SELECT count(*) FROM push WHERE status IN ('succeeded', 'adopted')"
                        )
                        - before
                    )
                if round_ < 0:
                    continue
                pushed_total += pushed
                cpu_ours.append(cpu_before.ms_per(cpu_after, pushed))
                cpu_baseline.append(baseline_cpu)
                ours_rates.append(pushed / elapsed)
                baseline_rates.append(baseline_count / baseline_seconds)
                ratios.append(ours_rates[-1] / baseline_rates[-1])
            await http.aclose()
            await pool.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "shops": shops,
        "concurrency": concurrency,
        "baseline_transport": baseline_transport,
        "rounds": rounds,
        "warmup_rounds": warmup,
        "fulfilments": pushed_total,
        "dropsync_per_s": round(statistics.median(ours_rates), 1),
        "baseline_per_s": round(statistics.median(baseline_rates), 1),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratios": "/".join(f"{r:.2f}" for r in ratios),
        # CPU ms per fulfilment, this process / simulator / postgres, per round.
        "cpu_ms_dropsync": " ".join(cpu_ours),
        "cpu_ms_baseline": " ".join(cpu_baseline),
        "peak_rss_mib": round(peak_mib, 1),
    }


# ---------------------------------------------------------------------------- 3. latency


async def bench_latency(shops: int, rate: float, seconds: float) -> dict[str, float | str]:
    import os  # noqa: PLC0415

    domains = [f"shop-{i}.myshopify.com" for i in range(1, shops + 1)]
    total = int(rate * seconds)
    key, secrets = make_secrets()
    with simulator_process(port=free_port(), shops=shops, plan="standard") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as sim:
            orders = await _create_orders(sim, domains, total // shops + 1, seed=3)
        async with fresh_database() as database_url:
            pool = await bench_pool(database_url)
            app_id, account_id = await seed_basics(pool)
            shop_ids = []
            for domain in domains:
                shop_id, _ = await seed_shop(
                    pool,
                    secrets,
                    domain=domain,
                    orders=orders[domain],
                    app_id=app_id,
                    account_id=account_id,
                )
                shop_ids.append(shop_id)
            # Packages are what the load adds: take the seeded ones out and re-add them live.
            async with pool.acquire() as connection:
                seeded = await connection.fetch(
                    "DELETE FROM package RETURNING shop_id, supplier_order_id, tracking_number,"
                    " carrier, lines"
                )
            settings = Settings(
                database_url=database_url,
                redis_url=os.environ.get("DROPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
                secret_keys=key,
                queue_name=f"bench-{random.randrange(10**9)}",
                shopify_graphql_url_template=f"{base}/shops/{{shop}}/admin/api/{{version}}/graphql.json",
                _env_file=None,
            )
            assert settings.database_url is not None  # noqa: S101
            assert settings.redis_url is not None  # noqa: S101
            runtime = Runtime(
                settings=settings,
                database_url=settings.database_url,
                redis_url=settings.redis_url,
                secrets=secrets,
            )
            worker = Worker(**worker_options(runtime, handle_signals=False))
            worker_task = asyncio.create_task(worker.async_run())
            await asyncio.sleep(2.0)
            rows = list(seeded)[:total]
            interval = 1.0 / rate
            started = time.monotonic()
            for index, row in enumerate(rows):
                await asyncio.sleep(max(0.0, started + index * interval - time.monotonic()))
                async with pool.acquire() as connection:
                    await connection.execute(
                        """
                        INSERT INTO package (shop_id, supplier_order_id, tracking_number,
                                             tracking_number_norm, carrier, lines, shipped_at,
                                             stored_at)
                        VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), clock_timestamp())
                        """,
                        row["shop_id"],
                        row["supplier_order_id"],
                        row["tracking_number"],
                        normalize_tracking_number(row["tracking_number"]),
                        row["carrier"],
                        row["lines"],
                    )
                await trigger(
                    worker.pool, names.PUSH_SHOP, row["shop_id"], queue_name=settings.queue_name
                )

            async def done() -> bool:
                async with pool.acquire() as connection:
                    count: int = await connection.fetchval(
                        "SELECT count(*) FROM push WHERE status IN ('succeeded', 'adopted')"
                    )
                return count >= len(rows)

            await wait_for(done, within=60, interval=0.25)
            async with pool.acquire() as connection:
                latencies = [
                    row["seconds"]
                    for row in await connection.fetch(
                        """
                        SELECT extract(epoch FROM l.completed_at - p.stored_at)::float AS seconds
                        FROM push l JOIN package p
                          ON p.shop_id = l.shop_id AND p.package_id = ANY (l.package_ids)
                        WHERE l.status IN ('succeeded', 'adopted')
                        """
                    )
                ]
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task
            await worker.close()
            await pool.close()
    latencies.sort()
    return {
        "shipments": len(rows),
        "synced": len(latencies),
        "p50_s": round(statistics.median(latencies), 3) if latencies else -1,
        "p99_s": round(latencies[int(len(latencies) * 0.99) - 1], 3) if latencies else -1,
        "max_s": round(latencies[-1], 3) if latencies else -1,
    }


async def _run(which: str, args: argparse.Namespace) -> None:
    benches: dict[str, Callable[[], Awaitable[dict[str, float | str]]]] = {
        "throughput": lambda: bench_throughput(args.packages, args.time_scale),
        "shops": lambda: bench_shops(
            200, 5, args.rounds, baseline_transport=args.baseline_transport
        ),
        "latency": lambda: bench_latency(20, 10.0, args.latency_seconds),
    }
    for name, bench in benches.items():
        if which in {name, "all"}:
            result = await bench()
            print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in result.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="dropsync push benchmarks")
    parser.add_argument(
        "which", nargs="?", default="all", choices=["all", "throughput", "shops", "latency"]
    )
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3, help="shops: alternating rounds")
    parser.add_argument(
        "--baseline-transport",
        choices=["stock", "dropsync"],
        default="stock",
        help="shops: the plain client's HTTP transport (stock httpx, or dropsync's own)",
    )
    args = parser.parse_args()
    # As a deployed worker logs (JSON lines at info), not the development console renderer.
    configure_logging(log_format="json", level="info")
    asyncio.run(_run(args.which, args))


if __name__ == "__main__":
    main()
