"""SIGKILL the server again and again while clients upload: nothing acknowledged is lost.

Every kill happens at a random moment with uploads in flight. Clients push
each packet again from the start whenever the server vanished before it
answered; the server's uploads are idempotent, so that is always safe. At
the end the root validates clean and holds every acknowledged packet, byte
for byte.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from outpack.config import CoreConfig, init_root
from outpack.hash import Hash
from outpack.root import Root
from outpack.validate import validate_root
from tests.reliability.traffic import (
    Packet,
    client_threads,
    kill_server,
    new_packet,
    push_until_acknowledged,
)
from tests.server.conftest import ServerProcess, free_port, temp_files
from tests.support import wait_for

KILLS = 55
CLIENTS = 4
FILE_SIZE = 256 << 10


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Every server started; any still running at the end is killed."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            kill_server(server)


@pytest.mark.slow
def test_sigkill_during_concurrent_uploads(
    new_root: Root, tmp_path: Path, servers: list[ServerProcess]
) -> None:
    seed = random.randrange(1 << 32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    builder_path, _ = init_root(
        tmp_path / "builder", CoreConfig(use_file_store=True, require_complete_tree=True)
    )
    builder = Root.open(builder_path)
    acknowledged: dict[str, Packet] = {}
    pushes = [0] * CLIENTS  # acknowledged pushes, per client
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        own = random.Random(seed + n + 1)
        upstream = None
        with requests.Session() as session:
            while not stop.is_set():
                with lock:  # the builder root is shared; building is cheap
                    packet = new_packet(builder, f"chain{n}", own, FILE_SIZE, upstream)
                push_until_acknowledged(session, base, packet, time.monotonic() + 60)
                with lock:
                    acknowledged[packet.id] = packet
                    pushes[n] += 1
                upstream = packet.id

    def start() -> ServerProcess:
        server = ServerProcess(new_root.path, tmp_path / "logs", "--no-access-log", port=port)
        servers.append(server)
        return server

    with client_threads(CLIENTS, client):
        for _ in range(KILLS):
            server = start()
            time.sleep(rng.uniform(0.02, 0.4))  # the kill lands at a random moment
            kill_server(server)
        final = start()
        # Every client finishes what it was pushing and gets one more packet through,
        # and enough packets went through for the checks below to mean something.
        with lock:
            before = list(pushes)
        wait_for(
            lambda: (
                all(now > then for now, then in zip(pushes, before, strict=True))
                and len(acknowledged) > CLIENTS * 5
            ),
            what="every client pushing to the last server",
        )
        stop.set()
    final.stop()

    # Temporary files left behind show kills landing mid-upload; the next
    # start removes them once stale, and they are never in the store.
    cut_off = len(temp_files(new_root.path))
    print(f"{KILLS} kills, {len(acknowledged)} packets acknowledged, {cut_off} uploads cut off")
    assert len(acknowledged) > CLIENTS * 5
    root = Root.open(new_root.path)
    report = validate_root(root)
    assert report.ok, report.problems
    assert report.packets == len(acknowledged)
    for packet in acknowledged.values():
        assert root.read_metadata_bytes(packet.id) == packet.metadata
        assert root.read_location_record("local", packet.id).hash == packet.hash
        for file_hash, data in packet.files.items():
            assert root.store.path(Hash.parse(file_hash)).read_bytes() == data
