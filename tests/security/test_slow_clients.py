"""Slow and stalled clients are cut off without holding up anyone else."""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from outpack.hash import hash_bytes
from tests.security.raw_http import parse_response, read_all
from tests.server.conftest import (
    SampleRoot,
    ServerProcess,
    check_failure,
    outpack_files,
    temp_files,
)
from tests.support import wait_for

StartServer = Callable[..., ServerProcess]
TIMEOUT = 1.5
# Long enough never to fire while a test serves others beside a stalled client.
NEVER = "600"


def serve_others(server: ServerProcess) -> None:
    """Reads and an upload, each answered in full."""
    for _ in range(3):
        assert server.get("/metadata/list").status_code == 200
        data = os.urandom(4096)
        assert server.post(f"/file/{hash_bytes('sha256', data)}", data=data).status_code == 200


def unanswered(sock: socket.socket) -> bool:
    """Nothing came back on `sock` yet: no answer, and not closed either."""
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable


def stall_upload(sock: socket.socket, data: bytes) -> None:
    """Announce `data` as a file upload, send less than a third of it, then nothing more."""
    head = (
        f"POST /file/{hash_bytes('sha256', data)} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    sock.sendall(head + data[:300_000])


@pytest.mark.parametrize("stalled_part", ["headers", "body"])
def test_others_are_served_while_a_client_stalls(
    sample: SampleRoot, start_server: StartServer, stalled_part: str
) -> None:
    server = start_server(sample.path, "--body-timeout", NEVER, "--header-timeout", NEVER)
    server.get("/metadata/list")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        if stalled_part == "headers":
            stalled.sendall(b"GET /metadata/list HTTP/1.1\r\nHost: x\r\n")
        else:
            stall_upload(stalled, os.urandom(1 << 20))
            wait_for(lambda: temp_files(sample.path) != [], what="the upload to begin")
        serve_others(server)
        assert unanswered(stalled), "the stalled client was answered before the others"
    wait_for(lambda: temp_files(sample.path) == [], what="the cut-off upload cleaned up")
    assert server.get("/").status_code == 200


def test_stalled_body_times_out(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path, "--body-timeout", str(TIMEOUT))
    data = os.urandom(1 << 20)
    server.get("/metadata/list")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        stall_upload(stalled, data)
        began = time.monotonic()
        # Cut off only after the timeout (a lower bound: it holds on any machine).
        answer = parse_response(read_all(stalled))
        waited = time.monotonic() - began
    assert answer.status == 408
    assert answer.headers["connection"] == "close"
    assert check_failure(answer.body)["error"] == "REQUEST_TIMEOUT"
    assert waited > TIMEOUT * 0.9
    wait_for(lambda: temp_files(sample.path) == [], what="the cut-off upload cleaned up")
    assert not sample.root.store.exists(hash_bytes("sha256", data))
    assert server.get("/").status_code == 200


def test_stalled_json_body_times_out(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path, "--body-timeout", str(TIMEOUT))
    server.get("/metadata/list")
    before = outpack_files(sample.path)
    body = orjson.dumps({"ids": sample.ids, "unpacked": False})
    head = (
        f"POST /packets/missing HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        stalled.sendall(head + body[:10])
        answer = parse_response(read_all(stalled))
    assert answer.status == 408
    assert outpack_files(sample.path) == before


def test_stalled_headers_are_cut_off(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path, "--header-timeout", "1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        stalled.sendall(b"GET /metadata/list HTTP/1.1\r\nHost: x\r\n")
        # Closed without an answer, long before the socket's own 30 s timeout.
        assert read_all(stalled) == b""
    assert server.get("/").status_code == 200


def test_refused_request_with_a_stalled_body_still_gets_its_answer(
    sample: SampleRoot, start_server: StartServer, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("reader read reader-token-0123456789\n")
    server = start_server(sample.path, "--body-timeout", str(TIMEOUT), "--token-file", str(tokens))
    head = (
        "POST /file/sha256:" + "0" * 64 + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
        "Authorization: Bearer reader-token-0123456789\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        stalled.sendall(head + b"x" * 100)
        answer = parse_response(read_all(stalled))
    assert answer.status == 403
    assert check_failure(answer.body)["error"] == "FORBIDDEN"
    server.stop()
    assert "Traceback" not in server.logs()
