"""Every route, envelope, content type, status and error text, in process."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from urllib.parse import quote

import orjson
import pytest
from openapi_spec_validator import validate as validate_openapi

from outpack.hash import hash_bytes
from outpack.location import LocationRecord
from outpack.packet import create_packet
from outpack.root import Root
from tests.server.conftest import (
    AsgiClient,
    SampleRoot,
    add_location,
    check_failure,
    check_success,
    write_records,
)

MakeClient = Callable[..., AsgiClient]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ABSENT_ID = "20991231-235959-0000ffff"
ABSENT_HASH = "sha256:" + "0" * 64


@pytest.fixture
def client(sample: SampleRoot, make_client: MakeClient) -> AsgiClient:
    return make_client(sample.path)


def failure(client: AsgiClient, method: str, target: str, status: int, **options: object) -> str:
    response = client.request(method, target, **options)  # type: ignore[arg-type]
    assert response.status == status, response.body
    assert response.header("content-type") == "application/json"
    assert UUID.match(response.header("x-request-id") or "")
    return str(check_failure(response.body)["detail"])


def test_index(client: AsgiClient) -> None:
    response = client.get("/")
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert response.header("content-length") == str(len(response.body))
    assert UUID.match(response.header("x-request-id") or "")
    assert check_success(response.body, "root.json") == {"schema_version": "0.1.1"}


def test_request_id_is_echoed_on_success_and_failure(client: AsgiClient) -> None:
    for target in ("/", "/nowhere", "/metadata/bad/json"):
        response = client.get(target, headers=[(b"x-request-id", b"req-42.abc")])
        assert response.header("x-request-id") == "req-42.abc"
    distinct = {client.get("/").header("x-request-id") for _ in range(3)}
    assert len(distinct) == 3


@pytest.mark.parametrize("given", [b"", b"has space", b"x" * 201, "é".encode()])
def test_unsafe_request_ids_are_replaced(client: AsgiClient, given: bytes) -> None:
    response = client.get("/", headers=[(b"x-request-id", given)])
    assert UUID.match(response.header("x-request-id") or "")


def test_metadata_list(sample: SampleRoot, client: AsgiClient) -> None:
    data = check_success(client.get("/metadata/list").body, "locations.json")
    assert [entry["packet"] for entry in data] == sample.ids
    for entry in data:
        assert entry["hash"] == str(hash_bytes("sha256", sample.metadata(entry["packet"])))
        assert isinstance(entry["time"], float)
        assert set(entry) == {"packet", "time", "hash"}


def test_metadata_list_orders_locations_and_lists_each_packet_once(
    sample: SampleRoot, make_client: MakeClient
) -> None:
    a, b, c = sample.ids
    extra = "20231114-221000-0000dddd"
    stray = "20231114-220000-0000eeee"
    remote_hash = str(hash_bytes("sha256", b"remote"))
    add_location(
        sample.path,
        "remote",
        [LocationRecord(b, 1.0, remote_hash), LocationRecord(extra, 2.5, remote_hash)],
    )
    # A location folder that config.json does not mention is listed last.
    write_records(sample.path, "unconfigured", [LocationRecord(stray, 3.0, remote_hash)])
    write_records(sample.path, "unconfigured", [LocationRecord(a, 4.0, remote_hash)])
    data = check_success(make_client(sample.path).get("/metadata/list").body, "locations.json")
    assert [entry["packet"] for entry in data] == [a, b, c, extra, stray]
    by_id = {entry["packet"]: entry for entry in data}
    assert by_id[b]["hash"] == str(hash_bytes("sha256", sample.metadata(b)))
    assert by_id[extra] == {"packet": extra, "time": 2.5, "hash": remote_hash}
    assert by_id[stray]["time"] == 3.0


def test_metadata_json_and_text(sample: SampleRoot, client: AsgiClient) -> None:
    packet_id = sample.ids[0]
    stored = sample.metadata(packet_id)
    as_json = client.get(f"/metadata/{packet_id}/json")
    assert as_json.header("content-type") == "application/json"
    assert check_success(as_json.body) == orjson.loads(stored)
    as_text = client.get(f"/metadata/{packet_id}/text")
    assert as_text.status == 200
    assert as_text.header("content-type") == "text/plain; charset=utf-8"
    assert as_text.header("content-length") == str(len(stored))
    assert as_text.body == stored
    # Served again from the cache, still the same bytes.
    assert client.get(f"/metadata/{packet_id}/text").body == stored


@pytest.mark.parametrize("kind", ["json", "text"])
def test_metadata_errors(client: AsgiClient, kind: str) -> None:
    detail = failure(client, "GET", f"/metadata/{ABSENT_ID}/{kind}", 404)
    assert detail == f"packet with id '{ABSENT_ID}' does not exist"
    # As in the reference, no format check: an id that is not here is not found.
    for absent in ("nope", "id-missing", f"{ABSENT_ID} ", ABSENT_ID.upper()):
        detail = failure(client, "GET", f"/metadata/{quote(absent)}/{kind}", 404)
        assert detail == f"packet with id '{absent}' does not exist"


@pytest.mark.parametrize(
    "target",
    [
        "/metadata/..%2F..%2Fconfig.json/json",
        "/metadata/..%2Fconfig.json/text",
        "/metadata/../text",
        "/metadata/%2E%2E/json",
        "/metadata/%2Fetc%2Fpasswd/text",
        "/metadata/20231114-221320-0000aaaa%00/text",
        "/file/..%2F..%2Fconfig.json",
        "/file/sha256:..%2F..%2F..%2Fconfig.json",
        "/file/%2Fetc%2Fpasswd",
    ],
)
def test_paths_cannot_leave_the_root(client: AsgiClient, target: str) -> None:
    response = client.get(target)
    # Metadata routes check no format (an invalid id is simply not found);
    # a hash that is not well-formed is bad input.
    assert response.status == (404 if target.startswith("/metadata/") else 400), response.body
    assert b"root:" not in response.body and b"core" not in response.body
    check_failure(response.body)


@pytest.mark.parametrize(
    "target",
    ["/metadata/../../config.json/json", "/file/../config.json", "/../.outpack/config.json"],
)
def test_dot_dot_segments_match_no_route(client: AsgiClient, target: str) -> None:
    assert failure(client, "GET", target, 404) == "This route does not exist"


def test_checksum(sample: SampleRoot, client: AsgiClient) -> None:
    joined = "".join(sample.ids).encode()
    assert check_success(client.get("/checksum").body, "hash.json") == str(
        hash_bytes("sha256", joined)
    )
    for algorithm in ("md5", "sha1", "sha384", "sha512"):
        data = check_success(client.get(f"/checksum?alg={algorithm}").body, "hash.json")
        assert data == str(hash_bytes(algorithm, joined))
    assert failure(client, "GET", "/checksum?alg=sha3", 400) == "Invalid hash algorithm 'sha3'"
    assert failure(client, "GET", "/checksum?alg=", 400) == "Invalid hash algorithm ''"


def test_checksum_ignores_names_that_are_not_packet_ids(
    sample: SampleRoot, client: AsgiClient
) -> None:
    before = client.get("/checksum").body
    (sample.path / ".outpack" / "metadata" / "README.txt").write_text("stray")
    (sample.path / ".outpack" / "metadata" / ".20231114-221320-0000aaaa.swp").write_text("x")
    assert client.get("/checksum").body == before


def test_packit_metadata(sample: SampleRoot, client: AsgiClient) -> None:
    data = check_success(client.get("/packit/metadata").body, "list.json")
    assert [entry["id"] for entry in data] == sample.ids
    first = data[0]
    document = orjson.loads(sample.metadata(sample.ids[0]))
    assert first == {
        "id": sample.ids[0],
        "name": "data",
        "parameters": {"n": 2, "x": 0.5, "label": "café", "flag": True},
        "time": document["time"],
        "custom": {"orderly": {"description": {"display": "Data"}}},
    }
    assert data[1]["parameters"] is None and data[1]["custom"] is None


def test_packit_metadata_known_since(sample: SampleRoot, make_client: MakeClient) -> None:
    a, b, c = sample.ids
    # Rewrite the local records with known times (records are normally immutable).
    local = sample.path / ".outpack" / "location" / "local"
    for packet_id, when in ((a, 1_712_345_000.0), (b, 1_712_345_678.0), (c, 1_712_346_000.5)):
        record = orjson.loads((local / packet_id).read_bytes())
        record["time"] = when
        (local / packet_id).write_bytes(orjson.dumps(record))
    client = make_client(sample.path)

    def ids(query: str) -> list[str]:
        body = client.get(f"/packit/metadata?known_since={query}").body
        return [entry["id"] for entry in check_success(body, "list.json")]

    assert ids("1712345678") == [c]  # strictly later
    assert ids("1.712345677E9") == [b, c]  # the form Packit sends
    assert ids("0") == [a, b, c]
    assert ids("2e9") == []
    for bad in ("abc", "", "nan", "inf", "1e999"):
        detail = failure(client, "GET", f"/packit/metadata?known_since={bad}", 400)
        assert "known_since" in detail


def test_file_download(sample: SampleRoot, make_client: MakeClient) -> None:
    for pathsend in (True, False):
        client = make_client(sample.path, pathsend=pathsend)
        for file_hash, content in sample.files.items():
            response = client.get(f"/file/{file_hash}")
            assert response.status == 200
            assert response.body == content
            assert response.header("content-type") == "application/octet-stream"
            assert response.header("content-length") == str(len(content))
            assert response.header("content-disposition") == f'attachment; filename="{file_hash}"'
            assert response.header("content-encoding") is None


def test_large_file_download_without_pathsend_streams(
    new_root: Root, make_client: MakeClient
) -> None:
    content = bytes(range(256)) * (10 * 1024 + 7)  # ~2.5 MiB, not a multiple of the chunk
    file_hash = hash_bytes("sha256", content)
    new_root.store.put_bytes(file_hash, content)
    response = make_client(new_root.path, pathsend=False).get(f"/file/{file_hash}")
    assert response.body == content


def test_file_errors(client: AsgiClient) -> None:
    assert failure(client, "GET", f"/file/{ABSENT_HASH}", 404) == f"hash '{ABSENT_HASH}' not found"
    # Any number of hex digits is well-formed, as in the reference: a digest
    # of the wrong length is simply not found.
    for absent in ("md5:abc123", "sha256:abc", "sha256:0", "sha1:" + "0" * 41):
        assert failure(client, "GET", f"/file/{absent}", 404) == f"hash '{absent}' not found"
    for bad in ("sha256:xyz", "sha256", "sha256:", "nohash", ":00", "sha-256:00"):
        assert failure(client, "GET", f"/file/{bad}", 400) == f"Invalid hash format '{bad}'"
    assert failure(client, "GET", "/file/md6:abcd", 400) == "Invalid hash algorithm 'md6'"


def test_unknown_routes_and_methods(client: AsgiClient) -> None:
    for target in ("/nowhere", "/metadata/list/", "/metadata", "/file/", "//", "/metadata/a/b/c"):
        assert failure(client, "GET", target, 404) == "This route does not exist"
    response = client.request("DELETE", "/")
    assert response.status == 405
    assert response.header("allow") == "GET, HEAD"
    assert check_failure(response.body)["error"] == "METHOD_NOT_ALLOWED"
    assert failure(client, "GET", "/packets/missing", 405)
    assert failure(client, "PUT", "/file/" + ABSENT_HASH, 405)
    response = client.request("BREW", "/file/" + ABSENT_HASH)
    assert response.header("allow") == "GET, HEAD, POST"


def test_packets_missing(sample: SampleRoot, client: AsgiClient) -> None:
    a, b, _ = sample.ids

    def missing(ids: list[str], unpacked: bool) -> list[str]:
        body = orjson.dumps({"ids": ids, "unpacked": unpacked})
        response = client.post("/packets/missing", body=body)
        assert response.status == 200, response.body
        result: list[str] = check_success(response.body, "ids.json")
        return result

    assert missing([a, b], False) == []
    assert missing([ABSENT_ID, a], False) == [ABSENT_ID]
    assert missing([f"  {ABSENT_ID} ", ABSENT_ID, a], True) == [ABSENT_ID]
    assert missing([], True) == []
    # Metadata without an unpacked record: known, but missing when unpacked is asked.
    (sample.path / ".outpack" / "location" / "local" / b).unlink()
    assert missing([a, b], False) == []
    assert missing([a, b], True) == [b]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"unpacked": true}', "missing field 'ids'"),
        (b'{"ids": []}', "missing field 'unpacked'"),
        (b'{"ids": "x", "unpacked": true}', "'ids' must be a list of strings"),
        (b'{"ids": [1], "unpacked": true}', "'ids' must be a list of strings"),
        (b'{"ids": [], "unpacked": "yes"}', "'unpacked' must be true or false"),
        (b'{"ids": ["bad"], "unpacked": false}', "Invalid packet id 'bad'"),
        (b'{"ids": ["../config.json"], "unpacked": true}', "Invalid packet id '../config.json'"),
    ],
)
def test_packets_missing_bad_bodies(client: AsgiClient, body: bytes, expected: str) -> None:
    assert expected in failure(client, "POST", "/packets/missing", 400, body=body)


def test_files_missing(sample: SampleRoot, client: AsgiClient) -> None:
    present = list(sample.files)
    other = "sha256:" + "1" * 64
    hashes = [ABSENT_HASH, present[0], other, present[1].upper().replace("SHA256", "sha256")]
    response = client.post("/files/missing", body=orjson.dumps({"hashes": hashes}))
    assert check_success(response.body, "hashes.json") == [ABSENT_HASH, other]
    many = [ABSENT_HASH] * 300 + present
    response = client.post("/files/missing", body=orjson.dumps({"hashes": many}))
    assert check_success(response.body) == [ABSENT_HASH] * 300


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{", "not valid JSON"),
        (b"{}", "missing field 'hashes'"),
        (b'{"hashes": {}}', "'hashes' must be a list of strings"),
        (b'{"hashes": ["sha256:zz"]}', "Invalid hash format 'sha256:zz'"),
        (b'{"hashes": ["crc:00"]}', "Invalid hash algorithm 'crc'"),
    ],
)
def test_files_missing_bad_bodies(client: AsgiClient, body: bytes, expected: str) -> None:
    assert expected in failure(client, "POST", "/files/missing", 400, body=body)


def test_body_size_limit(sample: SampleRoot, make_client: MakeClient) -> None:
    client = make_client(sample.path, max_body_size=200)
    big = orjson.dumps({"ids": [sample.ids[0]] * 20, "unpacked": True})
    assert len(big) > 200
    response = client.post("/packets/missing", body=big)
    assert response.status == 413
    error = check_failure(response.body)
    assert error["error"] == "PAYLOAD_TOO_LARGE"
    assert "200 bytes" in error["detail"]
    # Without a Content-Length the limit applies as the body arrives.
    response = client.post("/packets/missing", body=[big[:150], big[150:]])
    assert response.status == 413
    small = orjson.dumps({"ids": [sample.ids[0]], "unpacked": True})
    assert client.post("/packets/missing", body=small).status == 200


def test_sees_packets_written_by_others(sample: SampleRoot, client: AsgiClient) -> None:
    before_list = check_success(client.get("/metadata/list").body)
    before_sum = check_success(client.get("/checksum").body)
    before_packit = check_success(client.get("/packit/metadata").body)
    new_id = create_packet(sample.root, "late", {"late.txt": b"late"})
    after_list = check_success(client.get("/metadata/list").body)
    assert [e["packet"] for e in after_list] == [e["packet"] for e in before_list] + [new_id]
    assert check_success(client.get("/checksum").body) != before_sum
    after_packit = check_success(client.get("/packit/metadata").body)
    assert [e["id"] for e in after_packit] == [e["id"] for e in before_packit] + [new_id]
    assert client.get(f"/metadata/{new_id}/text").status == 200


def test_unexpected_errors_are_enveloped_and_logged(
    sample: SampleRoot, client: AsgiClient, caplog: pytest.LogCaptureFixture
) -> None:
    packet_id = sample.ids[0]
    (sample.path / ".outpack" / "metadata" / packet_id).write_bytes(b"{corrupt")
    response = client.get(f"/metadata/{packet_id}/json")
    assert response.status == 500
    assert check_failure(response.body) == {
        "error": "UNKNOWN_ERROR",
        "detail": "Something went wrong",
    }
    request_id = response.header("x-request-id") or ""
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
    # The stored bytes are still served as they are.
    assert client.get(f"/metadata/{packet_id}/text").body == b"{corrupt"


def test_access_log_has_one_line_per_request(client: AsgiClient) -> None:
    client.get("/", headers=[(b"x-request-id", b"trace-1")])
    client.get("/metadata/nope/json")
    client.post("/packets/missing", body=b"[]")
    lines = [orjson.loads(line) for line in client.log]
    assert len(lines) == 3
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in client.log)
    first, second, third = lines
    assert first["request_id"] == "trace-1"
    assert (first["method"], first["route"], first["status"]) == ("GET", "/", 200)
    assert (second["route"], second["path"], second["status"]) == (
        "/metadata/{id}/json",
        "/metadata/nope/json",
        404,
    )
    assert (third["method"], third["route"], third["status"]) == (
        "POST",
        "/packets/missing",
        400,
    )
    for line in lines:
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert UUID.match(line["request_id"]) or line["request_id"] == "trace-1"


def test_metrics(sample: SampleRoot, client: AsgiClient) -> None:
    client.get("/")
    client.get("/")
    client.get(f"/metadata/{sample.ids[0]}/json")
    client.get("/nowhere")
    response = client.get("/metrics")
    assert response.status == 200
    assert response.header("content-type") == "text/plain; version=0.0.4"
    text = response.body.decode()
    assert 'http_requests_total{endpoint="/",method="GET",status="200"} 2' in text
    assert 'http_requests_total{endpoint="/metadata/{id}/json",method="GET",status="200"} 1' in text
    assert 'http_requests_total{endpoint="unmatched",method="GET",status="404"} 1' in text
    assert (
        'http_requests_duration_seconds_bucket{endpoint="/",method="GET",status="200",le="+Inf"} 2'
        in text
    )
    assert 'http_requests_duration_seconds_count{endpoint="/",method="GET",status="200"} 2' in text
    # The scrape itself is in flight while the page is rendered.
    assert 'http_requests_in_flight{endpoint="/metrics",method="GET"} 1' in text
    assert "outpack_server_metadata_total 3\n" in text
    assert "outpack_server_packets_total 3\n" in text
    assert f"outpack_server_files_total {len(sample.files)}\n" in text
    total = sum(len(data) for data in sample.files.values())
    assert f"outpack_server_file_size_bytes_total {total}\n" in text
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes"):
        assert re.search(rf"^{name} [0-9.e+]+$", text, re.MULTILINE)
    sample_line = re.compile(r'^[a-z_]+(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? [-0-9.e+]+$')
    for line in text.splitlines():
        assert line.startswith("#") or sample_line.match(line), line


def test_metrics_method_labels_are_bounded(client: AsgiClient) -> None:
    client.request("FROBNICATE", "/")
    text = client.get("/metrics").body.decode()
    assert 'endpoint="/",method="OTHER",status="405"' in text
    assert "FROBNICATE" not in text


def test_openapi_describes_every_route(client: AsgiClient) -> None:
    response = client.get("/openapi.json")
    assert response.header("content-type") == "application/json"
    document = response.json()
    assert document["openapi"].startswith("3.")
    # Every API route; the browser's HTML pages (/ui/...) are linked as externalDocs.
    routes = {
        route.pattern: route
        for route in client.app.router.routes
        if not route.pattern.startswith("/ui")
    }
    assert set(document["paths"]) == set(routes)
    assert document["externalDocs"]["url"] == "/ui/"
    for pattern, route in routes.items():
        assert set(document["paths"][pattern]) == {m.lower() for m in route.methods}
    # A well-formed OpenAPI 3 document (tools such as schemathesis read it).
    validate_openapi(document)


def test_lifespan_and_websocket_scopes(client: AsgiClient) -> None:
    async def run() -> list[str]:
        sent: list[str] = []
        incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

        async def receive() -> dict[str, str]:
            return incoming.pop(0)

        async def send(message: dict[str, object]) -> None:
            sent.append(str(message["type"]))

        await client.app({"type": "lifespan"}, receive, send)
        await client.app({"type": "websocket", "path": "/"}, receive, send)
        return sent

    assert asyncio.run(run()) == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
        "websocket.close",
    ]
