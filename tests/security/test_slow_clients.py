"""Slow and stalled clients are cut off without holding up anyone else."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from outpack.hash import hash_bytes
from tests.security.raw_http import parse_response, read_all
from tests.server.conftest import (
    SampleRoot,
    ServerProcess,
    check_failure,
    outpack_files,
    temp_files,
    wait_for,
)

StartServer = Callable[..., ServerProcess]
TIMEOUT = 1.5


def others_are_served(server: ServerProcess, until: float) -> int:
    """Serve reads and an upload while a stalled client waits; each must be quick."""
    served = 0
    while time.monotonic() < until:
        began = time.monotonic()
        assert server.get("/metadata/list").status_code == 200
        data = os.urandom(4096)
        assert server.post(f"/file/{hash_bytes('sha256', data)}", data=data).status_code == 200
        assert time.monotonic() - began < 0.5
        served += 1
    return served


def test_stalled_body_times_out(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path, "--body-timeout", str(TIMEOUT))
    data = os.urandom(1 << 20)
    file_hash = hash_bytes("sha256", data)
    head = (
        f"POST /file/{file_hash} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode()
    server.get("/metadata/list")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        stalled.sendall(head + data[:300_000])
        began = time.monotonic()
        wait_for(lambda: temp_files(sample.path) != [])
        assert others_are_served(server, began + TIMEOUT * 0.8) > 0
        answer = parse_response(read_all(stalled))
        waited = time.monotonic() - began
    assert answer.status == 408
    assert answer.headers["connection"] == "close"
    assert check_failure(answer.body)["error"] == "REQUEST_TIMEOUT"
    assert TIMEOUT * 0.9 < waited < TIMEOUT + 5
    wait_for(lambda: temp_files(sample.path) == [])
    assert not sample.root.store.exists(file_hash)
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
        began = time.monotonic()
        assert others_are_served(server, began + 0.7) > 0
        assert read_all(stalled) == b""  # closed without an answer
        assert time.monotonic() - began < 6
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
