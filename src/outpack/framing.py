"""The frames of our bulk routes: many byte strings, each named, in one body.

    <key> <length>\\n<length bytes>\\n      (once per item, in the order asked)

`POST /metadata/texts` names each packet's metadata by its id,
`POST /files/contents` each file by its hash. A frame is split by reading one
header line and then exactly `length` bytes, so the contents may hold any
bytes (newlines included); the reader then checks each against its hash.
Shared by the server (which writes frames) and the client (which reads them,
from a stream, holding at most one chunk in memory whatever the file sizes).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator

from outpack.errors import RemoteError
from outpack.hash import CHUNK_SIZE

METADATA_TEXTS = "application/vnd.outpack.metadata-texts"
FILE_CONTENTS = "application/vnd.outpack.file-contents"
# Longer than any key (a sha512 hash is 135 characters) plus a length.
MAX_HEADER = 200


def frame_header(key: str, length: int) -> bytes:
    return b"%s %d\n" % (key.encode("ascii"), length)


def frame_all(items: Iterable[tuple[str, bytes]]) -> bytes:
    parts: list[bytes] = []
    for key, data in items:
        parts += (frame_header(key, len(data)), data, b"\n")
    return b"".join(parts)


def split_all(body: bytes, source: str, what: str) -> list[tuple[str, bytes]]:
    """The (key, bytes) pairs of a whole framed body; RemoteError if it is malformed."""
    return list(FrameReader(io.BytesIO(body).read, source, what).frames())


def frame_length(key: str, length: int) -> int:
    """Bytes of the whole frame of an item of `length` bytes."""
    return len(frame_header(key, length)) + length + 1


class FrameReader:
    """Reads frames from any `read(n)` (a file, an HTTP response) one chunk at a time.

    A body that is not a sequence of whole frames raises RemoteError naming
    `source`, `what` was being read and the byte offset where it went wrong.
    """

    def __init__(
        self, read: Callable[[int], bytes], source: str, what: str, chunk_size: int = CHUNK_SIZE
    ) -> None:
        self._read = read
        self._source = source
        self._what = what
        self._chunk_size = chunk_size
        self._buffer = b""
        self._offset = 0  # into the buffer
        self._consumed = 0  # bytes of the body before the buffer

    def _fill(self) -> bool:
        chunk = self._read(self._chunk_size)
        if not chunk:
            return False
        self._consumed += self._offset
        self._buffer = self._buffer[self._offset :] + chunk
        self._offset = 0
        return True

    def _malformed(self) -> RemoteError:
        position = self._consumed + self._offset
        return RemoteError(f"{self._source} sent malformed {self._what} (at byte {position})")

    def header(self) -> tuple[str, int] | None:
        """The next frame's key and length; None at the end of a complete body."""
        while True:
            end = self._buffer.find(b"\n", self._offset, self._offset + MAX_HEADER)
            if end >= 0:
                break
            if len(self._buffer) - self._offset >= MAX_HEADER:
                raise self._malformed()
            if not self._fill():
                if self._offset == len(self._buffer):
                    return None
                raise self._malformed()
        parts = self._buffer[self._offset : end].split(b" ")
        if len(parts) != 2 or not parts[1].isdigit():
            raise self._malformed()
        key = parts[0].decode("ascii", "replace")
        self._offset = end + 1
        return key, int(parts[1])

    def body(self, length: int) -> Iterator[bytes]:
        """The `length` bytes of the frame whose header was just read, in pieces."""
        remaining = length
        while remaining:
            if self._offset == len(self._buffer) and not self._fill():
                raise self._malformed()
            piece = self._buffer[self._offset : self._offset + remaining]
            self._offset += len(piece)
            remaining -= len(piece)
            yield piece
        if self._offset == len(self._buffer) and not self._fill():
            raise self._malformed()
        if self._buffer[self._offset] != ord("\n"):
            raise self._malformed()
        self._offset += 1

    def frames(self) -> Iterator[tuple[str, bytes]]:
        """Every frame, each body read whole (for small items such as metadata)."""
        while (header := self.header()) is not None:
            key, length = header
            yield key, b"".join(self.body(length))
