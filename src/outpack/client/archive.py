"""The archive (`<path_archive>/<name>/<id>/<path>`): finding files in it, filling it.

A root may keep unpacked packets' files there, beside or instead of the file
store. Files are copied in atomically (temporary file, fsync, link; or in a
staged batch, see `outpack.staging`), so a killed pull never leaves a
truncated file in the archive.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from outpack.errors import InvalidMetadataError
from outpack.fsutil import discard, new_temp_file, publish, storage_error
from outpack.hash import Hash, hash_file
from outpack.location import LOCAL
from outpack.metadata import PacketMetadata
from outpack.root import Root
from outpack.staging import StagedWrites


def archive_path(root: Root, metadata: PacketMetadata, relative: str) -> Path:
    """Where a packet's file lives in the archive; refuses paths leaving the packet."""
    if root.config.core.path_archive is None:
        raise InvalidMetadataError("This root has no archive")
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise InvalidMetadataError(
            f"Packet {metadata.id} has a file path that leaves the packet: '{relative}'"
        )
    packet_dir = root.path / root.config.core.path_archive / metadata.name / metadata.id
    return packet_dir.joinpath(*parts)


def copy_into(
    source: Path, destination: Path, tmp_dir: Path, staged: StagedWrites | None = None
) -> bool:
    """Copy a file into place atomically and durably (first writer wins).

    With `staged`, the copy joins that batch, whose commit makes it durable and visible.
    """
    fd, temp = new_temp_file(tmp_dir)
    try:
        with open(source, "rb") as reader, os.fdopen(fd, "wb", closefd=True) as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            if staged is None:
                writer.flush()
                os.fsync(writer.fileno())
    except OSError as err:
        discard(temp)
        raise storage_error(err, f"copying {destination.name}") from err
    if staged is not None:
        staged.add(temp, destination)
        return True
    return publish(temp, destination)


class ArchiveFiles:
    """Files of a root's unpacked packets in its archive, found by hash."""

    def __init__(self, root: Root) -> None:
        self.root = root
        self._index: dict[str, list[Path]] | None = None

    def _build(self) -> dict[str, list[Path]]:
        index: dict[str, list[Path]] = {}
        for packet_id in self.root.location_packet_ids(LOCAL):
            metadata = self.root.read_metadata(packet_id)
            for file in metadata.files:
                index.setdefault(file.hash, []).append(archive_path(self.root, metadata, file.path))
        return index

    def find(self, file_hash: Hash) -> Path | None:
        """An archived file with this content (checked: archive files can be edited)."""
        if self._index is None:
            self._index = self._build()
        for path in self._index.get(str(file_hash), []):
            if path.is_file() and hash_file(file_hash.algorithm, path) == file_hash:
                return path
        return None
