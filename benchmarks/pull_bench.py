"""Pulling 1,000 packets with 10,000 files from a local server: outpack vs pyorderly.

    python -m benchmarks.pull_bench [--workdir /tmp/outpack-pull-bench] [--packets 1000]
                                    [--files-per-packet 10] [--jobs 8]

Builds a source root (in /tmp, never in the repository), serves it with
`outpack start-server` on 127.0.0.1, then pulls every packet into an empty
root with `outpack pull` and into another with pyorderly's
`outpack_location_pull_metadata` + `outpack_location_pull_packet` (what its
`orderly_location_pull` does), each in its own process, in the same run.
Prints wall times, the ratio pyorderly / outpack (the machine's noise cancels
out) and each client's peak memory (max RSS of its process).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.server_tools import OutpackServer
from outpack.config import CoreConfig, init_root
from outpack.hash import hash_bytes
from outpack.ids import new_packet_id
from outpack.location import new_location_record
from outpack.packet import build_metadata
from outpack.root import Root

PYORDERLY_PULL = """
import sys
from pyorderly.outpack.location import outpack_location_add
from pyorderly.outpack.location_pull import (
    outpack_location_pull_metadata, outpack_location_pull_packet)
root, url = sys.argv[1], sys.argv[2]
outpack_location_add("srv", "http", {"url": url}, root=root)
outpack_location_pull_metadata(root=root)
ids = sorted(__import__("os").listdir(root + "/.outpack/metadata"))
outpack_location_pull_packet(ids, root=root)
"""


def build_source(path: Path, packets: int, files_per_packet: int) -> None:
    """Packets of distinct files (1-8 KiB), written without fsync: set-up, not the test."""
    rng = random.Random(1)
    init_root(path, CoreConfig(use_file_store=True, require_complete_tree=True))
    root = Root.open(path)
    for index in range(packets):
        files = {
            f"out/{n}.bin": rng.randbytes(rng.randint(1024, 8192)) for n in range(files_per_packet)
        }
        for data in files.values():
            target = root.store.path(hash_bytes("sha256", data))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        start = 1.6e9 + index * 10
        packet_id = new_packet_id(start)
        metadata = build_metadata(root, "bench", files, packet_id=packet_id, start=start)
        root.metadata_path(packet_id).write_bytes(metadata)
        record = new_location_record(packet_id, hash_bytes("sha256", metadata))
        (root.location_dir / "local" / packet_id).write_bytes(record.to_bytes())


def timed_process(command: list[str]) -> tuple[float, int]:
    """Run a command; returns (seconds, peak RSS in bytes) of that process alone."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed with {process.returncode}")
    return elapsed, usage.ru_maxrss * 1024


def fresh_root(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    init_root(path, CoreConfig(use_file_store=True, require_complete_tree=True))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/outpack-pull-bench"))
    parser.add_argument("--packets", type=int, default=1000)
    parser.add_argument("--files-per-packet", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    workdir: Path = args.workdir
    source = workdir / "source"
    if not (source / ".outpack").is_dir():
        began = time.perf_counter()
        build_source(source, args.packets, args.files_per_packet)
        print(f"built {args.packets} packets in {time.perf_counter() - began:.1f}s at {source}")
    with OutpackServer(source, workdir / "server.log", "--no-access-log") as server:
        ours_root = fresh_root(workdir / "ours")
        outpack = [sys.executable, "-m", "outpack"]
        subprocess.run(
            [*outpack, "location", "add", "srv", server.url, "--root", str(ours_root)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        ours, ours_rss = timed_process(
            [*outpack, "pull", "name == 'bench'", "--root", str(ours_root), "--quiet",
             "--jobs", str(args.jobs)]
        )  # fmt: skip
        theirs_root = fresh_root(workdir / "pyorderly")
        theirs, theirs_rss = timed_process(
            [sys.executable, "-c", PYORDERLY_PULL, str(theirs_root), server.url]
        )
    count = len(os.listdir(ours_root / ".outpack" / "location" / "local"))
    same = count == len(os.listdir(theirs_root / ".outpack" / "location" / "local"))
    print(f"packets pulled: {count} (both clients agree: {same})")
    print(f"outpack pull (--jobs {args.jobs}): {ours:.2f}s, peak RSS {ours_rss / 2**20:.0f} MiB")
    print(f"pyorderly pull:            {theirs:.2f}s, peak RSS {theirs_rss / 2**20:.0f} MiB")
    print(f"speed-up: {theirs / ours:.1f}x (target >= 3x)")


if __name__ == "__main__":
    main()
