"""`dropsync suppliers credentials`: the API credentials dropsync polls a supplier with."""

import asyncio
from typing import Annotated

import orjson
import typer

from schema.queries.supplier_poll import store_supplier_api_credentials, supplier_account_secrets
from service.cli.context import console, fail, load_settings, open_pool, runtime_for

__all__ = ["suppliers_credentials"]


def suppliers_credentials(
    name: Annotated[str, typer.Argument(help="The supplier account's name.")],
    access_token: Annotated[str | None, typer.Option(help="CJ: API access token.")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="CJ: API key (renews the access token by itself).")
    ] = None,
    app_key: Annotated[str | None, typer.Option(help="AliExpress: app key.")] = None,
    app_secret: Annotated[str | None, typer.Option(help="AliExpress: app secret.")] = None,
    session: Annotated[
        str | None, typer.Option(help="AliExpress: the buyer account's access token.")
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="CJ: the account's webhook URL, re-registered when CJ goes silent."),
    ] = None,
) -> None:
    """Store (encrypted) the API credentials used to poll the supplier's orders."""
    given = {
        "access_token": access_token,
        "api_key": api_key,
        "app_key": app_key,
        "app_secret": app_secret,
        "session": session,
    }
    updates = {key: value for key, value in given.items() if value}
    if not updates and not webhook_url:
        fail("give at least one credential or --webhook-url")
    settings = load_settings()
    with runtime_for(settings) as runtime:

        async def run() -> None:
            async with open_pool(runtime) as pool, pool.acquire() as connection:
                found = await supplier_account_secrets(connection, name=name)
                if found is None:
                    fail(f"no supplier account {name}", hint="dropsync suppliers list")
                account_id, encrypted = found
                stored = orjson.loads(runtime.secrets.decrypt(encrypted)) if encrypted else {}
                merged = {**(stored if isinstance(stored, dict) else {}), **updates}
                await store_supplier_api_credentials(
                    connection,
                    account_id=account_id,
                    secrets_enc=runtime.secrets.encrypt(orjson.dumps(merged).decode()),
                    webhook_url=webhook_url,
                )

        asyncio.run(run())
    console.print(f"[green]credentials of {name} stored; its orders are polled from now on[/]")
