"""Checking a root for damage: what `outpack validate` reports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from outpack.errors import OutpackError
from outpack.hash import Hash, hash_bytes, hash_file
from outpack.ids import is_packet_id
from outpack.location import LOCAL, LocationRecord, parse_location_record
from outpack.metadata import PacketMetadata, parse_metadata
from outpack.root import Root


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"path": self.path, "problem": self.message}


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    packets: int = 0
    records: int = 0
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class _Validator:
    def __init__(self, root: Root, *, quick: bool) -> None:
        self.root = root
        self.quick = quick
        self.report = Report()
        self.metadata: dict[str, PacketMetadata] = {}
        self.metadata_bytes: dict[str, bytes] = {}

    def problem(self, path: Path, message: str) -> None:
        self.report.problems.append(Problem(str(path.relative_to(self.root.path)), message))

    def entries(self, folder: Path) -> Iterator[Path]:
        """Packet-id files of `folder`; anything else there is reported as stray."""
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            self.problem(folder, "folder is missing")
            return
        for name in names:
            path = folder / name
            if not is_packet_id(name):
                self.problem(path, "stray entry: only packet ids may appear here")
            elif not path.is_file():
                self.problem(path, "expected a file")
            else:
                yield path

    def check_metadata(self) -> None:
        for path in self.entries(self.root.metadata_dir):
            data = path.read_bytes()
            try:
                metadata = parse_metadata(data)
            except OutpackError as err:
                self.problem(path, err.message.removeprefix("Invalid metadata: "))
                continue
            if metadata.id != path.name:
                self.problem(path, f"metadata has id '{metadata.id}', file is named '{path.name}'")
                continue
            self.metadata[path.name] = metadata
            self.metadata_bytes[path.name] = data
        self.report.packets = len(self.metadata)

    def check_locations(self) -> dict[str, LocationRecord]:
        local: dict[str, LocationRecord] = {}
        for location in self.root.location_names():
            folder = self.root.location_dir / location
            if not folder.exists():
                continue
            for path in self.entries(folder):
                try:
                    record = parse_location_record(path.read_bytes())
                except OutpackError as err:
                    self.problem(path, err.message.removeprefix("Invalid location record: "))
                    continue
                self.report.records += 1
                self.check_record(path, record)
                if location == LOCAL:
                    local[record.packet] = record
        return local

    def check_record(self, path: Path, record: LocationRecord) -> None:
        if record.packet != path.name:
            self.problem(path, f"record names packet '{record.packet}'")
            return
        data = self.metadata_bytes.get(record.packet)
        if data is None:
            if not (self.root.metadata_dir / record.packet).exists():
                self.problem(path, "no metadata for this packet")
            return
        expected = Hash.parse(record.hash)
        actual = hash_bytes(expected.algorithm, data)
        if actual != expected:
            self.problem(path, f"hash {record.hash} does not match the metadata's hash {actual}")

    def check_unpacked(self, local: dict[str, LocationRecord]) -> None:
        store_checked: set[Hash] = set()
        for packet_id in sorted(local):
            metadata = self.metadata.get(packet_id)
            if metadata is None:
                continue
            path = self.root.location_dir / LOCAL / packet_id
            for file in metadata.files:
                file_hash = Hash.parse(file.hash)
                if file_hash in store_checked:
                    continue
                store_checked.add(file_hash)
                self.check_file(path, file_hash, file.path, file.size)
            if self.root.config.core.require_complete_tree:
                missing = [dep for dep in metadata.dependency_ids if dep not in local]
                if missing:
                    self.problem(path, f"dependencies not unpacked: {', '.join(missing)}")
        self.report.files = len(store_checked)

    def check_file(self, record_path: Path, file_hash: Hash, name: str, size: int) -> None:
        if not self.root.config.core.use_file_store:
            return
        stored = self.root.store.path(file_hash)
        if not stored.is_file():
            self.problem(record_path, f"file '{name}' ({file_hash}) is missing from the store")
        elif stored.stat().st_size != size:
            self.problem(stored, f"size {stored.stat().st_size}, expected {size} for '{name}'")
        elif not self.quick and hash_file(file_hash.algorithm, stored) != file_hash:
            self.problem(stored, f"content does not match its hash {file_hash}")

    def run(self) -> Report:
        self.check_metadata()
        local = self.check_locations()
        self.check_unpacked(local)
        return self.report


def validate_root(root: Root, *, quick: bool = False) -> Report:
    """Check every metadata document, location record and unpacked file of a root.

    With `quick`, stored files are checked for presence and size only.
    """
    return _Validator(root, quick=quick).run()
