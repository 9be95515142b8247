"""Latency of the server while packets land in a large root.

    python -m benchmarks.import_latency --root /tmp/gen100000 [--packets 1000] [--api-every 10]

Serves the root with the default single worker and keeps two clients polling
on it: one `GET /`, one the three list routes with `If-None-Match` (as Packit
and dashboards poll). First both poll an idle server for `--idle` seconds
(the baseline); then a separate process lands `--packets` packets in the root,
most written straight into it as orderly2 does (files, metadata, location
record) and every `--api-every`-th pushed through the API, while the clients
keep polling. Prints p50/p99/max of each client before and during the import,
how many list answers changed (200) and whether a catalog snapshot was saved
meanwhile. The landed packets are removed again once the server has stopped.

Targets (issue 11): during the import, `GET /` and the polls within 50 ms at
p99 and 500 ms at worst (aim: 10 ms at p99).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import requests

from benchmarks.scale_tools import LISTS, Pushed, push
from benchmarks.server_tools import OutpackServer
from outpack.hash import hash_bytes
from outpack.packet import create_packet
from outpack.root import Root
from outpack.snapshot import snapshot_path


class Poller(threading.Thread):
    """Polls `paths` in turn until stopped, recording (start time, seconds, status)."""

    def __init__(self, url: str, paths: tuple[str, ...], *, conditional: bool) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.paths = paths
        self.conditional = conditional
        self.samples: list[tuple[float, float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        tags: dict[str, str] = {}
        while not self.stopping.is_set():
            for path in self.paths:
                headers = {"If-None-Match": tags[path]} if self.conditional and path in tags else {}
                began = time.monotonic()
                # Timed to the response's headers: how long the server kept the
                # client waiting, not how long 100 MB take to cross the socket.
                with session.get(
                    self.url + path, headers=headers, timeout=600, stream=True
                ) as response:
                    waited = time.monotonic() - began
                    for _ in response.iter_content(1 << 20):
                        pass
                if response.status_code == 200 and "etag" in response.headers:
                    tags[path] = response.headers["etag"]
                self.samples.append((began, waited, response.status_code))


class MemoryWatch(threading.Thread):
    """The largest resident size of the server's process tree, sampled every 0.2 s."""

    def __init__(self, server: OutpackServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.peak = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.2):
            self.peak = max(self.peak, self.server.rss()[1])


def summary(
    samples: list[tuple[float, float, int]], start: float, end: float, status: int | None = None
) -> str:
    chosen = [
        (seconds, answered)
        for began, seconds, answered in samples
        if start <= began < end and status in (None, answered)
    ]
    times = sorted(seconds for seconds, _ in chosen)
    if not times:
        return "no samples"
    changed = sum(1 for _, answered in chosen if answered == 200)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return (
        f"{len(times):6d} requests  p50 {statistics.median(times) * 1000:7.2f} ms  "
        f"p99 {p99 * 1000:7.2f} ms  max {times[-1] * 1000:7.2f} ms  ({changed} answered 200)"
    )


def land(root_path: Path, packets: int, api_every: int, url: str, record: Path) -> None:
    """Write packets into the root (most directly, some through the API); log what to remove."""
    root = Root.open(root_path)
    session = requests.Session()
    landed: list[dict[str, str]] = []
    for number in range(packets):
        if api_every and number % api_every == 0:
            pushed = push(session, url, root, number)
            landed.append({"id": pushed.packet_id, "file": str(pushed.file_hash)})
        else:
            data = f"landed packet {number}\n".encode() + os.urandom(32)
            packet_id = create_packet(root, "landed", {"out.txt": data}, parameters={"n": number})
            landed.append({"id": packet_id, "file": str(hash_bytes(root.hash_algorithm, data))})
    record.write_bytes(orjson.dumps(landed))


def remove_landed(root_path: Path, record: Path) -> None:
    from outpack.hash import Hash  # noqa: PLC0415

    root = Root.open(root_path)
    for entry in orjson.loads(record.read_bytes()):
        Pushed(entry["id"], Hash.parse(entry["file"])).remove_from(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--packets", type=int, default=1000)
    parser.add_argument("--api-every", type=int, default=10, help="push every Nth via the API")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of baseline polling")
    parser.add_argument("--land-worker", nargs=2, metavar=("URL", "RECORD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.land_worker:
        land(
            args.root, args.packets, args.api_every, args.land_worker[0], Path(args.land_worker[1])
        )
        return
    snapshot = snapshot_path(Root.open(args.root))
    with tempfile.TemporaryDirectory() as work:
        record = Path(work) / "landed.json"
        with OutpackServer(args.root, Path(work) / "server.log", "--no-access-log") as server:
            session = requests.Session()
            for path in LISTS:
                session.get(server.url + path, timeout=600).raise_for_status()
            index = Poller(server.url, ("/",), conditional=False)
            lists = Poller(server.url, LISTS, conditional=True)
            index.start()
            lists.start()
            idle_from = time.monotonic()
            time.sleep(args.idle)
            saved_before = snapshot.stat().st_mtime if snapshot.exists() else 0.0
            landing_from = time.monotonic()
            memory = MemoryWatch(server)
            memory.start()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.import_latency",
                    "--root",
                    str(args.root),
                    "--packets",
                    str(args.packets),
                    "--api-every",
                    str(args.api_every),
                    "--land-worker",
                    server.url,
                    str(record),
                ],
                check=True,
            )
            landing_to = time.monotonic()
            time.sleep(1.0)  # the polls that notice the last packets
            index.stopping.set()
            lists.stopping.set()
            memory.stopping.set()
            index.join()
            lists.join()
            memory.join()
            saved_after = snapshot.stat().st_mtime if snapshot.exists() else 0.0
            workers, total = server.rss()
        end = landing_to + 1.0
        print(f"{args.packets} packets landed in {landing_to - landing_from:.1f} s")
        print(f"idle      GET /     {summary(index.samples, idle_from, landing_from)}")
        print(f"idle      lists     {summary(lists.samples, idle_from, landing_from)}")
        print(f"landing   GET /     {summary(index.samples, landing_from, end)}")
        print(f"landing   lists     {summary(lists.samples, landing_from, end)}")
        # A poll that finds its list unchanged is answered from what the worker
        # has (304); one that finds it changed waits for the refresh (200).
        print(f"  of which unchanged  {summary(lists.samples, landing_from, end, 304)}")
        print(f"  of which changed    {summary(lists.samples, landing_from, end, 200)}")
        print(f"snapshot saved during the import: {saved_after > saved_before}")
        print(
            f"server RSS: process tree at most {memory.peak / 2**20:.0f} MB during the import, "
            f"after: worker {workers / 2**20:.0f} MB, process tree {total / 2**20:.0f} MB"
        )
        if record.exists():
            remove_landed(args.root, record)


if __name__ == "__main__":
    main()
