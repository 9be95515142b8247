"""The orderly2 scenarios of test_orderly2.py, through pyorderly where its API has them.

The packets are those of tests/server/test_pyorderly.py (a chain with
non-ASCII metadata, a 0-byte and a multi-MiB file), which already checks that
a push and a pull into a file-store root keep every byte. Here: an empty list,
a second push that sends nothing, a pull into an archive root, a search and a
run whose dependency comes from the server, and the errors orderly2 relies on.
pyorderly shows a failure as `<status> Error: <detail>`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import requests

from outpack.hash import hash_bytes
from outpack.root import Root
from tests.clients.conftest import (
    metadata_bytes,
    new_server_root,
    packet_files,
    requests_between,
    serving,
)
from tests.server.conftest import ServerProcess, check_success
from tests.server.test_pyorderly import make_source

pyorderly_run = pytest.importorskip("pyorderly.run")
location = pytest.importorskip("pyorderly.outpack.location")
location_http = pytest.importorskip("pyorderly.outpack.location_http")
location_push = pytest.importorskip("pyorderly.outpack.location_push")
location_pull = pytest.importorskip("pyorderly.outpack.location_pull")
pyorderly_init = pytest.importorskip("pyorderly.outpack.init")
pyorderly_metadata = pytest.importorskip("pyorderly.outpack.metadata")
pyorderly_search = pytest.importorskip("pyorderly.outpack.search")
SearchOptions = pytest.importorskip("pyorderly.outpack.search_options").SearchOptions

REMOTE = SearchOptions(location=["ours"], allow_remote=True, pull_metadata=True)
DOWNSTREAM = """
    import pyorderly
    pyorderly.dependency(None, "latest(name == 'summary')", {"upstream.txt": "summary.txt"})
    pyorderly.artefact("Final", "final.txt")
    with open("final.txt", "w") as f:
        f.write("from the server:\\n" + open("upstream.txt").read())
"""


@dataclass
class Pushed:
    server: ServerProcess
    source: Path
    ids: list[str]  # data (seed 1), data (seed 2), big, summary, combine
    unpushed: str  # the same files as ids[1], never pushed
    listed_before: set[str]

    @property
    def chain(self) -> list[str]:
        """`combine` and its dependencies: everything but ids[0]."""
        return self.ids[1:]


def mark(server: ServerProcess, name: str) -> None:
    """A request only to mark a point in the server's access log."""
    requests.get(server.url + "/", headers={"x-request-id": name}, timeout=10)


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    work = tmp_path_factory.mktemp("pyorderly")
    source = work / "source"
    ids = make_source(source)
    unpushed = pyorderly_run.orderly_run("data", parameters={"seed": 2, "n": 8}, root=source)
    with serving(new_server_root(work / "served"), work / "logs") as server:
        location.outpack_location_add("ours", "http", {"url": server.url}, root=source)
        before = pyorderly_search.search("name == 'data'", options=REMOTE, root=source)
        mark(server, "first-push")
        location_push.outpack_location_push(ids[-1], "ours", root=source)
        mark(server, "second-push")
        location_push.outpack_location_push(ids[1:], "ours", root=source)
        mark(server, "second-push-done")
        yield Pushed(server, source, ids, unpushed, before)


def new_root(path: Path, server: ServerProcess, **config: object) -> Path:
    pyorderly_init.outpack_init(path, **config)
    location.outpack_location_add("ours", "http", {"url": server.url}, root=path)
    return path


def test_empty_list_then_push_of_a_chain(pushed: Pushed) -> None:
    assert pushed.listed_before == set()
    sent = requests_between(pushed.server, "first-push", "second-push")
    assert sent.count(("POST", "/packet/{hash}", 200)) == len(pushed.chain)
    listed = check_success(pushed.server.get("/metadata/list").content, "locations.json")
    assert [entry["packet"] for entry in listed] == sorted(pushed.chain)


def test_second_push_sends_nothing(pushed: Pushed) -> None:
    assert requests_between(pushed.server, "second-push", "second-push-done") == [
        ("POST", "/packets/missing", 200),
        ("POST", "/files/missing", 200),
    ]


def test_search_and_non_ascii_metadata_through_the_server(pushed: Pushed, tmp_path: Path) -> None:
    root = new_root(tmp_path / "reader", pushed.server, path_archive=None, use_file_store=True)
    found = pyorderly_search.search(
        "name == 'data' && parameter:label == 'défaut'", options=REMOTE, root=root
    )
    assert found == {pushed.ids[1]}
    meta = pyorderly_metadata.read_metadata_core(root / ".outpack" / "metadata" / pushed.ids[1])
    assert meta.parameters == {"n": 8, "seed": 2, "label": "défaut", "scale": 0.5, "keep": True}
    assert meta.custom is not None
    description = meta.custom["orderly"]["description"]
    assert description["display"] == "Données"


def test_pull_of_a_chain_into_an_archive_root(pushed: Pushed, tmp_path: Path) -> None:
    root = new_root(tmp_path / "archive", pushed.server)
    location_pull.outpack_location_pull_metadata(root=root)
    pulled = location_pull.outpack_location_pull_packet(pushed.ids[-1], recursive=True, root=root)
    assert sorted(pulled) == sorted(pushed.chain)
    for packet_id in pushed.chain:
        assert metadata_bytes(root, packet_id) == metadata_bytes(pushed.source, packet_id)
        assert packet_files(root, packet_id) == packet_files(pushed.source, packet_id)
    data = packet_files(root, pushed.ids[1])
    assert data["empty.txt"] == b""
    assert len(packet_files(root, pushed.ids[2])["blob.bin"]) == 3 * 1024 * 1024 + 17


def test_run_whose_dependency_comes_from_the_server(pushed: Pushed, tmp_path: Path) -> None:
    root = new_root(tmp_path / "downstream", pushed.server)
    (root / "src" / "downstream").mkdir(parents=True)
    (root / "src" / "downstream" / "downstream.py").write_text(textwrap.dedent(DOWNSTREAM))
    packet_id = pyorderly_run.orderly_run("downstream", search_options=REMOTE, root=root)
    meta = orjson.loads(metadata_bytes(root, packet_id))
    assert [dependency["packet"] for dependency in meta["depends"]] == [pushed.ids[3]]
    upstream = packet_files(pushed.source, pushed.ids[3])["summary.txt"]
    produced = packet_files(root, packet_id)
    assert produced["upstream.txt"] == upstream
    assert produced["final.txt"] == b"from the server:\n" + upstream


def test_not_found_errors(pushed: Pushed, tmp_path: Path) -> None:
    absent = str(hash_bytes("sha256", b"on no server"))
    with location_http.OutpackLocationHTTP(pushed.server.url) as driver:
        for packet_id in ["id-missing", "20200101-000000-00000000"]:
            with pytest.raises(requests.HTTPError) as error:
                driver.metadata([packet_id])
            assert str(error.value) == f"404 Error: packet with id '{packet_id}' does not exist"
        for file_hash in ["md5:abc123", absent]:
            file = pyorderly_metadata.PacketFile(path="x", size=0, hash=file_hash)
            with pytest.raises(requests.HTTPError) as error:
                driver.fetch_file(None, file, str(tmp_path / "x"))
            assert str(error.value) == f"404 Error: hash '{file_hash}' not found"


def test_uploads_under_the_wrong_hash_are_refused(pushed: Pushed, tmp_path: Path) -> None:
    served = Root.open(pushed.server.root)
    claimed = str(hash_bytes("sha256", b"not these bytes"))
    upload = tmp_path / "upload"
    upload.write_bytes(b"bytes the server has never seen\n")
    actual = hash_bytes("sha256", upload.read_bytes())
    metadata_path = pushed.source / ".outpack" / "metadata" / pushed.unpushed
    with location_http.OutpackLocationHTTP(pushed.server.url) as driver:
        with pytest.raises(requests.HTTPError) as error:
            driver.push_file(upload, claimed)
        assert str(error.value) == f"400 Error: Expected hash '{claimed}' but found '{actual}'"
        with pytest.raises(requests.HTTPError) as error:
            driver.push_metadata(metadata_path, claimed)
        actual = hash_bytes("sha256", metadata_path.read_bytes())
        assert str(error.value) == f"400 Error: Expected hash '{claimed}' but found '{actual}'"
    assert not served.store.exists(hash_bytes("sha256", upload.read_bytes()))
    assert not served.has_metadata(pushed.unpushed)
    assert pushed.unpushed not in served.location_packet_ids("local")
