"""Damaged packets: every route agrees they do not exist; each is logged once and counted.

Packit compares sha256 over the ids it imported from `/packit/metadata` with
`/checksum`, so a packet one of them counts and the other omits would make it
re-import forever (issue 10, item 3).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from outpack.hash import hash_bytes
from outpack.location import LocationRecord
from outpack.packet import create_packet
from outpack.root import Root
from tests.server.conftest import ServerProcess, check_success, make_sample_root, write_records

StartServer = Callable[..., ServerProcess]
NOT_JSON = "20231115-000000-0000bad1"
NO_NAME = "20231115-000000-0000bad2"


def _damage(path: Path) -> list[str]:
    """Add two damaged packets (with records) and a damaged record; returns the damaged files."""
    metadata = path / ".outpack" / "metadata"
    (metadata / NOT_JSON).write_bytes(b'{"schema_version": "0.1.1", "id": ')
    (metadata / NO_NAME).write_bytes(
        b'{"schema_version":"0.1.1","id":"%s","time":{"start":1,"end":2},'
        b'"parameters":null,"files":[],"depends":[]}' % NO_NAME.encode()
    )
    some_hash = str(hash_bytes("sha256", b"whatever"))
    write_records(
        path,
        "local",
        [LocationRecord(NOT_JSON, 1.0, some_hash), LocationRecord(NO_NAME, 1.0, some_hash)],
    )
    other = path / ".outpack" / "location" / "other"
    other.mkdir()
    (other / "20231115-000000-0000bad3").write_bytes(b"[]")
    return [
        f"metadata/{NOT_JSON}",
        f"metadata/{NO_NAME}",
        "location/other/20231115-000000-0000bad3",
    ]


def _agree(server: ServerProcess, valid: list[str]) -> None:
    listed = check_success(server.get("/metadata/list").content, "locations.json")
    assert sorted({entry["packet"] for entry in listed}) == valid
    packit = check_success(server.get("/packit/metadata").content, "list.json")
    assert [entry["id"] for entry in packit] == valid
    recent = check_success(server.get("/packit/metadata?known_since=0").content, "list.json")
    assert [entry["id"] for entry in recent] == valid
    # What Packit computes from the ids it imported equals what /checksum says.
    expected = str(hash_bytes("sha256", "".join(valid).encode("ascii")))
    assert check_success(server.get("/checksum").content, "hash.json") == expected


def _warnings_naming(server: ServerProcess, damaged: str) -> list[str]:
    return [
        line
        for line in server.logs().splitlines()
        if "WARNING" in line
        and line.rstrip().split(": ", 1)[-1].count(damaged)
        and "Damaged" in line
    ]


def test_a_damaged_root_is_consistent_logged_once_and_counted(
    tmp_path: Path, start_server: StartServer
) -> None:
    sample = make_sample_root(tmp_path / "root")
    damaged = _damage(sample.path)
    server = start_server(sample.path)
    for _ in range(3):
        _agree(server, sample.ids)
    # A push afterwards changes nothing about the damaged ones.
    pushed = create_packet(Root.open(sample.path), "later", {"x.txt": b"x"})
    _agree(server, sorted([*sample.ids, pushed]))
    metrics = server.get("/metrics").text
    assert "outpack_server_damaged_metadata 3\n" in metrics
    assert f"outpack_server_metadata_total {len(sample.ids) + 1}\n" in metrics
    for name in damaged:
        warnings = _warnings_naming(server, name)
        assert len(warnings) == 1, (name, server.logs())
    assert "not valid JSON" in _warnings_naming(server, damaged[0])[0]
    assert "name" in _warnings_naming(server, damaged[1])[0]


def test_the_bad_fixture_is_consistent(
    copy_fixture: Callable[[str], Path], start_server: StartServer
) -> None:
    path = copy_fixture("outpack-bad-example")
    server = start_server(path)
    _agree(server, [])
    assert "outpack_server_damaged_metadata 2\n" in server.get("/metrics").text
    assert len(_warnings_naming(server, "20170818-164847-7574883b")) == 1
    assert len(_warnings_naming(server, "another/20170818-164830-33e0ab01")) == 1
