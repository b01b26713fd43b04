"""Assemble the `dropsync` command from its parts."""

import typer

from service.cli import admin, run, sync

__all__ = ["app"]

app = typer.Typer(
    help="dropsync: keeps a Shopify store and its dropshipping suppliers in sync.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(run.up)
app.command()(run.serve)
app.command()(run.worker)
app.command()(run.migrate)
admin.shops.command("sync")(sync.shops_sync)
admin.shops.command("backfill")(sync.shops_backfill)
admin.shops.command("cutover")(sync.shops_cutover)
app.add_typer(admin.shops, name="shops")
app.add_typer(admin.tokens, name="tokens")
app.add_typer(admin.keys, name="keys")
