"""Uploads cut short, over raw sockets to a real server: never a 500, nothing stored.

The client sends part of a `POST /file/<hash>` body (with Content-Length or
chunked), then either closes its side only (SHUT_WR: it can still read the
answer, which must be our 400 envelope) or the whole connection (nobody can
read an answer). Either way nothing reaches the store, the access log and
the server log say what happened, and the server keeps serving.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import orjson
import pytest

from outpack.config import CoreConfig, init_root
from outpack.hash import hash_bytes
from outpack.root import Root
from tests.security.raw_http import RawResponse, parse_response, read_all
from tests.server.conftest import (
    ServerProcess,
    check_failure,
    check_success,
    outpack_files,
    temp_files,
    wait_for,
)

DATA = os.urandom(3 << 20)
TARGET = f"/file/{hash_bytes('sha256', DATA)}"
# How much of the body arrives: nothing, a little, more than one write batch.
SENT = [0, 1000, (2 << 20) + 17]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Root, ServerProcess]]:
    path, _ = init_root(
        tmp_path_factory.mktemp("truncated") / "root",
        CoreConfig(use_file_store=True, require_complete_tree=True),
    )
    server = ServerProcess(path, tmp_path_factory.mktemp("logs"))
    yield Root.open(path), server
    server.stop()


def request_head(request_id: str, chunked: bool, length: int = len(DATA)) -> bytes:
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}"
    return (
        f"POST {TARGET} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: {request_id}\r\n"
        f"{framing}\r\n\r\n"
    ).encode()


def partial_body(sent: int, chunked: bool) -> bytes:
    if not chunked:
        return DATA[:sent]
    if sent == 0:
        return b""
    # One chunk announced for the whole file, cut after `sent` bytes.
    return f"{len(DATA):x}\r\n".encode() + DATA[:sent]


def access_line(server: ServerProcess, request_id: str) -> dict[str, object]:
    found: list[dict[str, object]] = []

    def logged() -> bool:
        found[:] = [line for line in server.access_lines() if line["request_id"] == request_id]
        return bool(found)

    wait_for(logged)
    assert len(found) == 1
    return found[0]


def check_untouched(root: Root, server: ServerProcess, before: dict[str, bytes]) -> None:
    wait_for(lambda: temp_files(root.path) == [])
    assert outpack_files(root.path) == before
    assert not root.store.exists(hash_bytes("sha256", DATA))
    assert server.get("/").status_code == 200
    assert server.process.poll() is None


@pytest.mark.parametrize("sent", SENT)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("close", ["half", "full"])
def test_upload_cut_short_gets_a_400_and_stores_nothing(
    served: tuple[Root, ServerProcess], chunked: bool, sent: int, close: str
) -> None:
    root, server = served
    before = outpack_files(root.path)
    request_id = f"{close}-{uuid.uuid4()}"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request_head(request_id, chunked) + partial_body(sent, chunked))
        if close == "half":
            sock.shutdown(socket.SHUT_WR)
            check_answer(parse_response(read_all(sock)), request_id, chunked, sent)
    # With a full close nobody is left to read the answer; the server gave
    # one all the same, and never a 500.
    line = access_line(server, request_id)
    assert (line["status"], line["route"]) == (400, "/file/{hash}")
    assert f"refused, nothing stored (request id {request_id})" in server.logs()
    check_untouched(root, server, before)


def check_answer(response: RawResponse, request_id: str, chunked: bool, sent: int) -> None:
    assert response.status == 400, response.body
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == request_id
    assert response.headers["connection"] == "close"
    error = check_failure(response.body)
    assert error["error"] == "invalid input parameter"
    assert error["detail"].startswith("Request body truncated: the connection was closed after ")
    if not chunked:
        assert error["detail"].endswith(f"after {sent} of {len(DATA)} bytes")


def test_a_complete_body_then_half_close_is_stored(served: tuple[Root, ServerProcess]) -> None:
    """The whole body arrived: the upload succeeds.

    Granian (hyper, without its half-close option) closes a connection whose
    client shut its side right after a complete request, so the client may
    read no answer at all; when it reads one, it is the 200.
    """
    root, server = served
    data = os.urandom(1 << 20)
    file_hash = hash_bytes("sha256", data)
    request_id = f"whole-{uuid.uuid4()}"
    head = (
        f"POST /file/{file_hash} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: {request_id}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + data)
        sock.shutdown(socket.SHUT_WR)
        answer = read_all(sock)
    if answer:
        response = parse_response(answer)
        assert response.status == 200, response.body
        assert check_success(response.body) is None
    assert access_line(server, request_id)["status"] == 200
    assert root.store.path(file_hash).read_bytes() == data


def test_truncated_json_bodies_get_a_400(served: tuple[Root, ServerProcess]) -> None:
    root, server = served
    before = outpack_files(root.path)
    body = orjson.dumps({"hashes": [str(hash_bytes("sha256", DATA))]})
    head = (
        f"POST /files/missing HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body[:10])
        sock.shutdown(socket.SHUT_WR)
        response = parse_response(read_all(sock))
    assert response.status == 400
    assert check_failure(response.body)["detail"] == (
        f"Request body truncated: the connection was closed after 10 of {len(body)} bytes"
    )
    check_untouched(root, server, before)


def test_no_answer_was_a_500(served: tuple[Root, ServerProcess]) -> None:
    _, server = served
    statuses = {line["status"] for line in server.access_lines()}
    assert statuses and all(isinstance(s, int) and s < 500 for s in statuses)
    assert "Internal server error" not in server.logs()
