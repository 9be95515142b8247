"""The part of a packet's metadata that indexes and list routes need, kept compact.

A root of 100,000 packets keeps one of these per packet in memory (and in the
catalog snapshot) instead of the whole metadata document. `custom` is left
out: it is often the largest part of a document (a kilobyte or more as
orderly2 writes it), no query reads it, and the Packit list that sends it on
reads it from the metadata files.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    @property
    def time(self) -> PacketTime:
        return PacketTime(self.start, self.end)

    @classmethod
    def from_metadata(cls, metadata: PacketMetadata) -> PacketSummary:
        return cls(
            id=metadata.id,
            name=metadata.name,
            parameters=metadata.parameters,
            start=metadata.time.start,
            end=metadata.time.end,
            dependency_ids=metadata.dependency_ids,
        )


def summarise_metadata_bytes(data: bytes, where: str = "") -> PacketSummary:
    """Check and summarise stored metadata without walking its file list."""
    raw = decode_metadata_json(data, where)
    return PacketSummary.from_metadata(metadata_from_json(raw, where, check_files=False))
