"""Uploads of files and packets, in process: checked, atomic, idempotent, nothing left over."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from outpack.hash import hash_bytes
from outpack.packet import Dependency, build_metadata
from outpack.root import Root
from tests.server.conftest import (
    AsgiClient,
    SampleRoot,
    check_failure,
    check_success,
    outpack_files,
    temp_files,
)

MakeClient = Callable[..., AsgiClient]


@pytest.fixture
def client(new_root: Root, make_client: MakeClient) -> AsgiClient:
    return make_client(new_root.path)


def upload_file(client: AsgiClient, data: bytes | list[bytes], file_hash: str) -> tuple[int, bytes]:
    response = client.post(f"/file/{file_hash}", body=data)
    return response.status, response.body


def test_file_upload_streams_into_the_store(new_root: Root, client: AsgiClient) -> None:
    chunks = [bytes([i]) * 700_000 for i in range(5)]  # several batches, uneven sizes
    data = b"".join(chunks)
    file_hash = hash_bytes("sha256", data)
    status, body = upload_file(client, chunks, str(file_hash))
    assert status == 200
    assert check_success(body, "null-response.json") is None
    assert new_root.store.path(file_hash).read_bytes() == data
    assert temp_files(new_root.path) == []


def test_file_upload_is_idempotent(new_root: Root, client: AsgiClient) -> None:
    data = b"same content"
    file_hash = str(hash_bytes("sha256", data))
    assert upload_file(client, data, file_hash)[0] == 200
    stored = new_root.store.path(hash_bytes("sha256", data))
    before = stored.stat()
    assert upload_file(client, [data[:4], data[4:]], file_hash)[0] == 200
    after = stored.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    # A body that does not match is refused even when the file exists.
    status, body = upload_file(client, b"other", file_hash)
    assert status == 400
    assert check_failure(body)["detail"].startswith(f"Expected hash '{file_hash}' but found")


def test_empty_file_upload(new_root: Root, client: AsgiClient) -> None:
    file_hash = hash_bytes("sha256", b"")
    assert upload_file(client, b"", str(file_hash))[0] == 200
    assert new_root.store.path(file_hash).read_bytes() == b""


def test_other_algorithms_are_checked_with_their_own_hash(client: AsgiClient) -> None:
    data = b"md5 content"
    assert upload_file(client, data, str(hash_bytes("md5", data)))[0] == 200
    status, body = upload_file(client, data, "md5:" + "0" * 32)
    assert status == 400
    actual = hash_bytes("md5", data)
    assert check_failure(body)["detail"] == f"Expected hash 'md5:{'0' * 32}' but found '{actual}'"


@pytest.mark.parametrize(
    ("target", "detail"),
    [
        ("/file/sha256:abc", "Invalid hash format 'sha256:abc'"),
        ("/file/whirlpool:abcd", "Invalid hash algorithm 'whirlpool'"),
        ("/file/..%2F..%2Fconfig.json", "Invalid hash format '../../config.json'"),
    ],
)
def test_file_upload_bad_hash(new_root: Root, client: AsgiClient, target: str, detail: str) -> None:
    before = outpack_files(new_root.path)
    response = client.post(target, body=b"x" * 100)
    assert response.status == 400
    assert check_failure(response.body) == {"error": "invalid input parameter", "detail": detail}
    assert outpack_files(new_root.path) == before


def test_mismatched_upload_leaves_nothing(new_root: Root, client: AsgiClient) -> None:
    before = outpack_files(new_root.path)
    claimed = "sha256:" + "ab" * 32
    data = b"y" * 3_000_000
    status, body = upload_file(client, [data[:1_500_000], data[1_500_000:]], claimed)
    assert status == 400
    actual = hash_bytes("sha256", data)
    assert check_failure(body)["detail"] == f"Expected hash '{claimed}' but found '{actual}'"
    assert outpack_files(new_root.path) == before
    assert temp_files(new_root.path) == []


def test_abandoned_upload_leaves_nothing(new_root: Root, client: AsgiClient) -> None:
    before = outpack_files(new_root.path)
    data = b"z" * 2_500_000
    response = client.request(
        "POST",
        f"/file/{hash_bytes('sha256', data)}",
        body=[data[:1_200_000], data[1_200_000:2_400_000]],
        disconnect=True,
    )
    # The client may still be reading (it may have closed only its side):
    # the app always answers.
    assert response.status == 400
    detail = check_failure(response.body)["detail"]
    assert detail == "Request body truncated: the connection was closed after 2400000 bytes"
    assert response.header("connection") == "close"
    assert outpack_files(new_root.path) == before
    assert temp_files(new_root.path) == []
    assert orjson.loads(client.log[-1])["status"] == 400


def test_short_body_for_declared_length_is_refused(new_root: Root, client: AsgiClient) -> None:
    data = b"declared"
    response = client.post(
        f"/file/{hash_bytes('sha256', data)}",
        body=[data],
        headers=[(b"content-length", b"100")],
    )
    assert response.status == 400
    assert "truncated" in check_failure(response.body)["detail"]
    assert temp_files(new_root.path) == []
    assert not new_root.store.exists(hash_bytes("sha256", data))


def push_packet(
    client: AsgiClient, metadata: bytes, packet_hash: str | None = None
) -> tuple[int, bytes]:
    target = packet_hash or str(hash_bytes("sha256", metadata))
    response = client.post(f"/packet/{target}", body=metadata)
    return response.status, response.body


def test_packet_upload(new_root: Root, client: AsgiClient) -> None:
    files = {"a.txt": b"alpha", "b.txt": b"beta"}
    for data in files.values():
        assert upload_file(client, data, str(hash_bytes("sha256", data)))[0] == 200
    metadata = build_metadata(new_root, "up", files, packet_id="20240102-030405-00001234")
    status, body = push_packet(client, metadata)
    assert status == 200
    assert check_success(body, "null-response.json") is None
    assert new_root.read_metadata_bytes("20240102-030405-00001234") == metadata
    record = new_root.read_location_record("local", "20240102-030405-00001234")
    assert record.hash == str(hash_bytes("sha256", metadata))
    # Idempotent: the first record (and its time) is kept.
    assert push_packet(client, metadata)[0] == 200
    again = new_root.read_location_record("local", "20240102-030405-00001234")
    assert again == record
    listed = check_success(client.get("/metadata/list").body, "locations.json")
    assert listed == [{"packet": record.packet, "time": record.time, "hash": record.hash}]


def test_packet_upload_errors_write_nothing(sample: SampleRoot, make_client: MakeClient) -> None:
    client = make_client(sample.path)
    root = sample.root
    absent_file = b"never uploaded"
    absent_hash = str(hash_bytes("sha256", absent_file))
    dep_id = "20231114-221000-00009999"
    cases: list[tuple[bytes, str | None, str]] = []

    missing_files = build_metadata(
        root, "m", {"x.txt": absent_file}, packet_id="20240101-000000-00000001"
    )
    cases.append(
        (
            missing_files,
            None,
            "Can't import metadata for 20240101-000000-00000001, as files missing: \n "
            + absent_hash,
        )
    )
    missing_deps = build_metadata(
        root,
        "m",
        {},
        packet_id="20240101-000000-00000002",
        depends=[Dependency(dep_id, "latest", {}), Dependency(sample.ids[0], "latest", {})],
    )
    cases.append(
        (
            missing_deps,
            None,
            f"Can't import metadata for 20240101-000000-00000002, as dependencies missing: \n "
            f"{dep_id}",
        )
    )
    good = build_metadata(root, "m", {}, packet_id="20240101-000000-00000003")
    wrong_hash = "sha256:" + "cd" * 32
    cases.append(
        (good, wrong_hash, f"Expected hash '{wrong_hash}' but found '{hash_bytes('sha256', good)}'")
    )
    cases.append((b"\xff\xfe not utf-8", None, "not valid UTF-8"))
    cases.append((b'{"id": "20240101-000000-00000004", "name": ', None, "not valid JSON"))
    cases.append((b"[1, 2]", None, "expected a JSON object"))
    no_name = orjson.loads(good)
    del no_name["name"]
    cases.append((orjson.dumps(no_name), None, "name"))
    bad_id = orjson.loads(good)
    bad_id["id"] = "../../../etc"
    cases.append((orjson.dumps(bad_id), None, "'id'"))
    cases.append((good, "sha256:zz", "Invalid hash format 'sha256:zz'"))

    before = outpack_files(sample.path)
    for body, claimed, expected in cases:
        status, answer = push_packet(client, body, claimed)
        assert status == 400, (body, answer)
        error = check_failure(answer)
        assert error["error"] == "invalid input parameter"
        assert expected in error["detail"], error["detail"]
        assert outpack_files(sample.path) == before
        assert temp_files(sample.path) == []


def test_metadata_body_limit(new_root: Root, make_client: MakeClient) -> None:
    client = make_client(new_root.path, max_body_size=1000)
    metadata = build_metadata(
        new_root, "big", {}, packet_id="20240101-000000-00000005", custom={"x": "y" * 2000}
    )
    status, body = push_packet(client, metadata)
    assert status == 413
    assert check_failure(body)["error"] == "PAYLOAD_TOO_LARGE"
    assert new_root.packet_ids() == []
