"""Run a simulator standalone: `python -m simulator shopify|suppliers [options]`."""

import argparse
import sys

from simulator.shopify import cli as shopify_cli
from simulator.suppliers.__main__ import main as suppliers_main


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    # The supplier simulator owns its options; hand it everything after its name.
    if arguments[:1] == ["suppliers"]:
        suppliers_main(arguments[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m simulator")
    subcommands = parser.add_subparsers(dest="service", required=True)
    shopify_cli.register(subcommands)
    subcommands.add_parser(
        "suppliers", help="fake CJdropshipping, AliExpress and generic suppliers"
    )
    args = parser.parse_args(arguments)
    args.handler(args)


if __name__ == "__main__":
    main()
