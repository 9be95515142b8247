"""Uploads and downloads through a real server: streaming, truncation, concurrency."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import requests

from outpack.hash import hash_bytes
from outpack.packet import build_metadata
from outpack.root import Root
from tests.server.conftest import (
    ServerProcess,
    check_failure,
    check_success,
    outpack_files,
    temp_files,
)
from tests.support import wait_for

StartServer = Callable[..., ServerProcess]


@pytest.fixture
def server(new_root: Root, start_server: StartServer) -> ServerProcess:
    return start_server(new_root.path)


def test_chunked_streaming_upload_and_download(new_root: Root, server: ServerProcess) -> None:
    block = os.urandom(1 << 20)
    count = 24
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(block)
    file_hash = f"sha256:{digest.hexdigest()}"

    def body() -> Iterator[bytes]:  # no length known up front: chunked encoding
        for _ in range(count):
            yield block

    response = server.post(f"/file/{file_hash}", data=body())
    assert response.status_code == 200, response.text
    assert check_success(response.content, "null-response.json") is None
    stored = new_root.store.path(hash_bytes("sha256", block * count))
    assert stored.stat().st_size == count * len(block)

    with requests.get(
        server.url + f"/file/{file_hash}",
        headers={"Accept-Encoding": "gzip, br, deflate"},
        stream=True,
        timeout=60,
    ) as download:
        assert download.status_code == 200
        assert download.headers["content-length"] == str(count * len(block))
        assert "content-encoding" not in download.headers
        assert download.headers["content-type"] == "application/octet-stream"
        received = hashlib.sha256()
        for chunk in download.raw.stream(1 << 20, decode_content=False):
            received.update(chunk)
    assert received.hexdigest() == digest.hexdigest()
    assert temp_files(new_root.path) == []


def raw_request(server: ServerProcess, head: bytes, body: bytes, close_after: bool) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body)
        if close_after:
            return b""
        sock.shutdown(socket.SHUT_WR)
        parts = []
        while chunk := sock.recv(65536):
            parts.append(chunk)
        return b"".join(parts)


@pytest.mark.parametrize("chunked", [False, True])
def test_truncated_upload_leaves_nothing(
    new_root: Root, server: ServerProcess, chunked: bool
) -> None:
    before = outpack_files(new_root.path)
    data = os.urandom(3 << 20)
    target = f"/file/{hash_bytes('sha256', data)}"
    sent = data[: 2 << 20]
    if chunked:
        head = f"POST {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        body = f"{len(sent):x}\r\n".encode() + sent + b"\r\n"  # no final 0-length chunk
    else:
        head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        body = sent
    raw_request(server, head, body, close_after=True)
    wait_for(lambda: any(line["status"] == 400 for line in server.access_lines()))
    wait_for(lambda: temp_files(new_root.path) == [])
    assert outpack_files(new_root.path) == before
    # The server is still fine.
    assert server.get("/").status_code == 200


def test_mismatched_upload_over_http(new_root: Root, server: ServerProcess) -> None:
    before = outpack_files(new_root.path)
    claimed = "sha256:" + "0" * 64
    data = os.urandom(5 << 20)
    response = server.post(f"/file/{claimed}", data=data)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    detail = check_failure(response.content)["detail"]
    assert detail == f"Expected hash '{claimed}' but found '{hash_bytes('sha256', data)}'"
    assert outpack_files(new_root.path) == before
    assert temp_files(new_root.path) == []


def test_bad_hash_with_a_large_body_still_gets_an_answer(server: ServerProcess) -> None:
    response = server.post("/file/sha256:nothex", data=os.urandom(4 << 20))
    assert response.status_code == 400
    assert check_failure(response.content)["detail"] == "Invalid hash format 'sha256:nothex'"


def run_together(count: int, action: Callable[[], int]) -> list[int]:
    barrier = threading.Barrier(count)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(action())
        except BaseException as err:  # re-raised below, on the test's thread
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_concurrent_uploads_of_the_same_file_and_packet(
    new_root: Root, start_server: StartServer
) -> None:
    server = start_server(new_root.path, "--workers", "2")
    data = os.urandom(6 << 20)
    file_hash = hash_bytes("sha256", data)
    statuses = run_together(8, lambda: server.post(f"/file/{file_hash}", data=data).status_code)
    assert statuses == [200] * 8
    assert new_root.store.path(file_hash).read_bytes() == data
    assert [h for h in new_root.store.iter_hashes()] == [file_hash]

    packet_id = "20240201-101010-0000beef"
    metadata = build_metadata(new_root, "race", {"big.bin": data}, packet_id=packet_id)
    packet_hash = hash_bytes("sha256", metadata)
    statuses = run_together(
        8, lambda: server.post(f"/packet/{packet_hash}", data=metadata).status_code
    )
    assert statuses == [200] * 8
    assert new_root.packet_ids() == [packet_id]
    assert new_root.location_packet_ids("local") == [packet_id]
    assert new_root.read_metadata_bytes(packet_id) == metadata
    wait_for(lambda: temp_files(new_root.path) == [], what="no temporary files left")


def test_zero_byte_file_round_trip(new_root: Root, server: ServerProcess) -> None:
    empty = hash_bytes("sha256", b"")
    assert server.post(f"/file/{empty}", data=b"").status_code == 200
    response = server.get(f"/file/{empty}")
    assert response.status_code == 200
    assert response.headers["content-length"] == "0"
    assert response.content == b""
