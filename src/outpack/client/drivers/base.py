"""What every kind of location offers: the `Driver` protocol and its records."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from outpack.location import LocationRecord
from outpack.store import Upload

Begin = Callable[[], Upload]
# An upload for the file with this hash (a bulk transfer names each file as it arrives).
BeginFile = Callable[[str], Upload]


@dataclass(frozen=True, slots=True)
class RemoteEntry:
    """One packet as a location lists it: `/metadata/list` or its `location/local`."""

    packet: str
    time: float
    hash: str

    @classmethod
    def of(cls, record: LocationRecord) -> RemoteEntry:
        return cls(record.packet, record.time, record.hash)


class Driver(Protocol):
    """A location: list and read packets, stream files, and receive pushes.

    Every method raises RemoteError (unreachable, refused, failed) or a domain
    error; none writes to the local root.
    """

    label: str

    def list_packets(self) -> list[RemoteEntry]: ...

    def metadata_texts(self, ids: Sequence[str]) -> Iterator[tuple[str, bytes]]:
        """The exact metadata bytes of each id (in any order), unchecked."""
        ...

    def fetch_file(self, file_hash: str, begin: Begin) -> None:
        """Stream one file into a fresh `begin()` upload and commit it (again on retry)."""
        ...

    def fetch_files(
        self, hashes: Sequence[str], begin: BeginFile, done: Callable[[str], None]
    ) -> None:
        """Stream each file into a fresh `begin(hash)` upload, commit it, call `done(hash)`.

        Retries fetch only the files not done yet.
        """
        ...

    def missing_packets(self, ids: Sequence[str]) -> list[str]:
        """Which of `ids` are not unpacked at the location."""
        ...

    def missing_files(self, hashes: Sequence[str]) -> list[str]: ...

    def push_file(self, file_hash: str, source: Path) -> None: ...

    def push_metadata(self, packet_hash: str, data: bytes) -> None: ...

    def close(self) -> None: ...


def fetch_each(
    fetch_file: Callable[[str, Begin], None],
    hashes: Sequence[str],
    begin: BeginFile,
    done: Callable[[str], None],
) -> None:
    """`Driver.fetch_files` one file at a time, for locations without a bulk transfer."""
    for file_hash in hashes:
        fetch_file(file_hash, lambda: begin(file_hash))  # noqa: B023 - called at once
        done(file_hash)
