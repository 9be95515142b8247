"""Our server's bulk routes (`POST /metadata/texts`, `POST /files/contents`) as clients see them."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from outpack.errors import RemoteError
from outpack.framing import FILE_CONTENTS, METADATA_TEXTS, FrameReader, frame_all, split_all
from outpack.root import Root
from tests.client.conftest import ServerProcess, chain_root
from tests.server.conftest import check_failure

StartServer = Callable[..., ServerProcess]


def test_texts_are_the_exact_stored_bytes_in_the_order_asked(
    chain: tuple[Path, list[str]], start_server: StartServer
) -> None:
    source, ids = chain
    server = start_server(source)
    wanted = [ids[2], ids[0], ids[3]]
    response = server.post("/metadata/texts", json={"ids": wanted})
    assert response.status_code == 200
    assert response.headers["content-type"] == METADATA_TEXTS
    texts = split_all(response.content, "test", "metadata texts")
    assert [packet_id for packet_id, _ in texts] == wanted
    for packet_id, data in texts:
        assert data == (source / ".outpack" / "metadata" / packet_id).read_bytes()
        assert data == server.get(f"/metadata/{packet_id}/text").content
    assert server.post("/metadata/texts", json={"ids": []}).content == b""
    openapi = server.get("/openapi.json").json()
    assert "post" in openapi["paths"]["/metadata/texts"]


TEXTS, FILES = "/metadata/texts", "/files/contents"


@pytest.mark.parametrize(
    ("route", "body", "expected"),
    [
        (TEXTS, b"{", (400, "not valid JSON")),
        (TEXTS, b'{"hashes": []}', (400, 'expected {"ids": [packet ids]}')),
        (TEXTS, b'{"ids": [1]}', (400, 'expected {"ids": [packet ids]}')),
        (TEXTS, b'{"ids": ["../../etc"]}', (400, "Invalid packet id '../../etc'")),
        (TEXTS, orjson.dumps({"ids": ["20200101-000000-00000000"] * 10_001}), (400, "at most")),
        (TEXTS, b'{"ids": ["20200101-000000-00000000"]}', (404, "does not exist")),
        (FILES, b"[]", (400, 'expected {"hashes": [hashes]}')),
        (FILES, b'{"hashes": ["../etc/passwd"]}', (400, "Invalid hash format")),
        (FILES, b'{"hashes": ["nope:abc"]}', (400, "Invalid hash algorithm")),
        (FILES, orjson.dumps({"hashes": ["md5:abc"] * 10_001}), (400, "at most 10000 hashes")),
        (FILES, b'{"hashes": ["md5:abc123"]}', (404, "hash 'md5:abc123' not found")),
        (FILES, orjson.dumps({"hashes": ["sha256:" + "0" * 64]}), (404, "not found")),
    ],
)
def test_bad_requests(
    chain: tuple[Path, list[str]],
    start_server: StartServer,
    route: str,
    body: bytes,
    expected: tuple[int, str],
) -> None:
    status, detail = expected
    server = start_server(chain[0])
    response = server.post(route, data=body)
    assert response.status_code == status
    assert detail in check_failure(response.content)["detail"]


def test_framing_round_trips_any_bytes_and_refuses_garbage() -> None:
    texts = [("20200101-000000-00000000", b"{\n}\n"), ("20200101-000000-00000001", b"")]
    framed = frame_all(texts)
    assert split_all(framed, "x", "texts") == texts
    for broken in (framed[:-1], framed + b"junk", b"20200101-000000-00000000 99\n{}\n"):
        with pytest.raises(RemoteError, match="x sent malformed texts"):
            split_all(broken, "x", "texts")


def test_frames_are_read_a_chunk_at_a_time() -> None:
    """A reader fed 3 bytes per read still splits frames bigger than its chunks."""
    items = [("sha256:aa", b"x" * 1000), ("sha256:bb", b"\n\n"), ("sha256:cc", b"")]
    stream = io.BytesIO(frame_all(items))
    reads: list[int] = []

    def read(size: int) -> bytes:
        reads.append(size)
        return stream.read(3)

    reader = FrameReader(read, "x", "files", chunk_size=3)
    got = []
    while (header := reader.header()) is not None:
        pieces = list(reader.body(header[1]))
        assert all(len(piece) <= 3 for piece in pieces)
        got.append((header[0], b"".join(pieces)))
    assert got == items
    assert set(reads) == {3}


def test_file_contents_are_the_stored_bytes_in_the_order_asked(
    tmp_path: Path, start_server: StartServer
) -> None:
    source = tmp_path / "source"
    ids = chain_root(source, big=3 << 20)  # one file bigger than a chunk
    root = Root.open(source)
    hashes = list(dict.fromkeys(f.hash for i in ids for f in root.read_metadata(i).files))
    server = start_server(source)
    wanted = [*reversed(hashes), hashes[0]]  # any order, repeats allowed
    response = server.post("/files/contents", json={"hashes": wanted})
    assert response.status_code == 200
    assert response.headers["content-type"] == FILE_CONTENTS
    assert int(response.headers["content-length"]) == len(response.content)
    files = split_all(response.content, "test", "file contents")
    assert [key for key, _ in files] == wanted
    for key, data in files:
        assert data == server.get(f"/file/{key}").content
    assert max(len(data) for _, data in files) == 3 << 20
    assert server.post("/files/contents", json={"hashes": []}).content == b""
    assert "post" in server.get("/openapi.json").json()["paths"]["/files/contents"]
