"""Run a simulator standalone: `python -m simulator <service> [options]`."""

from __future__ import annotations

import argparse

from simulator.shopify import cli as shopify_cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator")
    subcommands = parser.add_subparsers(dest="service", required=True)
    shopify_cli.register(subcommands)
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
