"""The reference server's answers for ids and hashes that are absent or oddly formed.

orderly2 turns only a 404 into "Some packet ids not found" or "Hash ... not
found at location", so these answers are what a real client depends on
(see "Well-formed ids and hashes" in ../shared/spec/http-api.md). Asked of a
real server process, with the root checked to be untouched afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import orjson
import pytest

from tests.security.raw_http import raw_http
from tests.server.conftest import (
    SampleRoot,
    ServerProcess,
    check_failure,
    check_success,
    make_sample_root,
    outpack_files,
)

ABSENT_ID = "20991231-235959-0000ffff"
HEX64 = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SampleRoot, ServerProcess]]:
    sample = make_sample_root(tmp_path_factory.mktemp("reference") / "sample")
    server = ServerProcess(sample.path, tmp_path_factory.mktemp("logs"), "--no-access-log")
    yield sample, server
    server.stop()


def failure_of(
    server: ServerProcess, method: str, target: str, body: bytes = b""
) -> tuple[int, dict[str, str]]:
    response = raw_http(server.port, method, target, body)
    assert response.headers["content-type"] == "application/json", response.body
    return response.status, check_failure(response.body)


@pytest.mark.parametrize("kind", ["json", "text"])
@pytest.mark.parametrize(
    "packet_id",
    ["id-missing", ABSENT_ID, ABSENT_ID.upper(), f" {ABSENT_ID}", "x", "..", "a b", "é"],
)
def test_any_unknown_id_is_not_found(
    served: tuple[SampleRoot, ServerProcess], kind: str, packet_id: str
) -> None:
    _, server = served
    status, error = failure_of(server, "GET", f"/metadata/{quote(packet_id)}/{kind}")
    assert status == 404
    assert error == {
        "error": "entity not found",
        "detail": f"packet with id '{packet_id}' does not exist",
    }


@pytest.mark.parametrize(
    "file_hash",
    [
        "md5:abc123",
        "sha256:0",
        "sha256:" + HEX64[:-1],
        "sha256:" + HEX64 * 2,
        "sha1:ABCDEF",
        "sha256:" + HEX64.upper(),
    ],
)
def test_a_digest_of_any_length_is_well_formed_and_absent(
    served: tuple[SampleRoot, ServerProcess], file_hash: str
) -> None:
    _, server = served
    status, error = failure_of(server, "GET", f"/file/{file_hash}")
    assert status == 404
    assert error == {"error": "entity not found", "detail": f"hash '{file_hash}' not found"}
    response = server.post("/files/missing", data=orjson.dumps({"hashes": [file_hash]}))
    assert response.status_code == 200
    # The answer echoes what was asked, which the `hashes` schema (full-length
    # digests only) does not describe: only the envelope is checked.
    assert check_success(response.content) == [file_hash]


def test_surrounding_whitespace_is_allowed(served: tuple[SampleRoot, ServerProcess]) -> None:
    sample, server = served
    present, content = next(iter(sample.files.items()))
    response = raw_http(server.port, "GET", f"/file/%20{present}%09")
    assert response.status == 200
    assert response.body == content
    assert response.headers["content-disposition"] == f'attachment; filename="{present}"'
    hashes = [f" {present}", f"{present}\n", "md5:abc123 "]
    response = server.post("/files/missing", data=orjson.dumps({"hashes": hashes}))
    assert check_success(response.content) == ["md5:abc123 "]


@pytest.mark.parametrize(
    ("file_hash", "detail"),
    [
        ("sha256:xyz", "Invalid hash format 'sha256:xyz'"),
        ("sha256:", "Invalid hash format 'sha256:'"),
        ("nohash", "Invalid hash format 'nohash'"),
        ("sha-256:00", "Invalid hash format 'sha-256:00'"),
        ("sha256:0%0A0", "Invalid hash format 'sha256:0\n0'"),
        ("md6:abcd", "Invalid hash algorithm 'md6'"),
    ],
)
def test_malformed_hashes_and_unknown_algorithms_are_bad_input(
    served: tuple[SampleRoot, ServerProcess], file_hash: str, detail: str
) -> None:
    _, server = served
    assert failure_of(server, "GET", f"/file/{file_hash}") == (
        400,
        {"error": "invalid input parameter", "detail": detail},
    )
    text = detail.split("'")[1] if "format" in detail else file_hash
    body = orjson.dumps({"hashes": [text]})
    assert failure_of(server, "POST", "/files/missing", body) == (
        400,
        {"error": "invalid input parameter", "detail": detail},
    )


def test_uploads_still_refuse_a_digest_of_the_wrong_length(
    served: tuple[SampleRoot, ServerProcess],
) -> None:
    sample, server = served
    before = outpack_files(sample.path)
    status, error = failure_of(server, "POST", "/file/md5:abc123", b"content")
    assert status == 400
    assert error["detail"] == "Invalid hash format 'md5:abc123'"
    assert outpack_files(sample.path) == before


def test_the_ids_of_packets_missing_are_still_validated(
    served: tuple[SampleRoot, ServerProcess],
) -> None:
    _, server = served
    body = orjson.dumps({"ids": ["id-missing"], "unpacked": False})
    assert failure_of(server, "POST", "/packets/missing", body) == (
        400,
        {"error": "invalid input parameter", "detail": "Invalid packet id 'id-missing'"},
    )


def test_real_packets_are_still_served(served: tuple[SampleRoot, ServerProcess]) -> None:
    """The loose reading refuses nothing that was served before."""
    sample, server = served
    packet_id = sample.ids[0]
    response = server.get(f"/metadata/{packet_id}/text")
    assert response.content == sample.metadata(packet_id)
