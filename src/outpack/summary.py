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


@dataclass(frozen=True, slots=True)
class PacketSummary:
    id: str
    name: str
    parameters: dict[str, ParameterValue] | None
    time: PacketTime
    dependency_ids: tuple[str, ...]
    # `custom` as JSON text: often the largest part, and only ever sent on.
    custom_json: bytes = b"null"

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
            time=metadata.time,
            dependency_ids=metadata.dependency_ids,
            # orjson's result keeps its whole working buffer (~4 KiB); a copy
            # is exact-sized, which is most of the memory on a large root.
            custom_json=bytes(memoryview(orjson.dumps(metadata.custom))),
        )

    def to_row(self) -> list[Any]:
        return [
            self.id,
            self.name,
            self.parameters,
            self.time.start,
            self.time.end,
            list(self.dependency_ids),
            self.custom_json.decode(),
        ]

    @classmethod
    def from_row(cls, row: list[Any]) -> PacketSummary:
        packet_id, name, parameters, start, end, depends, custom = row
        return cls(
            packet_id, name, parameters, PacketTime(start, end), tuple(depends), custom.encode()
        )


def summarise_metadata_bytes(data: bytes, where: str = "") -> PacketSummary:
    """Check and summarise stored metadata without walking its file list."""
    raw = decode_metadata_json(data, where)
    return PacketSummary.from_metadata(metadata_from_json(raw, where, check_files=False))
