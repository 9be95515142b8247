"""A server whose main process is SIGKILLed leaves nothing serving its port.

Granian's supervisor forks the workers; killed outright (the OOM killer,
`kill -9`) it cannot stop them. The workers watch their parent and leave on
their own: 2 s after the kill, nothing accepts connections on the port and no
worker process remains, with a request in flight and an idle keep-alive
connection open, and a new server can take the port at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from outpack.server.parent_watch import (
    SUPERVISOR_PID_ENV,
    supervisor_environment,
    watch_supervisor_from_environment,
)
from tests.server.conftest import ServerProcess, make_sample_root

DEADLINE = 2.0


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_sample_root(tmp_path / "sample").path


@pytest.fixture
def cleanup() -> Iterator[list[int]]:
    """Pids to SIGKILL after the test if they are somehow still running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def busy_connections(port: int) -> list[socket.socket]:
    """A stalled upload and an idle keep-alive connection, both left open."""
    upload = socket.create_connection(("127.0.0.1", port), timeout=10)
    upload.sendall(
        f"POST /file/sha256:{'ab' * 32} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Length: 1000000\r\n\r\n".encode()
        + b"x" * 5000
    )
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    idle.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert idle.recv(100).startswith(b"HTTP/1.1 200")
    return [upload, idle]


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_leave_when_the_supervisor_is_killed(
    root: Path, tmp_path: Path, cleanup: list[int], workers: int
) -> None:
    server = ServerProcess(root, tmp_path / "logs", "--workers", str(workers))
    cleanup.append(server.process.pid)
    children = server.children()
    assert len(children) == workers
    cleanup.extend(children)
    connections = busy_connections(server.port)
    try:
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        killed = time.monotonic()
        while time.monotonic() - killed < DEADLINE:
            if not accepts(server.port) and not any(running(pid) for pid in children):
                break
            time.sleep(0.05)
        assert not accepts(server.port), server.logs()
        assert [pid for pid in children if running(pid)] == [], server.logs()
    finally:
        for connection in connections:
            connection.close()
    logs = server.logs()
    for pid in children:
        assert f"The server's main process (pid {server.process.pid}) is gone: worker {pid}" in logs
    # The port is free for a new server straight away.
    again = ServerProcess(root, tmp_path / "logs-again", port=server.port)
    try:
        assert again.get("/").status_code == 200
    finally:
        again.stop()


def test_a_server_stopped_normally_is_not_affected(
    root: Path, tmp_path: Path, cleanup: list[int]
) -> None:
    server = ServerProcess(root, tmp_path / "logs", "--workers", "2")
    cleanup.extend([server.process.pid, *server.children()])
    assert server.get("/").status_code == 200
    server.stop()
    assert server.process.returncode == 0
    assert "is gone" not in server.logs()


def test_only_workers_of_a_supervisor_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SUPERVISOR_PID_ENV, raising=False)
    assert watch_supervisor_from_environment() is None  # another ASGI server
    monkeypatch.setenv(SUPERVISOR_PID_ENV, "not-a-pid")
    assert watch_supervisor_from_environment() is None
    # The supervisor itself builds no watcher.
    monkeypatch.setenv(SUPERVISOR_PID_ENV, supervisor_environment()[SUPERVISOR_PID_ENV])
    assert watch_supervisor_from_environment() is None
