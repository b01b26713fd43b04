"""`python -m simulator shopify`: run the Shopify simulator standalone with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["register", "run"]


def register(subcommands: Any) -> None:
    """Add the `shopify` subcommand to the `python -m simulator` parser."""
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "shopify", help="fake Shopify Admin API, OAuth and webhooks"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shops", type=int, default=1, help="shops to create at start")
    parser.add_argument(
        "--access-token", default="shpat_simulator", help="token of every initial shop"
    )
    parser.add_argument("--client-secret", default="shpss_simulator")
    parser.add_argument("--client-id", default="simulator-client-id")
    parser.add_argument("--plan", default="standard")
    parser.add_argument("--routing-delay", type=float, default=0.2)
    parser.add_argument("--webhook-url", default=None, help="send every topic here too")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> None:
    """Create the simulator and serve it until interrupted."""
    import uvicorn  # noqa: PLC0415 - only the standalone mode needs a server

    from simulator.shopify.simulator import ShopifySimulator  # noqa: PLC0415

    sim = ShopifySimulator(
        seed=args.seed,
        routing_delay=args.routing_delay,
        require_https_webhooks=False,
        default_webhook_url=args.webhook_url,
    )
    for index in range(1, args.shops + 1):
        sim.add_shop(
            f"shop-{index}.myshopify.com",
            plan=args.plan,
            access_token=args.access_token,
            client_id=args.client_id,
            client_secret=args.client_secret,
        )
    app = sim.app

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        sim.start_background_delivery()
        try:
            yield
        finally:
            await sim.aclose()

    app.router.lifespan_context = lifespan
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
