"""HEAD on every GET route: the status and headers of the GET, and no body.

Requests go over one raw keep-alive connection to a real server process:
after each HEAD answer the next bytes on the wire must be the status line of
the following answer, which proves that not one byte of body was sent.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest

from outpack.hash import hash_bytes
from outpack.root import Root
from tests.server.conftest import (
    SampleRoot,
    ServerProcess,
    check_failure,
    check_success,
    make_sample_root,
)

BIG = bytes(range(256)) * (12 * 1024)  # 3 MiB: far more than one socket buffer
VARYING = {"x-request-id", "date"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SampleRoot, ServerProcess]]:
    sample = make_sample_root(tmp_path_factory.mktemp("head") / "sample")
    big = hash_bytes("sha256", BIG)
    Root.open(sample.path).store.put_bytes(big, BIG)
    sample.files[str(big)] = BIG
    server = ServerProcess(sample.path, tmp_path_factory.mktemp("logs"), "--no-access-log")
    yield sample, server
    server.stop()


def exchange(port: int, requests: list[tuple[str, str, tuple[str, ...]]]) -> list[Answer]:
    """Send the requests pipelined on one connection; parse the answers strictly.

    A HEAD answer and a 304 have no body whatever their Content-Length; any
    other answer has exactly Content-Length bytes. Whatever is left over
    fails the parse.
    """
    lines = []
    for index, (method, target, headers) in enumerate(requests):
        last = index == len(requests) - 1
        head = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
        head.append("Connection: close" if last else "Connection: keep-alive")
        lines.append(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"".join(lines))
        data = b""
        while chunk := sock.recv(1 << 16):
            data += chunk
    answers = []
    for method, _, _ in requests:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"no answer to {method}"
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        assert status_line.startswith("HTTP/1.1 "), status_line
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(status_line.split(" ")[1])
        size = 0 if method == "HEAD" or status == 304 else int(headers["content-length"])
        answers.append(Answer(status, headers, data[:size]))
        data = data[size:]
    assert data == b"", f"bytes left after the last answer: {data[:100]!r}"
    return answers


def targets(sample: SampleRoot) -> list[str]:
    packet_id = sample.ids[0]
    return [
        "/",
        "/metadata/list",
        f"/metadata/{packet_id}/json",
        f"/metadata/{packet_id}/text",
        "/checksum",
        "/checksum?alg=md5",
        "/packit/metadata",
        "/packit/metadata?known_since=0",
        *(f"/file/{file_hash}" for file_hash in sample.files),
        "/openapi.json",
        # Failures too: the same status and headers, still without a body.
        "/metadata/id-missing/json",
        "/metadata/id-missing/text",
        "/file/md5:abc123",
        "/file/sha256:zz",
        "/checksum?alg=crc",
        "/packit/metadata?known_since=soon",
        "/nowhere",
    ]


def test_head_answers_as_get_without_a_body(served: tuple[SampleRoot, ServerProcess]) -> None:
    sample, server = served
    for target in targets(sample):
        get, head, again = exchange(
            server.port, [("GET", target, ()), ("HEAD", target, ()), ("GET", target, ())]
        )
        assert head.status == get.status, target
        assert head.body == b""
        assert int(head.headers["content-length"]) == len(get.body), target
        same = {k: v for k, v in get.headers.items() if k not in VARYING}
        assert {k: v for k, v in head.headers.items() if k not in VARYING} == same, target
        # The connection carried on normally after the HEAD.
        assert (again.status, again.body) == (get.status, get.body), target
        if get.headers["content-type"] == "application/json" and target != "/openapi.json":
            (check_success if get.status == 200 else check_failure)(get.body)


def test_head_of_a_large_file(served: tuple[SampleRoot, ServerProcess]) -> None:
    _, server = served
    target = f"/file/{hash_bytes('sha256', BIG)}"
    heads = exchange(server.port, [("HEAD", target, ())] * 3 + [("GET", target, ())])
    for head in heads[:3]:
        assert head.status == 200
        assert head.headers["content-length"] == str(len(BIG))
        assert head.headers["content-type"] == "application/octet-stream"
    assert heads[3].body == BIG


def test_head_of_metrics(served: tuple[SampleRoot, ServerProcess]) -> None:
    _, server = served
    (head,) = exchange(server.port, [("HEAD", "/metrics", ())])
    assert head.status == 200
    assert head.headers["content-type"] == "text/plain; version=0.0.4"
    assert int(head.headers["content-length"]) > 0
    # HEAD requests are counted under their own method label.
    (get,) = exchange(server.port, [("GET", "/metrics", ())])
    assert b'method="HEAD"' in get.body


@pytest.mark.parametrize("target", ["/metadata/list", "/checksum", "/packit/metadata"])
def test_head_revalidates_with_etags(served: tuple[SampleRoot, ServerProcess], target: str) -> None:
    _, server = served
    (first,) = exchange(server.port, [("HEAD", target, ())])
    etag = first.headers["etag"]
    same, other = exchange(
        server.port,
        [
            ("HEAD", target, (f"If-None-Match: {etag}",)),
            ("HEAD", target, ('If-None-Match: "something-else"',)),
        ],
    )
    assert same.status == 304
    assert same.headers["etag"] == etag
    assert other.status == 200
    assert other.headers["etag"] == etag


@pytest.mark.parametrize(
    ("target", "allow"),
    [
        ("/packets/missing", "POST"),
        ("/files/missing", "POST"),
        (f"/packet/sha256:{'0' * 64}", "POST"),
    ],
)
def test_head_where_there_is_no_get_is_not_allowed(
    served: tuple[SampleRoot, ServerProcess], target: str, allow: str
) -> None:
    _, server = served
    head, get = exchange(server.port, [("HEAD", target, ()), ("GET", target, ())])
    assert (head.status, head.body) == (405, b"")
    assert head.headers["allow"] == allow
    assert get.status == 405
    assert check_failure(get.body)["error"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_list_head_where_get_is_allowed(
    served: tuple[SampleRoot, ServerProcess], method: str
) -> None:
    sample, server = served
    file_target = f"/file/{next(iter(sample.files))}"
    index, file_answer = exchange(server.port, [(method, "/", ()), (method, file_target, ())])
    assert (index.status, index.headers["allow"]) == (405, "GET, HEAD")
    assert (file_answer.status, file_answer.headers["allow"]) == (405, "GET, HEAD, POST")
    assert check_failure(index.body)["error"] == "METHOD_NOT_ALLOWED"


def test_openapi_lists_head_beside_every_get(served: tuple[SampleRoot, ServerProcess]) -> None:
    _, server = served
    (answer,) = exchange(server.port, [("GET", "/openapi.json", ())])
    paths = orjson.loads(answer.body)["paths"]
    for pattern, operations in paths.items():
        assert ("head" in operations) == ("get" in operations), pattern
        if "head" in operations:
            assert set(operations["head"]["responses"]) == set(operations["get"]["responses"])
            for response in operations["head"]["responses"].values():
                assert "content" not in response
