"""`python -m service.cli` runs the `dropsync` command (used by tests and the Dockerfile)."""

from service.cli.main import app

app()
