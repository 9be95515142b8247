"""An outpack root: the typed entry point to everything stored under `.outpack/`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from outpack.config import OUTPACK_DIR, TMP_DIR, Config, read_config
from outpack.errors import (
    ConfigError,
    InvalidInputError,
    MissingDependenciesError,
    MissingFilesError,
    NotFoundError,
    PacketNotFoundError,
    RootNotFoundError,
)
from outpack.fsutil import write_atomic
from outpack.hash import Hash, hash_bytes, parse_lookup_hash, validate_algorithm, verify_hash
from outpack.ids import packet_ids_in, validate_packet_id
from outpack.location import (
    LOCAL,
    LocationRecord,
    new_location_record,
    parse_location_record,
)
from outpack.metadata import PacketMetadata, parse_metadata
from outpack.staging import StagedWrites
from outpack.store import FileStore


class Root:
    """An opened root. Cheap to create; reads the disk on every call (see Catalog
    for a cached view)."""

    def __init__(self, path: Path, config: Config) -> None:
        self.path = path
        self.outpack_dir = path / OUTPACK_DIR
        self.metadata_dir = self.outpack_dir / "metadata"
        self.location_dir = self.outpack_dir / "location"
        self.tmp_dir = self.outpack_dir / TMP_DIR
        self.config = config
        self._store = FileStore(self.outpack_dir / "files", self.tmp_dir)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Root:
        root = Path(path)
        if not (root / OUTPACK_DIR).is_dir():
            raise RootNotFoundError(path)
        return cls(root, read_config(root / OUTPACK_DIR))

    @property
    def hash_algorithm(self) -> str:
        return self.config.core.hash_algorithm

    @property
    def store(self) -> FileStore:
        if not self.config.core.use_file_store:
            raise ConfigError("This root does not use a file store")
        return self._store

    # -- metadata -------------------------------------------------------------

    def packet_ids(self) -> list[str]:
        """Ids of every packet with metadata here, sorted."""
        return packet_ids_in(self.metadata_dir)

    def metadata_path(self, packet_id: str) -> Path:
        return self.metadata_dir / validate_packet_id(packet_id)

    def has_metadata(self, packet_id: str) -> bool:
        return self.metadata_path(packet_id).is_file()

    def read_metadata_bytes(self, packet_id: str) -> bytes:
        try:
            return self.metadata_path(packet_id).read_bytes()
        except (FileNotFoundError, NotADirectoryError) as err:
            raise PacketNotFoundError(packet_id) from err

    def read_metadata(self, packet_id: str) -> PacketMetadata:
        return parse_metadata(self.read_metadata_bytes(packet_id), f" of packet '{packet_id}'")

    # -- locations ------------------------------------------------------------

    def location_names(self) -> list[str]:
        """Configured locations in config order, then any other location folders, sorted."""
        configured = self.config.location_names
        try:
            present = sorted(
                entry.name for entry in os.scandir(self.location_dir) if entry.is_dir()
            )
        except FileNotFoundError:
            present = []
        return configured + [name for name in present if name not in configured]

    def _location_path(self, location: str) -> Path:
        if not location or location in (".", "..") or "/" in location or "\\" in location:
            raise InvalidInputError(f"Invalid location name '{location}'")
        return self.location_dir / location

    def location_packet_ids(self, location: str) -> list[str]:
        return packet_ids_in(self._location_path(location))

    def read_location_record(self, location: str, packet_id: str) -> LocationRecord:
        path = self._location_path(location) / validate_packet_id(packet_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            raise NotFoundError(
                f"packet '{packet_id}' is not known at location '{location}'"
            ) from err
        return parse_location_record(data, f" '{path}'")

    def location_records(self, location: str) -> dict[str, LocationRecord]:
        return {
            packet_id: self.read_location_record(location, packet_id)
            for packet_id in self.location_packet_ids(location)
        }

    def unpacked_ids(self) -> set[str]:
        return set(self.location_packet_ids(LOCAL))

    # -- presence checks ------------------------------------------------------

    def missing_packets(self, ids: Iterable[str], *, unpacked: bool) -> list[str]:
        """Which of `ids` are absent (from location/local if `unpacked`, else metadata/)."""
        folder = self._location_path(LOCAL) if unpacked else self.metadata_dir
        wanted = dict.fromkeys(validate_packet_id(i.strip()) for i in ids)
        return [packet_id for packet_id in wanted if not (folder / packet_id).is_file()]

    def missing_files(self, hashes: Iterable[str]) -> list[str]:
        """Which of `hashes` are not in the store, in the order given.

        Hashes are read as loosely as the reference reads them: a digest of the
        wrong length is well-formed, and missing.
        """
        parsed = [(text, parse_lookup_hash(text)) for text in hashes]
        return [
            text
            for text, file_hash in parsed
            if file_hash is None or not self.store.exists(file_hash)
        ]

    # -- import ---------------------------------------------------------------

    def import_packet(
        self,
        data: bytes,
        expected_hash: str | Hash,
        *,
        time: float | None = None,
        staged: StagedWrites | None = None,
    ) -> PacketMetadata:
        """Import a packet's metadata, as sent to `POST /packet/<hash>`.

        Checks the hash of the exact bytes, the metadata itself, that every
        file is in the store and (with require_complete_tree) every dependency
        is unpacked; then stores the bytes unchanged and records the packet in
        location/local (at `time`, default now). Importing again changes
        nothing: the first record's time is kept. With `staged`, the record
        is left to that batch (the metadata, if new, is written at once, so
        it is durable before the record can be).
        """
        expected = expected_hash if isinstance(expected_hash, Hash) else Hash.parse(expected_hash)
        validate_algorithm(expected.algorithm)
        verify_hash(expected, hash_bytes(expected.algorithm, data))
        metadata = parse_metadata(data)
        missing_files = self.missing_files(dict.fromkeys(f.hash for f in metadata.files))
        if missing_files:
            raise MissingFilesError(metadata.id, missing_files)
        if self.config.core.require_complete_tree:
            missing_deps = self.missing_packets(metadata.dependency_ids, unpacked=True)
            if missing_deps:
                raise MissingDependenciesError(metadata.id, missing_deps)
        destination = self.metadata_path(metadata.id)
        # Metadata fetched from a location is already here: no second write.
        if not (_same_bytes(destination, data) or write_atomic(destination, data, self.tmp_dir)):
            existing = destination.read_bytes()
            if existing != data:
                raise InvalidInputError(
                    f"Packet {metadata.id} already exists here with different metadata "
                    f"(hash {hash_bytes(expected.algorithm, existing)})"
                )
        record = new_location_record(metadata.id, expected, time)
        self.add_location_record(LOCAL, record, staged=staged)
        return metadata

    def add_location_record(
        self, location: str, record: LocationRecord, *, staged: StagedWrites | None = None
    ) -> bool:
        """Write a location record unless one exists; returns True if written (or staged)."""
        validate_packet_id(record.packet)
        destination = self._location_path(location) / record.packet
        if destination.exists():
            return False
        if staged is not None:
            staged.write(destination, record.to_bytes())
            return True
        return write_atomic(destination, record.to_bytes(), self.tmp_dir)


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def packet_hash(root: Root, packet_id: str, algorithm: str | None = None) -> Hash:
    """Hash of a packet: of its metadata file's exact bytes."""
    return hash_bytes(algorithm or root.hash_algorithm, root.read_metadata_bytes(packet_id))


__all__ = ["Root", "packet_hash"]
