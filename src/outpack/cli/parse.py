"""`outpack parse`: show the syntax tree of a query."""

from __future__ import annotations

import argparse
import sys

from outpack.errors import QueryParseError
from outpack.query import parse_query


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="print the syntax tree of a query",
        description=(
            "Parse QUERY and print its syntax tree, in the notation of the Python "
            "outpack_query_parser package (or as JSON)."
        ),
    )
    parser.add_argument("query", help="the query, e.g. 'latest(name == \"data\")'")
    parser.add_argument("--json", action="store_true", help="print the tree as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        node = parse_query(args.query)
    except QueryParseError as err:
        # The message already opens with "Failed to parse query at line L, column C".
        print(err.message, file=sys.stderr)
        return 1
    print(node.to_json() if args.json else repr(node))
    return 0
