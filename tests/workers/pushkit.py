"""Test kit for push and refresh: the Shopify simulator in-process, and direct SQL seeding of
what ingest would have stored (shop, Shopify order and line items, supplier order, package)."""

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from clients.rate_limit import CostLimiter
from clients.shopify import RetryPolicy, ShopifyClient
from core.tracking import normalize_tracking_number
from schema.queries.shops import insert_shop, upsert_app
from schema.secrets import SecretBox
from simulator.shopify import ShopifySimulator
from workers.jobs.push import PushDeps
from workers.jobs.refresh import RefreshDeps

__all__ = ["Kit", "SeededOrder", "gid_number", "make_kit"]

_counter = itertools.count(1)


def gid_number(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


@dataclass(kw_only=True)
class SeededOrder:
    shop_id: int
    domain: str
    order_id: int
    line_items: list[dict[str, Any]]
    supplier_order_ids: list[int] = field(default_factory=list)

    def line_item_id(self, sku: str) -> int:
        return next(gid_number(item["id"]) for item in self.line_items if item["sku"] == sku)


@dataclass(kw_only=True)
class Kit:
    """A simulator, a Shopify client pointed at it, and seeding helpers over the test pool."""

    pool: asyncpg.Pool
    sim: ShopifySimulator
    shopify: ShopifyClient
    secrets: SecretBox
    http: httpx.AsyncClient
    app_id: int | None = None
    account_id: int | None = None

    def push_deps(self, **overrides: Any) -> PushDeps:
        options: dict[str, Any] = {
            "pool": self.pool,
            "shopify": self.shopify,
            "secrets": self.secrets,
            "rng": random.Random(3),
            "replan_backoff_base": 0.001,
            "replan_backoff_cap": 0.01,
        }
        options.update(overrides)
        return PushDeps(**options)

    def refresh_deps(self) -> RefreshDeps:
        return RefreshDeps(pool=self.pool, shopify=self.shopify, secrets=self.secrets)

    async def add_shop(
        self,
        domain: str | None = None,
        *,
        plan: str = "standard",
        settings: dict[str, Any] | None = None,
    ) -> tuple[int, str]:
        domain = domain or f"shop-{next(_counter)}.myshopify.com"
        credentials = self.sim.add_shop(domain, plan=plan)
        async with self.pool.acquire() as connection:
            if self.app_id is None:
                self.app_id = await upsert_app(
                    connection,
                    name="test-app",
                    kind="custom",
                    client_id="cid",
                    client_secret_enc=None,
                )
            shop = await insert_shop(
                connection,
                domain=domain,
                app_id=self.app_id,
                access_token_enc=self.secrets.encrypt(credentials.access_token),
                settings=settings or {},
            )
            if self.account_id is None:
                self.account_id = await connection.fetchval(
                    "INSERT INTO supplier_account (kind, name) VALUES ('cj', 'cj-test')"
                    " RETURNING account_id"
                )
        return shop.shop_id, domain

    async def add_order(
        self, shop_id: int, domain: str, *, line_items: Sequence[dict[str, Any]]
    ) -> SeededOrder:
        """Create the order in the simulator, route it, and store it as ingest would."""
        summary = self.sim.create_order(domain, line_items=list(line_items), routing_delay=0)
        order_id = gid_number(summary["id"])
        now = datetime.now(UTC)
        async with self.pool.acquire() as connection:
            await connection.execute(
                """
                INSERT INTO shopify_order (shop_id, order_id, name, created_at, updated_at,
                                           stored_at)
                VALUES ($1, $2, $3, $4, $4, $4)
                """,
                shop_id,
                order_id,
                summary["name"],
                now,
            )
            for item in summary["line_items"]:
                await connection.execute(
                    """
                    INSERT INTO shopify_line_item (shop_id, line_item_id, order_id, sku,
                                                   quantity)
                    VALUES ($1, $2, $3, $4, $5)
                    """,
                    shop_id,
                    gid_number(item["id"]),
                    order_id,
                    item["sku"],
                    item["quantity"],
                )
        return SeededOrder(
            shop_id=shop_id, domain=domain, order_id=order_id, line_items=summary["line_items"]
        )

    async def add_supplier_order(
        self, order: SeededOrder, *, lines: list[dict[str, Any]] | None = None
    ) -> int:
        async with self.pool.acquire() as connection:
            external = f"CJ{next(_counter):08d}"
            supplier_order_id: int = await connection.fetchval(
                """
                INSERT INTO supplier_order (shop_id, account_id, external_id, external_id_norm,
                                            shopify_order_id, status, lines, updated_at)
                VALUES ($1, $2, $3, $3, $4, 'shipped', $5, now())
                RETURNING supplier_order_id
                """,
                order.shop_id,
                self.account_id,
                external,
                order.order_id,
                lines or [],
            )
        order.supplier_order_ids.append(supplier_order_id)
        return supplier_order_id

    async def add_package(
        self,
        order: SeededOrder,
        supplier_order_id: int,
        *,
        tracking_number: str,
        carrier: str | None = "YunExpress",
        tracking_url: str | None = None,
        lines: list[dict[str, Any]] | None = None,
        shipped_ago: timedelta = timedelta(minutes=5),
    ) -> int:
        async with self.pool.acquire() as connection:
            package_id: int = await connection.fetchval(
                """
                INSERT INTO package (shop_id, supplier_order_id, tracking_number,
                                     tracking_number_norm, carrier, tracking_url, lines, shipped_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, now() - $8::interval)
                RETURNING package_id
                """,
                order.shop_id,
                supplier_order_id,
                tracking_number,
                normalize_tracking_number(tracking_number),
                carrier,
                tracking_url,
                lines or [],
                shipped_ago,
            )
        return package_id

    async def shipped_order(
        self,
        shop_id: int,
        domain: str,
        *,
        tracking_number: str,
        skus: Sequence[tuple[str, int]] = (("SKU-A", 1),),
        carrier: str | None = "YunExpress",
    ) -> tuple[SeededOrder, int]:
        """An order with one supplier order shipping every item in one package."""
        order = await self.add_order(
            shop_id, domain, line_items=[{"sku": sku, "quantity": qty} for sku, qty in skus]
        )
        supplier_order_id = await self.add_supplier_order(order)
        package_id = await self.add_package(
            order,
            supplier_order_id,
            tracking_number=tracking_number,
            carrier=carrier,
            lines=[
                {"line_item_id": order.line_item_id(sku), "sku": sku, "quantity": qty}
                for sku, qty in skus
            ],
        )
        return order, package_id

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.pool.acquire() as connection:
            return list(await connection.fetch(sql, *args))

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.pool.acquire() as connection:
            return await connection.fetchval(sql, *args)


async def make_kit(pool: asyncpg.Pool, secrets: SecretBox, *, seed: int = 1) -> Kit:
    sim = ShopifySimulator(seed=seed, routing_delay=0)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), timeout=5.0)
    shopify = ShopifyClient(
        http=http,
        url_template="https://{shop}/admin/api/{version}/graphql.json",
        api_version="2026-10",
        retry=RetryPolicy(max_attempts=6, base_seconds=0.005, cap_seconds=0.05),
        limiter=CostLimiter(),
    )
    return Kit(pool=pool, sim=sim, shopify=shopify, secrets=secrets, http=http)
