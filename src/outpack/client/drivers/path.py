"""A `path` location: another root on this machine (or a shared file system)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from outpack.client.archive import ArchiveFiles
from outpack.client.drivers.base import Begin, BeginFile, RemoteEntry, fetch_each
from outpack.errors import FileNotFoundInStoreError, PacketNotFoundError
from outpack.hash import CHUNK_SIZE, Hash
from outpack.location import LOCAL
from outpack.root import Root


class PathDriver:
    def __init__(self, root: Root, label: str) -> None:
        self.root = root
        self.label = label
        self._archive: ArchiveFiles | None = None

    def close(self) -> None:
        pass

    def list_packets(self) -> list[RemoteEntry]:
        # What orderly2 and pyorderly offer from a path location: its unpacked packets.
        return [RemoteEntry.of(r) for r in self.root.location_records(LOCAL).values()]

    def metadata_texts(self, ids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        missing = self.root.missing_packets(ids, unpacked=True)
        if missing:
            raise PacketNotFoundError(missing[0])
        return ((packet_id, self.root.read_metadata_bytes(packet_id)) for packet_id in ids)

    def _source(self, file_hash: str) -> Path:
        parsed = Hash.parse(file_hash)
        if self.root.config.core.use_file_store:
            return self.root.store.locate(parsed)
        if self._archive is None:
            self._archive = ArchiveFiles(self.root)
        found = self._archive.find(parsed)
        if found is None:
            raise FileNotFoundInStoreError(file_hash)
        return found

    def fetch_file(self, file_hash: str, begin: Begin) -> None:
        with open(self._source(file_hash), "rb") as stream, begin() as upload:
            for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
                upload.write(chunk)
            upload.commit()

    def fetch_files(
        self, hashes: Sequence[str], begin: BeginFile, done: Callable[[str], None]
    ) -> None:
        fetch_each(self.fetch_file, hashes, begin, done)

    def missing_packets(self, ids: Sequence[str]) -> list[str]:
        return self.root.missing_packets(ids, unpacked=True)

    def missing_files(self, hashes: Sequence[str]) -> list[str]:
        return self.root.missing_files(hashes)

    def push_file(self, file_hash: str, source: Path) -> None:
        with open(source, "rb") as stream:
            self.root.store.put_stream(Hash.parse(file_hash), stream)

    def push_metadata(self, packet_hash: str, data: bytes) -> None:
        self.root.import_packet(data, packet_hash)
