"""A push worker for the fault check: runs the real `run_push_shop` for every active shop in
a loop, like the sweeper would, until it is killed (SIGKILL is the point).

    python -m bench.push.fault_worker DATABASE_URL GRAPHQL_URL_TEMPLATE SECRET_KEY
"""

import asyncio
import sys

import httpx

from clients.http_transport import outbound_transport
from clients.shopify import RetryPolicy, ShopifyClient
from schema.db import create_pool
from schema.secrets import SecretBox
from workers.jobs.push import PushDeps, run_push_shop


async def main(database_url: str, url_template: str, key: str) -> None:
    pool = await create_pool(database_url, min_size=2, max_size=20)
    # The product's transport: the faults (timeouts, dropped answers) exercise it too.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
    http = httpx.AsyncClient(
        transport=outbound_transport(limits=limits), timeout=httpx.Timeout(5.0, connect=2.0)
    )
    deps = PushDeps(
        pool=pool,
        shopify=ShopifyClient(
            http=http,
            url_template=url_template,
            retry=RetryPolicy(max_attempts=6, base_seconds=0.05, cap_seconds=1.0),
        ),
        secrets=SecretBox([key]),
        order_concurrency=4,
        replan_backoff_cap=0.5,
        # The HTTP timeout above plus a margin.
        in_flight_window_seconds=6.0,
    )
    async with pool.acquire() as connection:
        shop_ids = [row["shop_id"] for row in await connection.fetch("SELECT shop_id FROM shop")]
    while True:
        await asyncio.gather(*(run_push_shop(deps, shop_id=shop_id) for shop_id in shop_ids))
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
