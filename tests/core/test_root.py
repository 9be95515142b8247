from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from outpack.errors import (
    HashMismatchError,
    InvalidInputError,
    InvalidMetadataError,
    InvalidPacketIdError,
    MissingDependenciesError,
    MissingFilesError,
    PacketNotFoundError,
)
from outpack.hash import hash_bytes
from outpack.packet import Dependency, build_metadata, create_packet
from outpack.root import Root, packet_hash
from tests.support import load_schema_validator

EXAMPLE_IDS = [
    "20170818-164830-33e0ab01",
    "20170818-164847-7574883b",
    "20180220-095832-16a4bbed",
    "20180818-164043-7cdcde4b",
]


def snapshot(root: Root) -> dict[str, bytes]:
    """Every file under .outpack except temporary ones, with contents."""
    return {
        str(path.relative_to(root.outpack_dir)): path.read_bytes()
        for path in sorted(root.outpack_dir.rglob("*"))
        if path.is_file() and root.tmp_dir not in path.parents
    }


def test_reads_outpack_example(copy_fixture: Callable[[str], Path]) -> None:
    root = Root.open(copy_fixture("outpack-example"))
    assert root.packet_ids() == EXAMPLE_IDS
    assert root.location_names() == ["local", "another"]
    assert root.unpacked_ids() == {"20170818-164847-7574883b"}
    assert root.location_packet_ids("another") == [EXAMPLE_IDS[0], EXAMPLE_IDS[2], EXAMPLE_IDS[3]]
    record = root.read_location_record("another", EXAMPLE_IDS[2])
    # The reference's test root records hashes of an older rendering of the
    # metadata, so only the shape can be checked here.
    assert record.hash.startswith("sha256:") and record.packet == EXAMPLE_IDS[2]
    metadata = root.read_metadata(EXAMPLE_IDS[2])
    assert metadata.name == "modup-201707-params1"
    assert metadata.parameters == {
        "disease": "YF",
        "pull_data": True,
        "tolerance": 0.001,
        "size": 10,
    }
    assert metadata.dependency_ids == ("20170818-164043-7cdcde4b",)
    raw = (root.metadata_dir / EXAMPLE_IDS[2]).read_bytes()
    assert root.read_metadata_bytes(EXAMPLE_IDS[2]) == raw


def test_reads_pyorderly_repo(copy_fixture: Callable[[str], Path]) -> None:
    path = copy_fixture("pyorderly-repo")
    expected = json.loads((path / "make_repo.json").read_text())
    root = Root.open(path)
    assert len(root.packet_ids()) == expected["packets"]
    assert root.unpacked_ids() == set(root.packet_ids())
    for name, ids in expected["ids"].items():
        for packet_id in ids:
            assert root.read_metadata(packet_id).name == name
    for packet_id, deps in expected["depends"].items():
        assert list(root.read_metadata(packet_id).dependency_ids) == deps
    for packet_id in root.packet_ids():
        metadata = root.read_metadata(packet_id)
        for file in metadata.files:
            assert root.missing_files([file.hash]) == []
        record = root.read_location_record("local", packet_id)
        assert record.hash == str(packet_hash(root, packet_id))
    assert len(list(root.store.iter_hashes())) == expected["files_in_store"]


def test_bad_example_reports_missing_fields(copy_fixture: Callable[[str], Path]) -> None:
    root = Root.open(copy_fixture("outpack-bad-example"))
    assert root.location_names() == ["another"]
    with pytest.raises(InvalidMetadataError, match="required fields missing: name"):
        root.read_metadata("20170818-164847-7574883b")
    with pytest.raises(InvalidMetadataError, match="required fields missing: packet, time, hash"):
        root.read_location_record("another", "20170818-164830-33e0ab01")


def test_unknown_packet_and_bad_ids(new_root: Root) -> None:
    with pytest.raises(PacketNotFoundError, match="packet with id '20200101-000000-00000000'"):
        new_root.read_metadata_bytes("20200101-000000-00000000")
    for bad in ("../config.json", "20200101-000000-0000000", "", "x/y"):
        with pytest.raises(InvalidPacketIdError):
            new_root.read_metadata_bytes(bad)


def test_missing_packets_and_files(new_root: Root) -> None:
    present = create_packet(new_root, "a", {"x.txt": b"x"})
    absent = "20200101-000000-0000abcd"
    assert new_root.missing_packets([present, f" {absent} ", absent], unpacked=True) == [absent]
    assert new_root.missing_packets([present], unpacked=False) == []
    have, lack = str(hash_bytes("sha256", b"x")), str(hash_bytes("sha256", b"y"))
    assert new_root.missing_files([lack, have]) == [lack]
    with pytest.raises(InvalidPacketIdError):
        new_root.missing_packets(["nope"], unpacked=True)
    with pytest.raises(InvalidInputError, match="Invalid hash format 'nope'"):
        new_root.missing_files(["nope"])


def test_import_packet_writes_exact_bytes_and_record(new_root: Root) -> None:
    files = {"data.csv": b"a,b\n1,2\n", "empty.txt": b""}
    for data in files.values():
        new_root.store.put_bytes(hash_bytes("sha256", data), data)
    metadata = build_metadata(new_root, "data", files, parameters={"n": 1})
    metadata = metadata.replace(b",", b", ")  # bytes that a re-serialiser would change
    digest = hash_bytes("sha256", metadata)
    imported = new_root.import_packet(metadata, str(digest))
    assert (new_root.metadata_dir / imported.id).read_bytes() == metadata
    record_bytes = (new_root.location_dir / "local" / imported.id).read_bytes()
    record = orjson.loads(record_bytes)
    load_schema_validator("outpack", "location.json").validate(record)
    load_schema_validator("outpack", "metadata.json").validate(orjson.loads(metadata))
    assert record["hash"] == str(digest)
    assert record["schema_version"] == "0.1.1"
    # Idempotent: the first record (and its time) is kept.
    new_root.import_packet(metadata, digest)
    assert (new_root.location_dir / "local" / imported.id).read_bytes() == record_bytes


def _import_fails(root: Root, data: bytes, error: type[Exception], match: str) -> None:
    before = snapshot(root)
    with pytest.raises(error, match=match):
        root.import_packet(data, hash_bytes("sha256", data))
    assert snapshot(root) == before
    assert os.listdir(root.tmp_dir) == []


def test_import_rejects_bad_metadata(new_root: Root) -> None:
    good = orjson.loads(build_metadata(new_root, "a", {}))
    _import_fails(new_root, b"{not json", InvalidMetadataError, "not valid JSON")
    _import_fails(new_root, b'{"id": "\xff"}', InvalidMetadataError, "not valid UTF-8")
    _import_fails(new_root, b"[1, 2]", InvalidMetadataError, "expected a JSON object")
    for field in ("id", "name", "time", "files", "depends"):
        broken = {k: v for k, v in good.items() if k != field}
        _import_fails(new_root, orjson.dumps(broken), InvalidMetadataError, field)
    _import_fails(new_root, orjson.dumps({**good, "id": "../../x"}), InvalidMetadataError, "'id'")
    _import_fails(
        new_root,
        orjson.dumps({**good, "parameters": {"x": [1]}}),
        InvalidMetadataError,
        "parameter 'x'",
    )


def test_import_rejects_hash_mismatch(new_root: Root) -> None:
    data = build_metadata(new_root, "a", {})
    before = snapshot(new_root)
    wrong = hash_bytes("sha256", data + b" ")
    with pytest.raises(HashMismatchError, match=f"Expected hash '{wrong}' but found"):
        new_root.import_packet(data, wrong)
    assert snapshot(new_root) == before


def test_import_requires_files_and_dependencies(new_root: Root) -> None:
    files = {"a.txt": b"aaa", "b.txt": b"bbb"}
    data = build_metadata(new_root, "a", files)
    packet_id = orjson.loads(data)["id"]
    hashes = [str(hash_bytes("sha256", v)) for v in files.values()]
    _import_fails(
        new_root,
        data,
        MissingFilesError,
        f"Can't import metadata for {packet_id}, as files missing: \n {hashes[0]},{hashes[1]}",
    )
    dependency = "20200101-000000-0000abcd"
    data = build_metadata(new_root, "b", {}, depends=[Dependency(dependency, "latest")])
    packet_id = orjson.loads(data)["id"]
    _import_fails(
        new_root,
        data,
        MissingDependenciesError,
        f"Can't import metadata for {packet_id}, as dependencies missing: \n {dependency}",
    )


def test_import_refuses_conflicting_metadata_for_same_id(new_root: Root) -> None:
    first = build_metadata(new_root, "a", {}, packet_id="20200101-000000-0000abcd")
    new_root.import_packet(first, hash_bytes("sha256", first))
    second = build_metadata(new_root, "b", {}, packet_id="20200101-000000-0000abcd")
    with pytest.raises(InvalidInputError, match="already exists here with different metadata"):
        new_root.import_packet(second, hash_bytes("sha256", second))
    assert (new_root.metadata_dir / "20200101-000000-0000abcd").read_bytes() == first
