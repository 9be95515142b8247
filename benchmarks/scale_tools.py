"""Measurements for scale_bench.py: one server start, CLI searches, mixed traffic."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import requests

from benchmarks.server_tools import OutpackServer
from outpack.hash import Hash, hash_bytes
from outpack.location import LOCAL
from outpack.packet import build_metadata
from outpack.root import Root

QUERIES = {
    "latest by name": 'latest(name == "model_fit")',
    "name && param": 'latest(name == "model_fit" && parameter:region == "north")',
    "param range": 'name == "data" && parameter:year >= 2010',
    "usedby": 'usedby(latest(name == "report"), 2)',
}
LISTS = ("/metadata/list", "/packit/metadata", "/checksum")


@dataclass(frozen=True)
class Pushed:
    packet_id: str
    file_hash: Hash

    def remove_from(self, root: Root) -> None:
        """Take the packet out of a benchmark root again (with its servers stopped)."""
        root.metadata_path(self.packet_id).unlink()
        (root.location_dir / LOCAL / self.packet_id).unlink()
        root.store.path(self.file_hash).unlink()


def push(session: requests.Session, url: str, root: Root, number: int) -> Pushed:
    """Push a new packet of one small file through the API, as a client would."""
    data = f"pushed packet {number}\n".encode() + os.urandom(64)
    file_hash = hash_bytes(root.hash_algorithm, data)
    session.post(f"{url}/file/{file_hash}", data=data, timeout=60).raise_for_status()
    metadata = build_metadata(root, "pushed", {"out.txt": data}, parameters={"n": number})
    packet_hash = hash_bytes(root.hash_algorithm, metadata)
    session.post(f"{url}/packet/{packet_hash}", data=metadata, timeout=60).raise_for_status()
    return Pushed(orjson.loads(metadata)["id"], file_hash)


def drop_snapshot(root: Path) -> None:
    shutil.rmtree(root / ".outpack" / "cache", ignore_errors=True)


def timed_get(
    session: requests.Session, url: str, **headers: str
) -> tuple[float, requests.Response]:
    began = time.perf_counter()
    response = session.get(url, headers=headers, timeout=600)
    elapsed = time.perf_counter() - began
    if response.status_code not in (200, 304):
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed, response


@dataclass
class ServerFigures:
    ready_s: float = 0.0
    first_list_at_s: float = 0.0
    first: dict[str, float] = field(default_factory=dict)
    later: dict[str, float] = field(default_factory=dict)
    not_modified_ms: float = 0.0
    # After one packet is pushed: lists extended by that packet alone.
    after_push: dict[str, float] = field(default_factory=dict)
    rss_mb: float = 0.0
    rss_total_mb: float = 0.0


def measure_server(root: Path, log: Path, repeat: int = 5, *, pushes: int = 0) -> ServerFigures:
    """Start a server, time its first answers and later ones, read its memory.

    With `pushes`, then push that many packets one at a time, timing the list
    answers after each; the packets are removed again once the server stops.
    """
    figures = ServerFigures()
    session = requests.Session()
    with OutpackServer(root, log, "--no-access-log") as server:
        figures.ready_s = server.ready_after
        elapsed, _ = timed_get(session, server.url + "/metadata/list")
        # From process start: readiness (`GET /`) plus the first list itself.
        figures.first_list_at_s = server.ready_after + elapsed
        figures.first["/metadata/list"] = elapsed
        tags = {}
        for path in LISTS:
            if path not in figures.first:
                figures.first[path], _ = timed_get(session, server.url + path)
        for path in LISTS:
            times = []
            for _ in range(repeat):
                elapsed, response = timed_get(session, server.url + path)
                times.append(elapsed)
                tags[path] = response.headers["etag"]
            figures.later[path] = statistics.median(times)
        polls = []
        for _ in range(repeat * 4):
            for path in LISTS:
                elapsed, response = timed_get(
                    session, server.url + path, **{"If-None-Match": tags[path]}
                )
                if response.status_code != 304:
                    raise RuntimeError(f"{path}: expected 304, got {response.status_code}")
                polls.append(elapsed)
        figures.not_modified_ms = statistics.median(polls) * 1000
        workers, total = server.rss()
        figures.rss_mb, figures.rss_total_mb = workers / 2**20, total / 2**20
        opened = Root.open(root)
        pushed: list[Pushed] = []
        after: dict[str, list[float]] = {path: [] for path in LISTS}
        for number in range(pushes):
            pushed.append(push(session, server.url, opened, number))
            for path in LISTS:
                after[path].append(timed_get(session, server.url + path)[0])
        figures.after_push = {
            path: statistics.median(times) for path, times in after.items() if times
        }
    for packet in pushed:
        packet.remove_from(opened)
    return figures


def cli_search(root: Path, query: str) -> float:
    """Wall time of one `outpack search` process, start to exit."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "outpack", "search", "--root", str(root), query],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - began


def in_process_search(root: Path, repeat: int = 20) -> dict[str, float]:
    """Median time of each typical query once the root's index is loaded."""
    from outpack.query import search  # noqa: PLC0415

    search(root, "latest")
    result = {}
    for label, query in QUERIES.items():
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            search(root, query)
            times.append(time.perf_counter() - began)
        result[label] = statistics.median(times)
    return result


def soak(root: Path, log: Path, seconds: float) -> tuple[float, float, int]:
    """RSS (MiB) of the worker before and after `seconds` of mixed traffic; rounds run."""
    session = requests.Session()
    with OutpackServer(root, log, "--no-access-log") as server:
        ids = [
            entry["packet"]
            for entry in session.get(server.url + "/metadata/list", timeout=600).json()["data"]
        ]
        tags: dict[str, str] = {}

        def one_round(number: int) -> None:
            for path in LISTS:
                headers = {"If-None-Match": tags[path]} if number % 2 and path in tags else {}
                _, response = timed_get(session, server.url + path, **headers)
                if response.status_code == 200:
                    tags[path] = response.headers["etag"]
            timed_get(session, f"{server.url}/packit/metadata?known_since={time.time() - 60}")
            for packet_id in ids[number % len(ids) :: max(1, len(ids) // 20)][:20]:
                timed_get(session, f"{server.url}/metadata/{packet_id}/json")
            session.post(
                server.url + "/packets/missing",
                json={"ids": ids[:100], "unpacked": False},
                timeout=600,
            )

        for number in range(10):
            one_round(number)
        before = server.rss()[0] / 2**20
        rounds = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            one_round(rounds)
            rounds += 1
        after = server.rss()[0] / 2**20
    return before, after, rounds
