"""Ingest commands: supplier accounts (`dropsync suppliers ...`) and `dropsync replay`."""

import asyncio
from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from schema.queries.supplier_accounts import (
    delete_supplier_account,
    list_supplier_accounts,
)
from service.cli.context import console, fail, load_settings, open_pool, runtime_for
from service.replay import DeliverySource, ReplayResult, replay_deliveries
from service.runtime import redis_from_url
from service.suppliers import (
    NewSupplierAccount,
    SupplierAccountRegistration,
    SupplierKind,
    register_supplier_account,
    webhook_url,
)

__all__ = ["replay", "suppliers"]

suppliers = typer.Typer(
    help="Add, list and remove supplier accounts (CJ, AliExpress, generic).",
    no_args_is_help=True,
)


@suppliers.command("add")
def suppliers_add(
    name: Annotated[str, typer.Argument(help="A unique name for the account.")],
    kind: Annotated[SupplierKind, typer.Option(help="Which supplier format it sends.")],
    shop: Annotated[
        list[int] | None, typer.Option("--shop", help="A shop id it serves (repeatable).")
    ] = None,
    default_shop: Annotated[
        int | None, typer.Option(help="Shop that keeps unmatched supplier orders.")
    ] = None,
    timezone: Annotated[
        str, typer.Option(help="IANA zone of the supplier's zoneless dates (CJ).")
    ] = "Asia/Shanghai",
    note_attribute: Annotated[
        list[str] | None,
        typer.Option("--note-attribute", help="Order note attribute holding the reference."),
    ] = None,
    webhook_secret: Annotated[
        list[str] | None,
        typer.Option("--webhook-secret", help="generic: whsec_ secret to accept (repeatable)."),
    ] = None,
) -> None:
    """Create a supplier account; its webhook URL and credentials are shown once."""
    try:
        registration = SupplierAccountRegistration(
            kind=kind,
            name=name,
            shop_ids=sorted(set(shop or [])),
            default_shop_id=default_shop,
            timezone=timezone,
            note_attributes=list(note_attribute or []),
            webhook_secrets=list(webhook_secret or []),
        )
    except ValidationError as error:
        fail(str(error.errors()[0]["msg"]).removeprefix("Value error, "))
    if not registration.shop_ids and registration.default_shop_id is None:
        fail("an account needs at least one --shop (or --default-shop)")
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> NewSupplierAccount:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                return await register_supplier_account(connection, runtime.secrets, registration)

        try:
            created = asyncio.run(run())
        except Exception as error:  # noqa: BLE001  (one clear line instead of a traceback)
            fail(f"could not create the account: {error}")
    account = created.account
    console.print(f"[green]supplier account {account.name} created with id {account.account_id}[/]")
    console.print("webhook URL (shown only this once):")
    typer.echo(webhook_url(settings.public_url, account.account_id, created.webhook_token))
    for secret in created.webhook_secrets:
        console.print("Standard Webhooks signing secret (shown only this once):")
        typer.echo(secret)


@suppliers.command("list")
def suppliers_list() -> None:
    """List supplier accounts."""
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> Table:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                accounts = await list_supplier_accounts(connection)
            table = Table(
                "id", "name", "kind", "shops", "default shop", "timezone", "last delivery"
            )
            for account in accounts:
                table.add_row(
                    str(account.account_id),
                    account.name,
                    account.kind,
                    ",".join(map(str, account.shop_ids)),
                    str(account.default_shop_id or "-"),
                    account.timezone,
                    str(account.last_delivery_at or "-"),
                )
            return table

        console.print(asyncio.run(run()))


@suppliers.command("remove")
def suppliers_remove(
    account_id: Annotated[int, typer.Argument(help="The account's id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a supplier account with its stored deliveries and supplier orders."""
    if not yes:
        typer.confirm(f"Remove supplier account {account_id} and its data?", abort=True)
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> bool:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                return await delete_supplier_account(connection, account_id)

        if not asyncio.run(run()):
            fail(f"no supplier account {account_id}")
    console.print(f"[green]supplier account {account_id} removed[/]")


def replay(
    shop: Annotated[int | None, typer.Option(help="Only this shop's deliveries.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Received at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Received before (ISO 8601).")] = None,
    delivery: Annotated[
        list[int] | None, typer.Option("--delivery", help="A delivery id (repeatable).")
    ] = None,
    source: Annotated[
        DeliverySource | None, typer.Option(help="shopify or supplier (default: both).")
    ] = None,
) -> None:
    """Re-apply stored deliveries by shop, time range or id (idempotent)."""
    if shop is None and since is None and not delivery:
        fail("select deliveries with --shop, --since or --delivery")
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> ReplayResult:
            redis = redis_from_url(runtime.redis_url)
            try:
                async with open_pool(runtime) as pool:
                    return await replay_deliveries(
                        pool,
                        redis,
                        queue_name=settings.queue_name,
                        source=source,
                        shop_id=shop,
                        since=since,
                        until=until,
                        delivery_ids=delivery,
                    )
            finally:
                await redis.aclose()
                await redis.connection_pool.disconnect()

        result = asyncio.run(run())
    console.print(
        f"[green]{result.total} deliveries queued again[/] "
        "(the worker applies them; erased payloads are skipped)"
    )
