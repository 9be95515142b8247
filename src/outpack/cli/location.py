"""`outpack location add|list|remove|rename`: the locations of a root."""

from __future__ import annotations

import argparse
import sys

from outpack.client.locations import (
    LOCATION_TYPES,
    add_location,
    guess_type,
    list_locations,
    remove_location,
    rename_location,
)
from outpack.root import Root


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "location",
        help="add, list, remove or rename the locations packets move to and from",
        description=(
            "Manage the locations in .outpack/config.json, stored as orderly2 and "
            "pyorderly store them, so roots are shared between all three."
        ),
    )
    parser.set_defaults(func=lambda _: _usage(parser))
    actions = parser.add_subparsers(title="actions", metavar="<action>")
    add = actions.add_parser(
        "add",
        help="add a location",
        description=(
            "Add a location: another root on this machine (path; a relative path is "
            "relative to this root), an outpack server (http) or a Packit instance "
            "(packit: its token is read from the environment variable named by "
            "--token-env; only the variable's name is stored)."
        ),
    )
    add.add_argument("name", help="a short name for the location")
    add.add_argument("target", metavar="URL_OR_PATH", help="the server's URL or the root's path")
    add.add_argument(
        "--type", choices=LOCATION_TYPES, help="default: http for http(s):// URLs, else path"
    )
    add.add_argument("--token-env", metavar="VAR", help="packit: the variable holding the token")
    _root_option(add)
    add.set_defaults(func=_add)
    listing = actions.add_parser("list", help="list locations: name, type, path or URL")
    _root_option(listing)
    listing.set_defaults(func=_list)
    remove = actions.add_parser("remove", help="remove a location and the record of what it holds")
    remove.add_argument("name")
    _root_option(remove)
    remove.set_defaults(func=_remove)
    rename = actions.add_parser("rename", help="rename a location")
    rename.add_argument("old")
    rename.add_argument("new")
    _root_option(rename)
    rename.set_defaults(func=_rename)


def _root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=".", help="the outpack root (default: %(default)s)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _add(args: argparse.Namespace) -> int:
    type_ = args.type or guess_type(args.target)
    add_location(Root.open(args.root), args.name, type_, args.target, args.token_env)
    print(f"Added location '{args.name}' ({type_})")
    return 0


def _list(args: argparse.Namespace) -> int:
    for location in list_locations(Root.open(args.root)):
        print("\t".join((location.name, location.type, location.target)).rstrip())
    return 0


def _remove(args: argparse.Namespace) -> int:
    remove_location(Root.open(args.root), args.name)
    print(f"Removed location '{args.name}'")
    return 0


def _rename(args: argparse.Namespace) -> int:
    rename_location(Root.open(args.root), args.old, args.new)
    print(f"Renamed location '{args.old}' to '{args.new}'")
    return 0
