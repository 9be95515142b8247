"""Our bulk routes: many packets' metadata, or many files, in one answer.

`POST /metadata/texts`, body `{"ids": [id, ...]}`, and `POST /files/contents`,
body `{"hashes": [hash, ...]}` (at most MAX_ITEMS each). The answer, not
enveloped, is one frame per item in the order asked (see `outpack.framing`):
`<id or hash> <length>\\n<bytes>\\n`. The bytes are exactly what
`GET /metadata/<id>/text` or `GET /file/<hash>` would send; clients check
each against its hash, and save one request per packet or file. Every item is
checked before anything is sent: a malformed one is a 400, one not here a 404
(as on the single-item routes), and then no frame is sent at all.

File contents are streamed, read in a worker thread a chunk at a time, with
a `Content-Length` so a client can tell a cut-off answer from a complete one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import orjson

from outpack.errors import FileNotFoundInStoreError, StorageError
from outpack.framing import FILE_CONTENTS, METADATA_TEXTS, frame_all, frame_header, frame_length
from outpack.hash import parse_lookup_hash
from outpack.ids import validate_packet_id
from outpack.root import Root
from outpack.server.errors import BadRequestError
from outpack.server.responses import Response, StreamResponse, blocking_chunks
from outpack.server.routing import Request
from outpack.server.settings import ServerSettings
from outpack.server.uploads import read_body, run_blocking

MAX_ITEMS = 10_000
CHUNK = 1 << 20
Located = tuple[str, str, int]  # hash as framed, path, size


def requested(body: bytes, field: str, what: str) -> list[str]:
    """The list of strings in `{"<field>": [...]}`, at most MAX_ITEMS of them."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise BadRequestError(f"Invalid request body: not valid JSON ({err})") from err
    items = document.get(field) if isinstance(document, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise BadRequestError(f'Invalid request body: expected {{"{field}": [{what}]}}')
    if len(items) > MAX_ITEMS:
        raise BadRequestError(f"Invalid request body: at most {MAX_ITEMS} {field} per request")
    return items


class MetadataTexts:
    """`POST /metadata/texts` (a callable, so the route table needs one line for it)."""

    def __init__(self, root: Root, settings: ServerSettings) -> None:
        self.root = root
        self.settings = settings

    async def __call__(self, request: Request) -> Response:
        body = await read_body(request, self.settings.max_body_size)
        ids = [validate_packet_id(item) for item in requested(body, "ids", "packet ids")]
        read = self.root.read_metadata_bytes
        framed = await run_blocking(lambda: frame_all((i, read(i)) for i in ids))
        return Response(200, framed, METADATA_TEXTS.encode("ascii"))


class FileContents:
    """`POST /files/contents`."""

    def __init__(self, root: Root, settings: ServerSettings) -> None:
        self.root = root
        self.settings = settings

    async def __call__(self, request: Request) -> StreamResponse:
        body = await read_body(request, self.settings.max_body_size)
        hashes = requested(body, "hashes", "hashes")
        located = await run_blocking(lambda: self._locate(hashes))
        length = sum(frame_length(key, size) for key, _, size in located)
        headers = (
            (b"content-type", FILE_CONTENTS.encode("ascii")),
            (b"content-length", str(length).encode("ascii")),
        )
        return StreamResponse(blocking_chunks(file_frames(located)), headers)

    def _locate(self, hashes: list[str]) -> list[Located]:
        located = []
        for text in hashes:
            file_hash = parse_lookup_hash(text)
            if file_hash is None or not self.root.store.exists(file_hash):
                raise FileNotFoundInStoreError(text)
            path = str(self.root.store.path(file_hash))
            # Framed as the client wrote it (well-formed: checked above).
            located.append((text.strip(), path, os.stat(path).st_size))
        return located


def file_frames(located: list[Located]) -> Iterator[bytes]:
    """The frames of these files in chunks of about CHUNK bytes (small files share one)."""
    buffer = bytearray()
    for key, path, size in located:
        buffer += frame_header(key, size)
        with open(path, "rb") as stream:
            remaining = size
            while remaining:
                piece = stream.read(min(remaining, CHUNK))
                if not piece:
                    # Stored files never change; the answer's length is already sent.
                    raise StorageError(f"File {key} shrank while it was being sent")
                buffer += piece
                remaining -= len(piece)
                if len(buffer) >= CHUNK:
                    yield bytes(buffer)
                    buffer.clear()
        buffer += b"\n"
    if buffer:
        yield bytes(buffer)
