"""Fault check: 1,000 packages pushed through a simulator failing a fifth of all calls in every
way (5xx, 429 with Retry-After, slow, timeout, applied-then-timeout) while the worker is
SIGKILLed several times. Afterwards every package must have exactly one fulfilment in the
simulator, with the right tracking number, company and line items, and none two.

    python -m bench.push.fault_check [--packages 1000] [--shops 10] [--kills 4]

Exits 0 when every check holds, 1 otherwise. Runs in about a minute.
"""

import argparse
import asyncio
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx

from bench.push.harness import (
    SeededPackage,
    bench_pool,
    free_port,
    fresh_database,
    make_secrets,
    seed_basics,
    seed_shop,
    simulator_process,
    wait_for,
)
from core.carriers import resolve_carrier
from schema.classify.unsynced import unsynced_packages

FAULTS = {
    "server_error_rate": 0.04,
    "rate_limit_rate": 0.04,
    "slow_rate": 0.04,
    "timeout_rate": 0.04,
    "apply_then_timeout_rate": 0.04,
    "slow_seconds": 0.3,
    "hang_seconds": 0.5,
    "retry_after_seconds": 0.3,
}


def _gid_number(gid: str) -> int:
    return int(str(gid).rsplit("/", 1)[-1])


async def create_orders(sim: httpx.AsyncClient, domain: str, count: int) -> list[dict[str, Any]]:
    rng = random.Random(domain)
    orders = []
    for index in range(count):
        items = [
            {"sku": f"SKU-{index}-{n}", "quantity": rng.randint(1, 3)}
            for n in range(rng.randint(1, 3))
        ]
        response = await sim.post(f"/_sim/shops/{domain}/orders", json={"line_items": items})
        response.raise_for_status()
        orders.append(response.json())
    return orders


def start_worker(database_url: str, template: str, key: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.push.fault_worker", database_url, template, key],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def verify(sim: httpx.AsyncClient, packages: list[SeededPackage]) -> list[str]:
    problems: list[str] = []
    by_number: dict[str, list[dict[str, Any]]] = {}
    for domain in sorted({p.domain for p in packages}):
        answer = (await sim.get(f"/_sim/shops/{domain}/fulfillments")).json()
        for fulfillment in answer["fulfillments"]:
            if fulfillment["status"] != "SUCCESS":
                continue
            for tracking in fulfillment["tracking"]:
                by_number.setdefault(tracking["number"], []).append(fulfillment)
    for package in packages:
        found = by_number.get(package.tracking_number, [])
        if len(found) != 1:
            problems.append(f"{package.tracking_number}: {len(found)} fulfilments")
            continue
        fulfillment = found[0]
        company = resolve_carrier(package.carrier, overrides={}).company
        if fulfillment["tracking"][0]["company"] != company:
            problems.append(
                f"{package.tracking_number}: company {fulfillment['tracking'][0]['company']!r}"
                f" != {company!r}"
            )
        lines = Counter(
            {
                _gid_number(line["line_item_id"]): line["quantity"]
                for line in fulfillment["line_items"]
            }
        )
        if lines != Counter(dict(package.lines)):
            problems.append(
                f"{package.tracking_number}: line items {dict(lines)} != {package.lines}"
            )
        if _gid_number(fulfillment["order_id"]) != package.order_id:
            problems.append(f"{package.tracking_number}: on the wrong order")
    return problems


async def run(packages_total: int, shops: int, kills: int, budget: float) -> int:
    fernet_key, secrets = make_secrets()
    port = free_port()
    started = time.monotonic()
    with simulator_process(port=port, shops=shops, plan="plus") as base:
        async with (
            fresh_database() as database_url,
            httpx.AsyncClient(base_url=base, timeout=30) as sim,
        ):
            pool = await bench_pool(database_url)
            app_id, account_id = await seed_basics(pool)
            packages: list[SeededPackage] = []
            per_shop = packages_total // shops
            for index in range(1, shops + 1):
                domain = f"shop-{index}.myshopify.com"
                orders = await create_orders(sim, domain, per_shop)
                _, seeded = await seed_shop(
                    pool,
                    secrets,
                    domain=domain,
                    orders=orders,
                    app_id=app_id,
                    account_id=account_id,
                )
                packages.extend(seeded)
            await sim.post("/_sim/faults", json=FAULTS)
            template = f"{base}/shops/{{shop}}/admin/api/{{version}}/graphql.json"
            share = sum(v for k, v in FAULTS.items() if k.endswith("_rate"))
            print(f"seeded {len(packages)} packages in {shops} shops; {share:.0%} of calls fail")

            async def all_synced() -> bool:
                async with pool.acquire() as connection:
                    left = await unsynced_packages(connection, grace=timedelta(0))
                    pending = await connection.fetchval(
                        "SELECT count(*) FROM push WHERE status = 'pending'"
                    )
                return not left and pending == 0

            worker = start_worker(database_url, template, fernet_key)
            rng = random.Random(7)
            for kill in range(kills):
                await asyncio.sleep(rng.uniform(2.0, 5.0))
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                done = await _count(pool)
                print(f"kill {kill + 1}: SIGKILL with {done} packages synced")
                worker = start_worker(database_url, template, fernet_key)
            finished = await wait_for(all_synced, within=budget, interval=0.5)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            await sim.post("/_sim/faults", json={"clear": True})
            stats = (await sim.get("/_sim/stats")).json()
            problems = await verify(sim, packages)
            async with pool.acquire() as connection:
                rows = await connection.fetch("SELECT status, count(*) FROM push GROUP BY status")
                ledger = {row["status"]: row["count"] for row in rows}
                open_rows = await connection.fetch(
                    """
                    SELECT l.push_id, l.order_id, l.package_ids, l.kind, l.status, l.attempts,
                           l.last_error, l.next_attempt_at, l.idempotency_key,
                           (SELECT array_agg(l2.status) FROM push l2
                            WHERE l2.package_ids && l.package_ids) AS all_rows
                    FROM push l WHERE l.status IN ('pending', 'superseded')
                    """
                )
                for row in open_rows:
                    print("open ledger row:", dict(row))
            await pool.close()
    elapsed = time.monotonic() - started
    print(f"finished={finished} in {elapsed:.0f} s; ledger {ledger}")
    print(f"simulator: {stats}")
    if problems:
        print(f"{len(problems)} problems, first ones:")
        for problem in problems[:20]:
            print("  " + problem)
        return 1
    print(
        f"OK: each of {len(packages)} packages has exactly one fulfilment with the right"
        " tracking number, company and line items"
    )
    return 0 if finished else 1


async def _count(pool: Any) -> int:
    async with pool.acquire() as connection:
        synced: int = await connection.fetchval(
            "SELECT count(DISTINCT p) FROM push, unnest(package_ids) p"
            " WHERE status IN ('succeeded', 'adopted')"
        )
    return synced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--shops", type=int, default=10)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument(
        "--budget", type=float, default=240.0, help="seconds to finish after the kills"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.packages, args.shops, args.kills, args.budget)))


if __name__ == "__main__":
    main()
