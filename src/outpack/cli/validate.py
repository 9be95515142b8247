"""`outpack validate`: check a root for damage."""

from __future__ import annotations

import argparse
import sys

import orjson

from outpack.root import Root
from outpack.validate import validate_root


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a root for missing, stray or corrupt entries",
        description=(
            "Check that every metadata document parses and has the required fields, "
            "that location records match the metadata's hash, that every file of every "
            "unpacked packet is in the store with the right content, that dependencies "
            "of unpacked packets are unpacked, and that nothing stray sits in metadata/ "
            "or location/. Exits 1 if anything is wrong."
        ),
    )
    parser.add_argument("--root", default=".", help="the outpack root (default: %(default)s)")
    parser.add_argument(
        "--quick", action="store_true", help="check stored files' presence and size, not hashes"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = Root.open(args.root)
    report = validate_root(root, quick=args.quick)
    if args.json:
        document = {
            "valid": report.ok,
            "packets": report.packets,
            "location_records": report.records,
            "files": report.files,
            "problems": [problem.as_json() for problem in report.problems],
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for problem in report.problems:
            print(f"{problem.path}: {problem.message}")
        summary = (
            f"{report.packets} packets, {report.records} location records, "
            f"{report.files} files checked"
        )
        if report.ok:
            print(f"Root at '{root.path}' is valid ({summary})")
        else:
            print(f"Found {len(report.problems)} problems ({summary})", file=sys.stderr)
    return 0 if report.ok else 1
