"""Entry point of the `outpack` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from outpack import __version__
from outpack.errors import OutpackError

# Each module defines `register(subparsers)`, which adds its parser and sets
# `func` to a callable taking the parsed arguments and returning an exit code.
COMMAND_MODULES = (
    "outpack.cli.init",
    "outpack.cli.search",
    "outpack.cli.parse",
    "outpack.cli.server",
    "outpack.cli.validate",
    "outpack.cli.location",
    "outpack.cli.transfer",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outpack",
        description=(
            "Store, find and share reproducible analysis results (packets) in an "
            "outpack root: create roots, search them with the outpack query "
            "language, and serve them over HTTP to orderly2, pyorderly and Packit."
        ),
    )
    parser.add_argument("--version", action="version", version=f"outpack {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="<command>")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    try:
        result: int = args.func(args)
    except OutpackError as err:
        print(f"Error: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result
