"""Load: 32 clients pushing and pulling for a minute against a real server.

No request may fail, every pushed packet must be there exactly once, and the
workers' memory must stay flat. The figures (requests/s, p99 latency, worker
RSS) are printed and written to `load.txt` in the test's temporary folder;
nothing asserts on them. Each client does at least MIN_ROUNDS rounds however
slow the machine, so a slow machine makes the test longer, never failed.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import orjson
import pytest
import requests

from outpack.hash import hash_bytes
from outpack.root import Root
from tests.reliability.traffic import Packet, client_threads, new_packet, post
from tests.server.conftest import SampleRoot, ServerProcess, make_sample_root
from tests.support import wait_for

StartServer = Callable[..., ServerProcess]
CLIENTS = 32
SECONDS = float(os.environ.get("OUTPACK_LOAD_SECONDS", "60"))
WARM_UP_ROUNDS = 5
MIN_ROUNDS = 10
MAX_RSS_GROWTH = 50 << 20
# A loop bound as well as a clock: a client can never run away.
MAX_ROUNDS = 100_000
FILE_SIZE = 8 << 10


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    pushed: list[Packet] = field(default_factory=list)


def worker_rss(server: ServerProcess) -> int:
    """Resident memory of the worker processes, in bytes."""
    total = 0
    for pid in server.children():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


class Client:
    """One client: its own session, a mix of pushes and pulls, every answer checked."""

    def __init__(self, base: str, builder: Root, lock: threading.Lock, seed: int) -> None:
        self.base = base
        self.builder = builder
        self.lock = lock
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.known: list[Packet] = []
        self.rounds = 0

    def timed(self, action: Callable[[], None], what: str) -> bool:
        began = time.perf_counter()
        try:
            action()
        except Exception as err:
            self.tally.failures.append(f"{what}: {err!r}"[:300])
            return False
        finally:
            self.tally.latencies.setdefault(what, []).append(time.perf_counter() - began)
        return True

    def get(self, session: requests.Session, path: str) -> bytes:
        response = session.get(self.base + path, timeout=30)
        assert response.status_code == 200, (path, response.status_code)
        return response.content

    def run(self, deadline: float) -> None:
        with requests.Session() as session:
            for _ in range(MAX_ROUNDS):
                if time.monotonic() > deadline and self.rounds >= MIN_ROUNDS:
                    return
                self.round(session)
                self.rounds += 1

    def round(self, session: requests.Session) -> None:
        with self.lock:
            packet = new_packet(self.builder, "load", self.rng, FILE_SIZE, None)
        pushed = all(
            self.timed(partial(post, session, f"{self.base}/file/{file_hash}", data), "push file")
            for file_hash, data in packet.files.items()
        ) and self.timed(
            partial(post, session, f"{self.base}/packet/{packet.hash}", packet.metadata),
            "push packet",
        )
        if pushed:
            self.tally.pushed.append(packet)
            self.known.append(packet)
        if not self.known:
            return
        mine = self.rng.choice(self.known)
        file_hash, data = self.rng.choice(list(mine.files.items()))

        def pull_file() -> None:
            assert self.get(session, f"/file/{file_hash}") == data

        def pull_metadata() -> None:
            assert self.get(session, f"/metadata/{mine.id}/json").startswith(b'{"status"')

        def listing() -> None:
            document = orjson.loads(self.get(session, "/metadata/list"))
            assert document["status"] == "success"

        def missing() -> None:
            body = orjson.dumps({"ids": [p.id for p in self.known[-5:]], "unpacked": False})
            response = session.post(self.base + "/packets/missing", data=body, timeout=30)
            assert response.status_code == 200 and response.json()["data"] == []

        self.timed(pull_file, "pull file")
        self.timed(pull_metadata, "pull metadata")
        if self.rng.random() < 0.1:
            self.timed(listing, "list")
        self.timed(missing, "missing")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@pytest.mark.slow
def test_thirty_two_clients_for_a_minute(tmp_path: Path, start_server: StartServer) -> None:
    sample: SampleRoot = make_sample_root(tmp_path / "root")
    server = start_server(sample.path, "--workers", "2", "--no-access-log")
    builder = Root.open(sample.path)  # only used to build metadata, never written
    lock = threading.Lock()
    clients = [Client(server.url, builder, lock, seed) for seed in range(CLIENTS)]
    began = time.monotonic()
    deadline = began + SECONDS
    with client_threads(CLIENTS, lambda n: clients[n].run(deadline)):
        wait_for(
            lambda: all(client.rounds >= WARM_UP_ROUNDS for client in clients),
            what="the warm-up",
        )
        warmed_up = time.monotonic() - began
        rss_start = worker_rss(server)
    elapsed = time.monotonic() - began
    rss_end = worker_rss(server)

    by_kind: dict[str, list[float]] = {}
    for client in clients:
        for kind, values in client.tally.latencies.items():
            by_kind.setdefault(kind, []).extend(values)
    latencies = [value for values in by_kind.values() for value in values]
    kinds = ", ".join(
        f"{kind} p99 {percentile(values, 0.99) * 1000:.0f} ms" for kind, values in by_kind.items()
    )
    failures = [failure for client in clients for failure in client.tally.failures]
    pushed = [packet for client in clients for packet in client.tally.pushed]
    rate = len(latencies) / elapsed
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    summary = (
        f"load: {CLIENTS} clients, {elapsed:.0f} s, {len(latencies)} requests, "
        f"{rate:.0f} requests/s, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"{len(pushed)} packets pushed, {len(failures)} failures, worker RSS "
        f"{rss_start / 2**20:.1f} MiB at {warmed_up:.0f} s -> {rss_end / 2**20:.1f} MiB at end "
        f"({kinds})"
    )
    print(summary)
    (tmp_path / "load.txt").write_text(summary + "\n")

    assert failures == []
    assert len(pushed) >= CLIENTS * MIN_ROUNDS
    expected = {packet.id for packet in pushed} | set(sample.ids)
    listed = orjson.loads(server.get("/metadata/list").content)["data"]
    counts = Counter(entry["packet"] for entry in listed)
    assert [packet for packet, n in counts.items() if n > 1] == []
    assert set(counts) == expected
    outpack_dir = sample.path / ".outpack"
    assert set((outpack_dir / "metadata").iterdir()) == {
        outpack_dir / "metadata" / packet_id for packet_id in expected
    }
    records = list((outpack_dir / "location" / "local").iterdir())
    assert sorted(path.name for path in records) == sorted(expected)
    root = Root.open(sample.path)
    for packet in pushed:
        assert root.read_location_record("local", packet.id).hash == str(
            hash_bytes("sha256", packet.metadata)
        )
    assert rss_end - rss_start < MAX_RSS_GROWTH, summary
