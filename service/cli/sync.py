"""`dropsync shops sync` (backfill progress bar and poll status) and `dropsync shops cutover`."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schema.queries.connect import set_shop_setting
from schema.queries.shops import ShopRecord, get_shop_by_domain
from schema.queries.sync_state import ShopSyncRecord, get_shop_sync_state, start_backfill
from service.cli.context import console, fail, load_settings, open_pool, runtime_for
from service.connect import CUTOVER_SETTING

__all__ = ["shops_backfill", "shops_cutover", "shops_sync"]

_FINISHED = {"done", "failed", "none"}


async def _load(pool: asyncpg.Pool, domain: str) -> tuple[ShopRecord, ShopSyncRecord | None]:
    async with pool.acquire() as connection:
        shop = await get_shop_by_domain(connection, domain)
        if shop is None:
            fail(f"no shop {domain}", hint="dropsync shops list shows the registered shops")
        return shop, await get_shop_sync_state(connection, shop.shop_id)


def _describe(shop: ShopRecord, state: ShopSyncRecord | None) -> None:
    console.print(f"[bold]{shop.domain}[/] (id {shop.shop_id}): {shop.status}")
    if shop.attention_reason:
        console.print(f"  [yellow]needs attention:[/] {shop.attention_reason}")
    console.print(f"  pushes packages shipped since: {shop.settings.get(CUTOVER_SETTING, '-')}")
    if state is None:
        console.print("  not synced yet")
        return
    console.print(
        f"  backfill: {state.backfill_status}, {state.backfill_orders} orders read"
        + (f" of {state.backfill_total}" if state.backfill_total is not None else "")
    )
    console.print(f"  polled up to: {state.orders_watermark or '-'}")
    console.print(f"  last good poll: {state.last_poll_ok_at or '-'}")
    console.print(f"  last full pass: {state.last_full_pass_at or '-'}")
    if state.last_error:
        console.print(f"  [red]last error:[/] {state.last_error}")


def shops_sync(
    domain: Annotated[str, typer.Argument(help="The shop's myshopify.com domain.")],
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Show a progress bar until it ends.")
    ] = True,
) -> None:
    """Show a shop's sync status, with a progress bar while its backfill runs."""
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> None:
            async with open_pool(runtime) as pool:
                shop, state = await _load(pool, domain)
                if follow and state is not None and state.backfill_status not in _FINISHED:
                    columns = (
                        TextColumn("[bold]backfill[/] {task.description}"),
                        BarColumn(),
                        MofNCompleteColumn(),
                        TimeElapsedColumn(),
                    )
                    with Progress(*columns, console=console) as progress:
                        task = progress.add_task(state.backfill_status, total=None)
                        while state is not None and state.backfill_status not in _FINISHED:
                            progress.update(
                                task,
                                description=state.backfill_status,
                                completed=state.backfill_orders,
                                total=state.backfill_total,
                            )
                            await asyncio.sleep(1.0)
                            shop, state = await _load(pool, domain)
                _describe(shop, state)

        asyncio.run(run())


def shops_backfill(
    domain: Annotated[str, typer.Argument(help="The shop's myshopify.com domain.")],
    days: Annotated[int, typer.Option(min=1, max=3650, help="Orders updated in the last N days.")],
) -> None:
    """Queue a new backfill (the worker runs it; follow it with `dropsync shops sync`)."""
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> None:
            async with open_pool(runtime) as pool:
                shop, _ = await _load(pool, domain)
                async with pool.acquire() as connection:
                    await start_backfill(
                        connection,
                        shop_id=shop.shop_id,
                        since=datetime.now(UTC) - timedelta(days=days),
                    )

        asyncio.run(run())
    console.print(f"[green]backfill of {days} days queued for {domain}[/]")


def shops_cutover(
    domain: Annotated[str, typer.Argument(help="The shop's myshopify.com domain.")],
    since: Annotated[
        datetime,
        typer.Option(help="Push packages shipped at or after this date (UTC unless given)."),
    ],
) -> None:
    """Opt in to pushing packages shipped since a date (earlier ones are only reported)."""
    moment = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> None:
            async with open_pool(runtime) as pool:
                shop, _ = await _load(pool, domain)
                async with pool.acquire() as connection:
                    await set_shop_setting(
                        connection,
                        shop_id=shop.shop_id,
                        key=CUTOVER_SETTING,
                        value=moment.astimezone(UTC).isoformat(),
                    )

        asyncio.run(run())
    console.print(f"[green]{domain} now pushes packages shipped since {moment.isoformat()}[/]")
