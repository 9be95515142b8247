"""Each upstream fixture root, served by a real server, against every read route."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from outpack.hash import hash_bytes
from outpack.ids import is_packet_id
from tests.server.conftest import ServerProcess, check_failure, check_success
from tests.support import FIXTURE_ROOTS

StartServer = Callable[..., ServerProcess]


def expected_list(path: Path) -> list[dict[str, object]]:
    """What /metadata/list must say, computed straight from the files."""
    outpack_dir = path / ".outpack"
    config = orjson.loads((outpack_dir / "config.json").read_bytes())
    configured = [location["name"] for location in config["location"]]
    present = sorted(p.name for p in (outpack_dir / "location").iterdir() if p.is_dir())
    entries: dict[str, dict[str, object]] = {}
    for name in [*configured, *(n for n in present if n not in configured)]:
        folder = outpack_dir / "location" / name
        for packet_id in sorted(os.listdir(folder)) if folder.is_dir() else []:
            record = orjson.loads((folder / packet_id).read_bytes())
            if not {"packet", "time", "hash"} <= set(record):
                continue  # a broken record is skipped, not a crash
            entries.setdefault(
                packet_id,
                {"packet": record["packet"], "time": record["time"], "hash": record["hash"]},
            )
    return list(entries.values())


def store_files(path: Path) -> dict[str, bytes]:
    files_dir = path / ".outpack" / "files"
    found = {}
    for item in files_dir.rglob("*"):
        if item.is_file():
            algorithm, prefix, rest = item.relative_to(files_dir).parts
            found[f"{algorithm}:{prefix}{rest}"] = item.read_bytes()
    return found


@pytest.mark.parametrize("name", FIXTURE_ROOTS)
def test_every_route_on_fixture(
    name: str, copy_fixture: Callable[[str], Path], start_server: StartServer
) -> None:
    path = copy_fixture(name)
    server = start_server(path)
    metadata_dir = path / ".outpack" / "metadata"
    ids = sorted(p.name for p in metadata_dir.iterdir() if is_packet_id(p.name))
    assert ids

    assert check_success(server.get("/").content, "root.json") == {"schema_version": "0.1.1"}

    listed = check_success(server.get("/metadata/list").content, "locations.json")
    assert listed == expected_list(path)

    # Damaged packets (the bad example's lacks its name) exist for no route.
    documents = {i: orjson.loads((metadata_dir / i).read_bytes()) for i in ids}
    complete = [i for i in ids if "name" in documents[i]]
    joined = "".join(complete).encode()
    assert check_success(server.get("/checksum").content, "hash.json") == str(
        hash_bytes("sha256", joined)
    )
    assert check_success(server.get("/checksum?alg=md5").content) == str(hash_bytes("md5", joined))

    packit = check_success(server.get("/packit/metadata").content, "list.json")
    assert [entry["id"] for entry in packit] == complete
    for entry in packit:
        document = documents[entry["id"]]
        assert entry["name"] == document["name"]
        assert entry["parameters"] == document["parameters"]
        assert entry["custom"] == document.get("custom")
        assert entry["time"] == document["time"]

    for packet_id in ids:
        stored = (metadata_dir / packet_id).read_bytes()
        text = server.get(f"/metadata/{packet_id}/text")
        assert text.status_code == 200
        assert text.headers["content-type"] == "text/plain; charset=utf-8"
        assert text.content == stored
        as_json = server.get(f"/metadata/{packet_id}/json")
        assert check_success(as_json.content) == orjson.loads(stored)

    files = store_files(path)
    for file_hash, content in files.items():
        response = server.get(f"/file/{file_hash}")
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(content))
        assert response.content == content

    absent = "20000101-000000-00000000"
    missing = server.post("/packets/missing", json={"ids": [*ids, absent], "unpacked": False})
    assert check_success(missing.content, "ids.json") == [absent]
    unpacked = (
        set(os.listdir(path / ".outpack" / "location" / "local"))
        if (path / ".outpack" / "location" / "local").is_dir()
        else set()
    )
    missing = server.post("/packets/missing", json={"ids": ids, "unpacked": True})
    assert sorted(check_success(missing.content, "ids.json")) == sorted(set(ids) - unpacked)

    absent_hash = "sha256:" + "f" * 64
    wanted = [absent_hash, *files]
    missing = server.post("/files/missing", json={"hashes": wanted})
    assert check_success(missing.content, "hashes.json") == [absent_hash]

    not_found = server.get(f"/metadata/{absent}/json")
    assert not_found.status_code == 404
    assert check_failure(not_found.content)["detail"] == (
        f"packet with id '{absent}' does not exist"
    )

    metrics = server.get("/metrics").text
    assert f"outpack_server_metadata_total {len(complete)}\n" in metrics
    assert f"outpack_server_files_total {len(files)}\n" in metrics
    assert f"outpack_server_packets_total {len(unpacked)}\n" in metrics


def test_pyorderly_fixture_hashes_are_consistent(
    copy_fixture: Callable[[str], Path], start_server: StartServer
) -> None:
    """For a root written by pyorderly, list hashes are the hashes of the served text."""
    path = copy_fixture("pyorderly-repo")
    server = start_server(path)
    listed = check_success(server.get("/metadata/list").content, "locations.json")
    assert len(listed) == 11
    for entry in listed:
        text = server.get(f"/metadata/{entry['packet']}/text").content
        assert str(hash_bytes("sha256", text)) == entry["hash"]
