"""The part of a packet's metadata that indexes and list routes need, kept compact.

A root of 100,000 packets keeps one of these per packet in memory (and in the
catalog snapshot) instead of the whole metadata document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from outpack.metadata import (
    PacketMetadata,
    PacketTime,
    ParameterValue,
    decode_metadata_json,
    metadata_from_json,
)


# Not frozen: a frozen dataclass's __init__ is more than twice as slow, and
# opening a root of 100,000 packets builds one of these per packet. Treat
# summaries as immutable all the same: they are shared by every view.
@dataclass(slots=True)
class PacketSummary:
    id: str
    name: str
    parameters: dict[str, ParameterValue] | None
    start: float
    end: float
    dependency_ids: tuple[str, ...]
    # `custom` as JSON text: often the largest part, and only ever sent on.
    custom_json: bytes = b"null"

    @property
    def time(self) -> PacketTime:
        return PacketTime(self.start, self.end)

    @property
    def custom(self) -> dict[str, Any] | None:
        value: dict[str, Any] | None = orjson.loads(self.custom_json)
        return value

    @classmethod
    def from_metadata(cls, metadata: PacketMetadata) -> PacketSummary:
        return cls(
            id=metadata.id,
            name=metadata.name,
            parameters=metadata.parameters,
            start=metadata.time.start,
            end=metadata.time.end,
            dependency_ids=metadata.dependency_ids,
            # orjson's result keeps its whole working buffer (~4 KiB); a copy
            # is exact-sized, which is most of the memory on a large root.
            custom_json=bytes(memoryview(orjson.dumps(metadata.custom))),
        )


def summarise_metadata_bytes(data: bytes, where: str = "") -> PacketSummary:
    """Check and summarise stored metadata without walking its file list."""
    raw = decode_metadata_json(data, where)
    return PacketSummary.from_metadata(metadata_from_json(raw, where, check_files=False))
