"""Run the supplier simulator as an HTTP server.

    python -m simulator.suppliers --port 8901 \\
        --cj-webhook-url 'http://localhost:8000/webhooks/suppliers/cj-main?token=abc' \\
        --auto-flush 1

Webhooks are only sent on ``POST /_sim/flush`` unless ``--auto-flush`` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import httpx
import uvicorn
from starlette.applications import Starlette

from simulator.suppliers.app import Lifespan, create_app
from simulator.suppliers.clock import Clock, ManualClock, SystemClock
from simulator.suppliers.model import Supplier
from simulator.suppliers.settings import SupplierSettings
from simulator.suppliers.simulator import SupplierSimulator

__all__ = ["build_parser", "build_simulator", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.suppliers",
        description="Fake CJdropshipping / AliExpress / generic supplier.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help="start a fixed clock that only POST /_sim/clock/advance moves",
    )
    parser.add_argument("--cj-webhook-url", help="CJ order + ORDERSPLIT callback")
    parser.add_argument(
        "--cj-logistics-url", help="CJ LOGISTIC callback (default: --cj-webhook-url)"
    )
    parser.add_argument("--aliexpress-webhook-url", help="message push callback")
    parser.add_argument("--generic-webhook-url", help="Standard Webhooks endpoint")
    parser.add_argument(
        "--generic-secret",
        action="append",
        default=[],
        help="whsec_... signing secret (repeat to sign with several)",
    )
    parser.add_argument("--cj-access-token", action="append", default=[])
    parser.add_argument("--cj-api-key", action="append", default=[])
    parser.add_argument("--ae-app-key", default="500001")
    parser.add_argument("--ae-app-secret", default="ae-test-secret")
    parser.add_argument("--ae-session", action="append", default=[])
    parser.add_argument(
        "--auto-flush",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="run scheduled changes and flush due webhooks every SECONDS "
        "(0 = only on POST /_sim/tick and /_sim/flush)",
    )
    return parser


def _settings(args: argparse.Namespace) -> SupplierSettings:
    settings = SupplierSettings(
        ae_app_key=args.ae_app_key,
        ae_app_secret=args.ae_app_secret,
        generic_secrets=list(args.generic_secret),
    )
    if args.cj_access_token:
        settings.cj_access_tokens = set(args.cj_access_token)
    if args.cj_api_key:
        settings.cj_api_keys = set(args.cj_api_key)
    if args.ae_session:
        settings.ae_sessions = set(args.ae_session)
    return settings


def build_simulator(args: argparse.Namespace) -> SupplierSimulator:
    clock: Clock = ManualClock() if args.manual_clock else SystemClock()
    # Receivers check webhook-timestamp against their wall clock, so the
    # server always signs with real time, even when its state clock is manual.
    sim = SupplierSimulator(
        seed=args.seed,
        clock=clock,
        settings=_settings(args),
        signing_clock=SystemClock(),
    )
    if args.cj_webhook_url or args.cj_logistics_url:
        sim.register_cj_webhook(
            order_url=args.cj_webhook_url,
            logistics_url=args.cj_logistics_url or args.cj_webhook_url,
        )
    if args.aliexpress_webhook_url:
        sim.set_webhook_url(Supplier.ALIEXPRESS, args.aliexpress_webhook_url)
    if args.generic_webhook_url:
        sim.set_webhook_url(Supplier.GENERIC, args.generic_webhook_url)
    return sim


def _lifespan(sim: SupplierSimulator, *, auto_flush: timedelta | None) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            sim.http_client = client
            task = None
            if auto_flush is not None:
                task = asyncio.create_task(_flush_forever(sim, auto_flush))
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                sim.http_client = None

    return lifespan


async def _flush_forever(sim: SupplierSimulator, every: timedelta) -> None:
    while True:
        await asyncio.sleep(every.total_seconds())
        sim.tick()
        await sim.deliver()


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sim = build_simulator(args)
    auto_flush = timedelta(seconds=args.auto_flush) if args.auto_flush > 0 else None
    app = create_app(sim, lifespan=_lifespan(sim, auto_flush=auto_flush))
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
