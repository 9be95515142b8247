"""`GET /search`, the OpenAPI description, and the zip of a packet's files."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from openapi_spec_validator import validate

from outpack.demo import DEMO_PACKETS, DEMO_PACKETS_ORDER
from outpack.hash import Hash
from outpack.root import Root
from outpack.ui import graph, zipstream
from outpack.ui.zipstream import ZipEntry, entry_name, zip_chunks
from tests.server.conftest import AsgiClient

DATA_1, DATA_2, MODEL, REPORT, DATA_3 = DEMO_PACKETS_ORDER
Client = Callable[..., AsgiClient]


def test_search_returns_summaries_newest_first(demo_root: Path, make_client: Client) -> None:
    client = make_client(demo_root)
    body = client.get("/search?query=" + quote('name == "data"') + "&per_page=2").json()
    data = body["data"]
    assert data["total"] == 3 and data["page"] == 1 and data["per_page"] == 2
    assert [p["id"] for p in data["packets"]] == [DATA_3, DATA_2]
    assert data["packets"][1] == {
        "id": DATA_2,
        "name": "data",
        "parameters": {"n": 50, "seed": 2, "region": "south", "clean": False},
        "time": {"start": 1735725660.0, "end": 1735725661.0},
        "display": "Random data (south)",
    }
    second = client.get("/search?query=" + quote('name == "data"') + "&per_page=2&page=2")
    assert [p["id"] for p in second.json()["data"]["packets"]] == [DATA_1]


def test_search_everything_and_usedby(demo_root: Path, make_client: Client) -> None:
    client = make_client(demo_root)
    assert client.get("/search").json()["data"]["total"] == 5
    found = client.get("/search?query=" + quote('uses(latest(name == "model"))')).json()["data"]
    assert [p["id"] for p in found["packets"]] == [REPORT]


def test_search_parse_error_has_message_and_position(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get("/search?query=" + quote("latest(name = 1)"))
    assert response.status == 400
    error = response.json()["errors"][0]
    assert error["error"] == "invalid input parameter"
    assert error["detail"].startswith("Failed to parse query at line 1, column 13:")
    assert error["position"] == {"offset": 12, "line": 1, "column": 13}


@pytest.mark.parametrize("query", ["page=0", "per_page=5000", "page=x"])
def test_search_rejects_bad_paging(demo_root: Path, make_client: Client, query: str) -> None:
    response = make_client(demo_root).get(f"/search?{query}")
    assert response.status == 400


def test_plain_words_are_not_a_query_for_programs(demo_root: Path, make_client: Client) -> None:
    assert make_client(demo_root).get("/search?query=south").status == 400


def test_search_evaluation_error_is_400(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get("/search?query=" + quote('single(name == "data")'))
    assert response.status == 400


def test_openapi_documents_search_and_links_the_ui(demo_root: Path, make_client: Client) -> None:
    document = make_client(demo_root).get("/openapi.json").json()
    validate(document)
    assert "/search" in document["paths"]
    assert document["externalDocs"]["url"] == "/ui/"
    assert not any(path.startswith("/ui") for path in document["paths"])


def _unzip(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_zip_holds_every_file_by_hash(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).get(f"/ui/packet/{MODEL}/zip")
    assert response.status == 200
    assert response.header("content-type") == "application/zip"
    assert response.header("content-length") is None
    assert response.header("content-disposition") == (
        f"attachment; filename=\"model-{MODEL}.zip\"; filename*=UTF-8''model-{MODEL}.zip"
    )
    files = _unzip(response.body)
    metadata = Root.open(demo_root).read_metadata(MODEL)
    assert sorted(files) == sorted(f.path for f in metadata.files)
    for file in metadata.files:
        assert f"sha256:{hashlib.sha256(files[file.path]).hexdigest()}" == file.hash
    expected = next(p for p in DEMO_PACKETS if p.id == MODEL).files
    assert files == dict(expected)


def test_zip_with_a_missing_file_fails_before_sending(demo_root: Path, make_client: Client) -> None:
    root = Root.open(demo_root)
    victim = root.read_metadata(MODEL).files[1]
    root.store.locate(Hash.parse(victim.hash)).unlink()
    response = make_client(demo_root).get(f"/ui/packet/{MODEL}/zip")
    assert response.status == 404
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert b"PK" not in response.body[:2]


def test_zip64_entries_when_files_may_pass_4_gib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files over 2 GiB are too slow to make here: lower the threshold instead,
    # so every entry is written exactly as a huge one would be.
    monkeypatch.setattr(zipstream, "ZIP64_SIZE", 0)
    sources = {}
    for name, data in {"a.txt": b"hello\n" * 1000, "dir/b.bin": bytes(range(256)) * 9000}.items():
        source = tmp_path / name.replace("/", "_")
        source.write_bytes(data)
        sources[name] = ZipEntry(name, source, len(data))
    body = b"".join(zip_chunks(list(sources.values()), 1_700_000_000.0))
    assert body[4:6] == (45).to_bytes(2, "little")  # version needed: Zip64
    files = _unzip(body)
    assert files == {name: entry.source.read_bytes() for name, entry in sources.items()}


def test_zip_is_streamed_in_chunks(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(random.Random(1).randbytes(12 << 20))  # incompressible
    chunks = list(zip_chunks([ZipEntry("big.bin", source, source.stat().st_size)], 0.0))
    assert len(chunks) > 3
    assert max(len(c) for c in chunks) < 3 << 20
    assert _unzip(b"".join(chunks)) == {"big.bin": source.read_bytes()}


def test_zip_entries_stay_inside_the_folder() -> None:
    assert entry_name("dir/sub/file.csv") == "dir/sub/file.csv"
    assert entry_name("../../etc/passwd") == "__/__/etc/passwd"
    assert entry_name("/abs/./x\\..\\y") == "abs/x/__/y"
    assert entry_name("") == "_"


def test_graph_shows_a_few_packets_per_level_and_counts_the_rest() -> None:
    used_by = {"c": [f"d{i}" for i in range(10)]}
    uses = {"c": ["b"], **{d: ["c"] for d in used_by["c"]}}
    layout = graph.layout("c", lambda p: uses.get(p, []), lambda p: used_by.get(p, []))
    levels = sorted({node.level for node in layout.nodes})
    assert levels == [-1, 0, 1]
    assert sum(1 for node in layout.nodes if node.level == 1) == 6
    assert [count for _, _, count in layout.more] == [4]
    assert len(layout.edges) == 1 + 6
    assert all(edge.x1 < edge.x2 for edge in layout.edges)


def test_head_of_the_zip_sends_no_body(demo_root: Path, make_client: Client) -> None:
    response = make_client(demo_root).request("HEAD", f"/ui/packet/{MODEL}/zip")
    assert response.status == 200
    assert response.header("content-type") == "application/zip"
    assert response.body == b""
