"""`POST /metadata/texts`: the bulk metadata route of our server, as clients see it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from outpack.errors import RemoteError
from outpack.metadata_texts import MEDIA_TYPE, frame_texts, split_texts
from tests.client.conftest import ServerProcess
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
    assert response.headers["content-type"] == MEDIA_TYPE
    texts = split_texts(response.content, "test")
    assert [packet_id for packet_id, _ in texts] == wanted
    for packet_id, data in texts:
        assert data == (source / ".outpack" / "metadata" / packet_id).read_bytes()
        assert data == server.get(f"/metadata/{packet_id}/text").content
    assert server.post("/metadata/texts", json={"ids": []}).content == b""
    openapi = server.get("/openapi.json").json()
    assert "post" in openapi["paths"]["/metadata/texts"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"{", 400, "not valid JSON"),
        (b'{"hashes": []}', 400, 'expected {"ids": [packet ids]}'),
        (b'{"ids": [1]}', 400, 'expected {"ids": [packet ids]}'),
        (b'{"ids": ["../../etc"]}', 400, "Invalid packet id '../../etc'"),
        (orjson.dumps({"ids": ["20200101-000000-00000000"] * 10_001}), 400, "at most 10000"),
        (b'{"ids": ["20200101-000000-00000000"]}', 404, "does not exist"),
    ],
)
def test_bad_requests(
    chain: tuple[Path, list[str]],
    start_server: StartServer,
    body: bytes,
    status: int,
    detail: str,
) -> None:
    server = start_server(chain[0])
    response = server.post("/metadata/texts", data=body)
    assert response.status_code == status
    assert detail in check_failure(response.content)["detail"]


def test_framing_round_trips_any_bytes_and_refuses_garbage() -> None:
    texts = [("20200101-000000-00000000", b"{\n}\n"), ("20200101-000000-00000001", b"")]
    assert split_texts(frame_texts(texts), "x") == texts
    framed = frame_texts(texts)
    for broken in (framed[:-1], framed + b"junk", b"20200101-000000-00000000 99\n{}\n"):
        with pytest.raises(RemoteError, match="malformed metadata texts"):
            split_texts(broken, "x")
