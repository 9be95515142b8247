"""Packets to push, and clients that push and pull them, for the reliability tests."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from outpack.hash import hash_bytes
from outpack.packet import Dependency, build_metadata
from outpack.root import Root
from tests.server.conftest import ServerProcess
from tests.support import wait_for


@dataclass(frozen=True)
class Packet:
    id: str
    metadata: bytes
    files: dict[str, bytes]  # hash -> contents

    @property
    def hash(self) -> str:
        return str(hash_bytes("sha256", self.metadata))


def new_packet(
    builder: Root, name: str, rng: random.Random, size: int, upstream: str | None
) -> Packet:
    """A packet of three small files, depending on `upstream` (so order matters)."""
    contents = {
        "data.bin": rng.randbytes(rng.randint(size // 2, size)),
        "shared.txt": b"the same in every packet\n",
        "name.txt": name.encode(),
    }
    depends = [Dependency(upstream, f'latest(name == "{name}")', {})] if upstream else []
    metadata = build_metadata(builder, name, contents, depends=depends)
    files = {str(hash_bytes("sha256", data)): data for data in contents.values()}
    packet_id = metadata.split(b'"id":"', 1)[1].split(b'"', 1)[0].decode()
    return Packet(packet_id, metadata, files)


class ServerDown(Exception):  # noqa: N818 - a state, not a failure
    """The request did not get an answer: the connection failed or was cut."""


def post(session: requests.Session, url: str, body: bytes, timeout: float = 10.0) -> None:
    """POST and require 200; ServerDown if no answer arrived at all."""
    try:
        response = session.post(url, data=body, timeout=(1.0, timeout))
    except (requests.ConnectionError, requests.Timeout) as err:
        raise ServerDown(str(err)) from err
    assert response.status_code == 200, (url, response.status_code, response.text[:500])


def push(session: requests.Session, base: str, packet: Packet) -> None:
    """Files first, then the metadata: the order every client uses."""
    for file_hash, data in packet.files.items():
        post(session, f"{base}/file/{file_hash}", data)
    post(session, f"{base}/packet/{packet.hash}", packet.metadata)


def push_until_acknowledged(
    session: requests.Session, base: str, packet: Packet, give_up: float
) -> None:
    """Push again from the start whenever the server vanished mid-way."""
    while True:
        try:
            push(session, base, packet)
            return
        except ServerDown:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.02)


def kill_server(server: ServerProcess) -> None:
    """SIGKILL the server and its workers: no shutdown, no cleanup of any kind."""
    workers = server.children()
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.kill()
    server.process.wait()
    for pid in workers:
        wait_gone(pid)


def gone(pid: int) -> bool:
    """A process that is not our child has exited (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in state


def wait_gone(pid: int) -> None:
    wait_for(lambda: gone(pid), what=f"process {pid} to exit")


@contextlib.contextmanager
def client_threads(count: int, work: Callable[[int], None]) -> Iterator[list[threading.Thread]]:
    """Run `work(n)` in `count` threads; re-raise the first failure when the block ends."""
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            work(n)
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield threads
    finally:
        for thread in threads:
            thread.join(120)
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"
    if failures:
        raise failures[0]
