"""A small demo root to serve: `python -m outpack.demo <path>`.

Five packets of three reports: "data" run with two sets of parameters, a
"model" that depends on one of them, and a "report" that depends on the
model, with a file shared between packets and an empty file. Ids, times and
contents are fixed, so running it again changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outpack.config import CoreConfig, init_root
from outpack.errors import OutpackError
from outpack.metadata import ParameterValue
from outpack.packet import Dependency, create_packet
from outpack.root import Root

LOOKUP = b"code,region\n1,north\n2,south\n3,east\n4,west\n"


@dataclass(frozen=True)
class DemoPacket:
    id: str
    name: str
    files: Mapping[str, bytes]
    parameters: Mapping[str, ParameterValue] | None = None
    depends: Sequence[Dependency] = ()
    custom: Mapping[str, Any] | None = None

    @property
    def start(self) -> float:
        # The id encodes the start time; keeping them consistent keeps "latest" honest.
        return DEMO_START + DEMO_PACKETS_ORDER.index(self.id) * 60.0


DEMO_START = 1_735_725_600.0  # 2025-01-01 10:00:00 UTC
DEMO_PACKETS_ORDER = (
    "20250101-100000-0000a1b2",
    "20250101-100100-0000c3d4",
    "20250101-100200-0000e5f6",
    "20250101-100300-00001a2b",
    "20250101-100400-00003c4d",
)


def _numbers(seed: int, count: int) -> bytes:
    value = seed
    lines = []
    for _ in range(count):
        value = (value * 1103515245 + 12345) % 2**31
        lines.append(f"{value / 2**31:.6f}")
    return ("\n".join(lines) + "\n").encode()


DEMO_PACKETS = (
    DemoPacket(
        DEMO_PACKETS_ORDER[0],
        "data",
        {"data.csv": _numbers(1, 20), "lookup.csv": LOOKUP},
        parameters={"n": 20, "seed": 1, "region": "north", "clean": True},
        custom={"orderly": {"description": {"display": "Random data (north)"}}},
    ),
    DemoPacket(
        DEMO_PACKETS_ORDER[1],
        "data",
        {"data.csv": _numbers(2, 50), "lookup.csv": LOOKUP},
        parameters={"n": 50, "seed": 2, "region": "south", "clean": False},
        custom={"orderly": {"description": {"display": "Random data (south)"}}},
    ),
    DemoPacket(
        DEMO_PACKETS_ORDER[2],
        "model",
        {"input.csv": _numbers(2, 50), "fit.txt": b"slope=0.42\nintercept=1.7\n", "empty.log": b""},
        parameters={"tolerance": 0.001},
        depends=(
            Dependency(
                DEMO_PACKETS_ORDER[1],
                'latest(name == "data" && parameter:region == "south")',
                {"input.csv": "data.csv"},
            ),
        ),
    ),
    DemoPacket(
        DEMO_PACKETS_ORDER[3],
        "report",
        {"fit.txt": b"slope=0.42\nintercept=1.7\n", "report.md": b"# Demo report\n\nAll good.\n"},
        depends=(
            Dependency(DEMO_PACKETS_ORDER[2], 'latest(name == "model")', {"fit.txt": "fit.txt"}),
        ),
        custom={"orderly": {"description": {"display": "Final report", "long": "A demo"}}},
    ),
    DemoPacket(
        DEMO_PACKETS_ORDER[4],
        "data",
        {"data.csv": _numbers(3, 10), "lookup.csv": LOOKUP},
        parameters={"n": 10, "seed": 3, "region": "east", "clean": True},
    ),
)


def create_demo_root(path: str | Path) -> list[str]:
    """Create (or complete) the demo root at `path`; returns the ids it added."""
    root_path, _ = init_root(path, CoreConfig(use_file_store=True, require_complete_tree=True))
    root = Root.open(root_path)
    present = root.unpacked_ids()
    added = []
    for packet in DEMO_PACKETS:
        if packet.id in present:
            continue
        create_packet(
            root,
            packet.name,
            packet.files,
            packet_id=packet.id,
            parameters=packet.parameters,
            depends=packet.depends,
            custom=packet.custom,
            start=packet.start,
        )
        added.append(packet.id)
    return added


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m outpack.demo",
        description="Create a small outpack root with demo packets (idempotent).",
    )
    parser.add_argument("path", help="folder for the demo root (created if missing)")
    args = parser.parse_args(argv)
    try:
        added = create_demo_root(args.path)
    except OutpackError as err:
        print(f"Error: {err.message}", file=sys.stderr)
        return 1
    total = len(DEMO_PACKETS)
    if added:
        print(f"Demo root at '{args.path}': added {len(added)} of {total} packets")
    else:
        print(f"Demo root at '{args.path}' already has all {total} packets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
