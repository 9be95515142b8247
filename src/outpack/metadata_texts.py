"""The body of `POST /metadata/texts`: each packet's exact metadata bytes, framed.

    <id> <length>\\n<length bytes of metadata>\\n      (once per requested id, in order)

A frame is split by reading one header line and then exactly `length` bytes,
so metadata may contain any bytes (newlines included); the client then checks
each text against the hash the location listed for it. Shared by the server
(which writes it) and the client (which reads it).
"""

from __future__ import annotations

from collections.abc import Iterable

from outpack.errors import RemoteError
from outpack.ids import is_packet_id

MEDIA_TYPE = "application/vnd.outpack.metadata-texts"


def frame_texts(texts: Iterable[tuple[str, bytes]]) -> bytes:
    parts: list[bytes] = []
    for packet_id, data in texts:
        parts.append(b"%s %d\n" % (packet_id.encode("ascii"), len(data)))
        parts.append(data)
        parts.append(b"\n")
    return b"".join(parts)


def split_texts(body: bytes, source: str) -> list[tuple[str, bytes]]:
    """The (id, bytes) pairs of a framed body; RemoteError if it is malformed."""
    result = []
    view = memoryview(body)
    position = 0
    while position < len(body):
        end = body.find(b"\n", position, position + 64)
        header = body[position:end].split(b" ") if end >= 0 else []
        if len(header) != 2 or not header[1].isdigit():
            raise RemoteError(f"{source} sent malformed metadata texts (at byte {position})")
        packet_id = header[0].decode("ascii", "replace")
        length = int(header[1])
        start = end + 1
        stop = start + length
        if not is_packet_id(packet_id) or body[stop : stop + 1] != b"\n":
            raise RemoteError(f"{source} sent malformed metadata texts (at byte {position})")
        result.append((packet_id, bytes(view[start:stop])))
        position = stop + 1
    return result
