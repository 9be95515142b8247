"""A packet's files as one zip, produced piece by piece while it is sent.

Nothing is staged on disk: `zipfile` writes into a buffer that is handed
out whenever it holds a chunk's worth, and entries carry data descriptors
(the output is not seekable). Sizes are known from the metadata, so entries
that may pass 4 GiB get Zip64 headers up front, and the central directory
switches to Zip64 on its own past 65,535 entries or 4 GiB of offsets.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
# zipfile's own threshold for a Zip64 local header, with its 5% margin.
ZIP64_SIZE = zipfile.ZIP64_LIMIT // 2


@dataclass(frozen=True, slots=True)
class ZipEntry:
    name: str
    source: Path
    size: int


class _Sink:
    """A write-only, non-seekable stream that collects what zipfile writes."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.position = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        self.buffer += data
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def entry_name(path: str) -> str:
    """The packet's path as a zip entry that cannot escape the folder it is unpacked in."""
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    safe = "/".join("__" if part == ".." else part for part in parts)
    return safe or "_"


def _date_time(moment: float) -> tuple[int, int, int, int, int, int]:
    parts = time.gmtime(max(moment, 315532800.0))  # zip dates start in 1980
    return (parts.tm_year, parts.tm_mon, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)


def zip_chunks(entries: Sequence[ZipEntry], moment: float) -> Iterator[bytes]:
    """The zip's bytes, in chunks of about CHUNK bytes (blocking file reads)."""
    sink = _Sink()
    stamp = _date_time(moment)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry_name(entry.name), stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = entry.size
            info.external_attr = 0o644 << 16
            with (
                open(entry.source, "rb") as source,
                archive.open(info, "w", force_zip64=entry.size >= ZIP64_SIZE) as target,
            ):
                while block := source.read(CHUNK):
                    target.write(block)
                    if len(sink.buffer) >= CHUNK:
                        yield sink.take()
            if len(sink.buffer) >= CHUNK:
                yield sink.take()
    yield sink.take()
