"""`outpack search` (alias `outpack query`): find packets with the query language."""

from __future__ import annotations

import argparse
import json
import sys

from outpack.errors import QueryEvaluationError, QueryParseError
from outpack.query import search


def _key_value(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got '{text}'")
    # Numbers, true/false, null and "quoted strings" as JSON; anything else, JSON lists
    # and objects too, is the text as written.
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, (list, dict)):
        value = raw
    return key, value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "search",
        aliases=["query"],
        help="find packets matching a query",
        description=(
            "Print the ids of the packets that match QUERY, one per line, ascending, or "
            "'Found no packets'. Example: outpack search --root . "
            '\'latest(name == "data" && parameter:region == "north")\''
        ),
    )
    parser.add_argument("query", help="the query, e.g. 'latest(name == \"data\")'")
    parser.add_argument("--root", default=".", help="the outpack root (default: %(default)s)")
    parser.add_argument("--name", help="only packets with this name (latest(Q) picks among them)")
    parser.add_argument(
        "--this",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a value for this:KEY (repeatable; VALUE is read as JSON when it parses)",
    )
    parser.add_argument(
        "--environment",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a value for environment:KEY (repeatable)",
    )
    parser.add_argument(
        "--location",
        action="append",
        metavar="NAME",
        help="only packets known at this location (repeatable)",
    )
    parser.add_argument(
        "--unpacked", action="store_true", help="only packets unpacked in this root"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of ids")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        found = search(
            args.root,
            args.query,
            name=args.name,
            this=dict(args.this) if args.this else None,
            environment=dict(args.environment) if args.environment else None,
            locations=args.location,
            unpacked_only=args.unpacked,
        )
    except QueryParseError as err:
        # The message already opens with "Failed to parse query at line L, column C".
        print(err.message, file=sys.stderr)
        return 1
    except QueryEvaluationError as err:
        print(f"Failed to evaluate query\n{err.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(found))
    elif found:
        print("\n".join(found))
    else:
        print("Found no packets")
    return 0
