"""Response values and the JSON envelope every JSON answer is wrapped in.

Bodies are built as bytes up front (orjson, no per-request framework work),
so a cached body can be sent again without touching Python objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

Headers = tuple[tuple[bytes, bytes], ...]

# Exactly these strings: pyorderly compares the Content-Type header verbatim.
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
OCTET_STREAM = b"application/octet-stream"
PROMETHEUS = b"text/plain; version=0.0.4"

SUCCESS_PREFIX = b'{"status":"success","data":'
SUCCESS_SUFFIX = b',"errors":null}'


def success_body(data: Any) -> bytes:
    return SUCCESS_PREFIX + orjson.dumps(data) + SUCCESS_SUFFIX


def success_body_raw(data_json: bytes) -> bytes:
    """The envelope around `data_json`, which must already be one valid JSON value."""
    return SUCCESS_PREFIX + data_json + SUCCESS_SUFFIX


def failure_body(error: str, detail: str) -> bytes:
    return orjson.dumps(
        {"status": "failure", "data": None, "errors": [{"error": error, "detail": detail}]}
    )


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: bytes = JSON
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Tail:
    """What a spliced body sends after its file's part: the first `size` bytes of
    the append-only file `path`, then `trailer` (see server.bodies).

    Only the path and sizes are held: the bytes stay on disk, out of the heap.
    """

    path: str = ""
    size: int = 0
    trailer: bytes = b""
    # How many list entries the tail holds (see server.bodies).
    entries: int = 0

    def __len__(self) -> int:
        return self.size + len(self.trailer)

    def chunks(self, chunk: int = 1 << 20) -> Iterator[bytes]:
        """The tail's bytes, in pieces of at most `chunk` (the trailer last)."""
        if self.size:
            with open(self.path, "rb") as stream:
                left = self.size
                while left > 0:
                    data = stream.read(min(chunk, left))
                    if not data:
                        raise OSError(f"tail file {self.path} is shorter than expected")
                    left -= len(data)
                    yield data
        if self.trailer:
            yield self.trailer

    def read(self) -> bytes:
        return b"".join(self.chunks())


NO_TAIL = Tail()


@dataclass(frozen=True, slots=True)
class FileResponse:
    """A stored file, sent by the server itself (zero-copy where it can).

    With a `tail`, the body is the file's first `size - len(tail)` bytes
    followed by the tail (see server.bodies: a list body with new entries).
    """

    path: str
    size: int
    headers: Headers = ()
    status: int = 200
    tail: Tail = NO_TAIL


@dataclass(frozen=True, slots=True)
class StreamResponse:
    """A body of unknown length, sent chunk by chunk as `chunks` yields them."""

    chunks: AsyncIterator[bytes]
    headers: Headers = ()
    status: int = 200


AnyResponse = Response | FileResponse | StreamResponse


async def blocking_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks of a blocking iterator, each made (files read, compressed) in a thread."""
    done = object()
    try:
        while True:
            chunk = await asyncio.to_thread(next, chunks, done)
            if chunk is done:
                return
            assert isinstance(chunk, bytes)
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


def json_response(data: Any) -> Response:
    return Response(200, success_body(data))


def failure_response(status: int, error: str, detail: str, headers: Headers = ()) -> Response:
    return Response(status, failure_body(error, detail), JSON, headers)


NULL_SUCCESS = Response(200, success_body(None))
