"""Administration commands: shops and API tokens."""

import asyncio
from typing import Annotated

import httpx
import typer
from cryptography.fernet import Fernet
from pydantic import ValidationError
from rich.table import Table

from clients.shopify_oauth import OAuthError
from schema.queries.encrypted import rotate_encrypted_columns
from schema.queries.shops import delete_shop, get_shop_by_domain, list_shops
from schema.queries.tokens import insert_token, list_tokens, revoke_token
from service.auth import generate_token, hash_token
from service.cli.context import console, fail, load_settings, open_pool, runtime_for
from service.connect import register_and_connect, request_connect
from service.runtime import redis_from_url
from service.shops import AppKind, ShopRegistration

__all__ = ["keys", "shops", "tokens"]

shops = typer.Typer(help="Connect, list and remove Shopify stores.", no_args_is_help=True)
tokens = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
keys = typer.Typer(help="Encryption keys for secrets at rest.", no_args_is_help=True)


@shops.command("add")
def shops_add(
    domain: Annotated[str, typer.Argument(help="The shop's <name>.myshopify.com domain.")],
    kind: Annotated[AppKind, typer.Option(help="How the shop is connected.")] = AppKind.LEGACY,
    client_secret: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="The app's client secret.")
    ] = "",
    access_token: Annotated[
        str | None, typer.Option(help="Static Admin API token (legacy custom apps).")
    ] = None,
    client_id: Annotated[str | None, typer.Option(help="The app's client id.")] = None,
    app_name: Annotated[str | None, typer.Option(help="App record name (shared by shops).")] = None,
    plan: Annotated[str, typer.Option(help="Shopify plan: sets the API rate limit.")] = "standard",
    timezone: Annotated[str, typer.Option(help="The shop's IANA time zone.")] = "UTC",
) -> None:
    """Register a shop with its app credentials (secrets are stored encrypted).

    --kind custom (a Dev Dashboard app) needs --client-id: dropsync obtains its token through
    the client credentials grant now, and renews it before it expires. --kind legacy needs
    --access-token. Public apps connect through /shopify/install instead.
    """
    try:
        registration = ShopRegistration(
            domain=domain,
            kind=kind,
            app_name=app_name,
            client_id=client_id,
            client_secret=client_secret,
            access_token=access_token,
            plan=plan,
            timezone=timezone,
        )
    except ValidationError as error:
        fail(str(error.errors()[0]["msg"]).removeprefix("Value error, "))
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> int:
            async with (
                open_pool(runtime) as pool,
                pool.acquire() as connection,
                httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0)) as http,
            ):
                shop = await register_and_connect(
                    connection, runtime.secrets, http, settings, registration
                )
            redis = redis_from_url(runtime.redis_url)
            try:
                await request_connect(redis, queue_name=settings.queue_name, shop_id=shop.shop_id)
            finally:
                await redis.aclose(close_connection_pool=True)
            return shop.shop_id

        try:
            shop_id = asyncio.run(run())
        except OAuthError as error:
            fail(str(error), hint="check the app's client id and secret in the Dev Dashboard")
    console.print(
        f"[green]shop {registration.domain} registered with id {shop_id}; "
        "the worker registers webhooks and backfills its orders "
        f"(follow with: dropsync shops sync {registration.domain})[/]"
    )


@shops.command("list")
def shops_list() -> None:
    """List registered shops."""
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> Table:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                records = await list_shops(connection)
            table = Table("id", "domain", "status", "plan", "installed")
            for shop in records:
                table.add_row(
                    str(shop.shop_id), shop.domain, shop.status, shop.plan, str(shop.installed_at)
                )
            return table

        console.print(asyncio.run(run()))


@shops.command("remove")
def shops_remove(
    domain: Annotated[str, typer.Argument(help="The shop's myshopify.com domain.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a shop and erase all of its data (its app record stays for compliance webhooks)."""
    if not yes:
        typer.confirm(f"Erase {domain} and all its data?", abort=True)
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> bool:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                shop = await get_shop_by_domain(connection, domain)
                return shop is not None and await delete_shop(connection, shop.shop_id)

        if not asyncio.run(run()):
            fail(f"no shop {domain}")
    console.print(f"[green]shop {domain} removed[/]")


@tokens.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="Who or what the token is for.")],
    admin: Annotated[bool, typer.Option("--admin", help="See every shop.")] = False,
    shop: Annotated[
        list[int] | None, typer.Option("--shop", help="A shop id in scope (repeatable).")
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="May act, not only read.")] = False,
) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    if not admin and not shop:
        fail("a token needs --admin or at least one --shop")
    token = generate_token()
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> int:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                record = await insert_token(
                    connection,
                    name=name,
                    token_hash=hash_token(token),
                    is_admin=admin,
                    shop_ids=sorted(set(shop or [])),
                    can_write=write,
                )
                return record.token_id

        token_id = asyncio.run(run())
    console.print(f"[green]token {token_id} created; it is shown only this once:[/]")
    typer.echo(token)


@tokens.command("list")
def tokens_list() -> None:
    """List API tokens (never their values)."""
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> Table:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                records = await list_tokens(connection)
            table = Table("id", "name", "scope", "access", "last used", "revoked")
            for record in records:
                scope = "all shops" if record.is_admin else ",".join(map(str, record.shop_ids))
                table.add_row(
                    str(record.token_id),
                    record.name,
                    scope,
                    "read-write" if record.can_write else "read",
                    str(record.last_used_at or "-"),
                    str(record.revoked_at or "-"),
                )
            return table

        console.print(asyncio.run(run()))


@tokens.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke an API token at once."""
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> bool:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                return await revoke_token(connection, token_id)

        if not asyncio.run(run()):
            fail(f"no active token with id {token_id}")
    console.print(f"[green]token {token_id} revoked[/]")


@keys.command("generate")
def keys_generate() -> None:
    """Print a new encryption key (put it first in DROPSYNC_SECRET_KEYS to rotate)."""
    typer.echo(Fernet.generate_key().decode())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret with the first key of DROPSYNC_SECRET_KEYS.

    Rotation: prepend a new key (`dropsync keys generate`), run this, then drop the old key.
    """
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> int:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                return await rotate_encrypted_columns(connection, runtime.secrets)

        count = asyncio.run(run())
    console.print(f"[green]{count} secrets re-encrypted with the first key[/]")
