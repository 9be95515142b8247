"""`outpack init`: create an outpack root."""

from __future__ import annotations

import argparse

from outpack.config import CoreConfig, init_root
from outpack.hash import HASH_ALGORITHMS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init",
        help="create a new outpack root",
        description=(
            "Create an outpack root (a .outpack folder with config.json) at PATH. "
            "Files are kept in a content-addressed file store, in a human-readable "
            "archive folder, or both; at least one is required. Running init again "
            "with the same settings does nothing; with different settings it fails."
        ),
    )
    parser.add_argument("path", help="folder to create the root in (created if missing)")
    parser.add_argument(
        "--use-file-store",
        action="store_true",
        help="keep files in the content-addressed store under .outpack/files",
    )
    parser.add_argument(
        "--require-complete-tree",
        action="store_true",
        help="require every dependency of an unpacked packet to be unpacked too",
    )
    parser.add_argument(
        "--path-archive",
        metavar="PATH",
        default=None,
        help="keep unpacked packets under PATH/<name>/<id>/ (relative to the root)",
    )
    parser.add_argument(
        "--hash-algorithm",
        metavar="ALG",
        default="sha256",
        choices=HASH_ALGORITHMS,
        help=f"hash algorithm for the store, one of {', '.join(HASH_ALGORITHMS)} "
        "(default: %(default)s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    core = CoreConfig(
        path_archive=args.path_archive,
        use_file_store=args.use_file_store,
        require_complete_tree=args.require_complete_tree,
        hash_algorithm=args.hash_algorithm,
    )
    root, created = init_root(args.path, core)
    if created:
        print(f"Initialised outpack root at '{root}'")
    else:
        print(f"Outpack root at '{root}' already exists with these settings; nothing to do")
    return 0
