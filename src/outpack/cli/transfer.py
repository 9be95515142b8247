"""`outpack fetch|pull|push|mirror`: move packets between this root and its locations."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from outpack.client import DEFAULT_JOBS, Options, fetch, make_progress, mirror, pull, push
from outpack.root import Root


def _jobs(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("--jobs must be between 1 and 256")
    return value


def _common(parser: argparse.ArgumentParser, *, jobs: bool = True) -> None:
    parser.add_argument("--root", default=".", help="the outpack root (default: %(default)s)")
    if jobs:
        parser.add_argument(
            "--jobs",
            type=_jobs,
            default=DEFAULT_JOBS,
            metavar="N",
            help="parallel transfers (default: %(default)s)",
        )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress (it is shown only on a terminal)"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "fetch",
        help="refresh what each location holds (metadata only)",
        description="Download the metadata of packets new at the locations (default: all).",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="locations to fetch")
    _common(parser)
    parser.set_defaults(func=_fetch)

    parser = subparsers.add_parser(
        "pull",
        help="pull packets matching a query, with their dependencies",
        description=(
            "Fetch the locations' metadata, then download the packets QUERY finds (a query "
            "or packet ids) and everything they depend on. Run again after an interruption "
            "to transfer only what is still missing."
        ),
    )
    parser.add_argument("query", help="e.g. 'latest(name == \"data\")' or a packet id")
    parser.add_argument(
        "--location", action="append", metavar="NAME", help="pull from this location (repeatable)"
    )
    parser.add_argument(
        "--no-recursive",
        dest="recursive",
        action="store_false",
        help="not the dependencies (only for roots not requiring a complete tree)",
    )
    parser.add_argument(
        "--no-fetch", dest="fetch", action="store_false", help="use metadata already fetched"
    )
    _common(parser)
    parser.set_defaults(func=_pull)

    parser = subparsers.add_parser(
        "push",
        help="push packets matching a query, with their dependencies, to a location",
        description="Upload the packets QUERY finds here, and their dependencies.",
    )
    parser.add_argument("query", help="a query or packet ids, among unpacked packets")
    _to_one_location(parser, _push)
    parser = subparsers.add_parser(
        "mirror",
        help="pull everything a location holds",
        description="Fetch a location and pull every packet it holds into this root.",
    )
    _to_one_location(parser, _mirror)


def _to_one_location(
    parser: argparse.ArgumentParser, func: Callable[[argparse.Namespace], int]
) -> None:
    parser.add_argument("--location", required=True, metavar="NAME")
    _common(parser)
    parser.set_defaults(func=func)


def _options(args: argparse.Namespace, **choices: bool) -> Options:
    return Options(jobs=args.jobs, progress=make_progress(args.quiet), **choices)


def _say(args: argparse.Namespace, line: str) -> None:
    if not args.quiet:
        print(line)


def _fetch(args: argparse.Namespace) -> int:
    root = Root.open(args.root)
    for result in fetch(root, args.names, _options(args)):
        _say(args, f"Fetched {result.location}: {result.total} packets, {result.new} new")
    return 0


def _pull(args: argparse.Namespace) -> int:
    result = pull(
        Root.open(args.root),
        args.query,
        args.location,
        _options(args, recursive=args.recursive, fetch_first=args.fetch),
    )
    _say(args, f"Pulled {result.packets} packets ({result.files} files, {result.bytes} bytes)")
    return 0


def _push(args: argparse.Namespace) -> int:
    root = Root.open(args.root)
    result = push(root, args.query, args.location, _options(args))
    _say(args, f"Pushed {result.packets} packets ({result.files} files, {result.bytes} bytes)")
    return 0


def _mirror(args: argparse.Namespace) -> int:
    root = Root.open(args.root)
    result = mirror(root, args.location, _options(args))
    _say(args, f"Mirrored {args.location}: {result.packets} packets new here")
    return 0
