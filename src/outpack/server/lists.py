"""The list routes' bodies, kept current by difference and written to cache files.

On a root of 100,000 packets, `/metadata/list` and `/packit/metadata` are
megabytes of JSON (about 100 MB for the Packit list when packets carry
orderly2's `custom`). New packets nearly always sort last (ids begin with
their creation time), so after a push only the newcomers are serialised,
once, when the list is next asked for, and spliced after the previous body's
file in a tail file (see `outpack.server.bodies`); once the tail reaches
`SPLICE_LIMIT`, a new file is written by copying the previous one's entries
and appending the tail's. A folder listed while packets land may show a
later packet before an earlier one: the earlier one, found on the next
refresh, sorts among the tail's entries, and only the tail is written
again. Anything else (removals, a packet that sorts before the file's last
entry, a record that moves a packet to an earlier location) makes a new
body from the catalog; for the Packit list, by merging into the previous
file's lines rather than reading every metadata file again.

Both lists agree with `/checksum` on which packets exist: damaged packets
(see `outpack.catalog`) are in none of them.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Callable, Iterator

import orjson

from outpack.catalog import Catalog
from outpack.freshness import Changes
from outpack.fsutil import read_many
from outpack.location import LocationRecord
from outpack.root import Root
from outpack.server.bodies import (
    BodyFile,
    BodyWriter,
    entry_lines,
    existing,
    newest,
    tail_lines,
    touch,
)

Hasher = hashlib.blake2b
# Entries serialised per batch when a whole list is written.
BATCH = 4096
# New Packit entries are sent spliced after the previous body's file (see
# bodies.BodyFile) until they reach this size; then a new file is written.
SPLICE_LIMIT = 8 << 20


def _exact(data: bytes) -> bytes:
    """A copy of orjson's result: that keeps its whole working buffer (about 4 KiB),
    which for 100,000 entries held at once is 400 MB."""
    return bytes(memoryview(data))


def _record_entry(record: LocationRecord) -> bytes:
    return _exact(orjson.dumps({"packet": record.packet, "time": record.time, "hash": record.hash}))


class MetadataList:
    """`/metadata/list`: locations in order, ids ascending within each, each id once.

    `first` maps each packet to its record from the first location listing
    it; its insertion order is the order of the list. The file's name is a
    hash of its entries, kept up to date as entries are added.

    New entries are spliced after the body's file (see `bodies.BodyFile`),
    in a tail kept in list order: one that sorts among the tail's entries
    (a folder listed while packets land may show a later one before an
    earlier one) has the tail written again, not the list. Only an entry
    that sorts before the file's last, or a removal, rebuilds the list.
    """

    def __init__(self, root: Root) -> None:
        self.root = root
        self.first: dict[str, LocationRecord] = {}
        self._locations: list[str] = []
        # (location position, id) of the list's last entry, and of the file's.
        self._last: tuple[int, str] | None = None
        self._file_last: tuple[int, str] | None = None
        self._file: BodyFile | None = None
        # The hash of the body's entries, and of its file's alone.
        self._hash = hashlib.blake2b(digest_size=16)
        self._file_hash = self._hash.copy()
        # Entries after the file, in list order; how many of them the body's
        # tail holds; whether one was added among those.
        self._tail: list[tuple[int, str]] = []
        self._written = 0
        self._resort = False
        self._changed = False
        self._rebuild = True
        # Steps that make written bodies durable and shareable (see bodies.py).
        self.to_publish: list[Callable[[], object]] = []

    @property
    def current(self) -> BodyFile | None:
        return None if self._rebuild or self._changed else self._file

    def rebuild(self, catalog: Catalog) -> None:
        first: dict[str, LocationRecord] = {}
        damaged = catalog.damaged_packets()
        self._locations = catalog.location_names()
        self._last = None
        for position, location in enumerate(self._locations):
            records = catalog.records(location)
            # Records are loaded in id order, so this sort is one quick pass.
            added = [
                packet_id
                for packet_id in sorted(records)
                if packet_id not in first and packet_id not in damaged
            ]
            for packet_id in added:
                first[packet_id] = records[packet_id]
            if added:
                self._last = (position, added[-1])
        self.first = first
        self._rebuild = True
        self._tail, self._written, self._resort = [], 0, False

    def update(self, catalog: Catalog, changes: Changes | None) -> None:
        if changes is None or changes.removed or not self._extend(catalog, changes):
            self.rebuild(catalog)

    def _extend(self, catalog: Catalog, changes: Changes) -> bool:
        """Add the new records if they all belong after the file; False if they do not."""
        locations = catalog.location_names()
        if locations != self._locations:
            return False
        position = {location: number for number, location in enumerate(locations)}
        if any(location not in position for location, _ in changes.records):
            return False
        damaged = catalog.damaged_packets()
        for number, packet_id in sorted((position[loc], pid) for loc, pid in changes.records):
            earlier = locations[:number]
            if packet_id in damaged or any(
                packet_id in catalog.records(location) for location in earlier
            ):
                continue
            record = catalog.records(locations[number]).get(packet_id)
            # A packet already listed is listed under a later location: it
            # moves, and the list is rebuilt.
            if record is None or packet_id in self.first:
                return False
            if not self._add((number, packet_id), record):
                return False
        return True

    def _add(self, key: tuple[int, str], record: LocationRecord) -> bool:
        packet_id = key[1]
        if self._rebuild:
            # The whole list is to be written from `first`, in its order.
            if self._last is not None and key < self._last:
                return False
            self.first[packet_id] = record
            self._last = key
            return True
        if self._file_last is not None and key < self._file_last:
            return False
        at = bisect.bisect(self._tail, key)
        self._tail.insert(at, key)
        self.first[packet_id] = record
        # Those that sort after it move behind it, so that `first` stays in list order.
        for _, later in self._tail[at + 1 :]:
            self.first[later] = self.first.pop(later)
        self._resort = self._resort or at < self._written
        self._last = self._tail[-1]
        self._changed = True
        return True

    def body(self) -> BodyFile:
        """The current body file, written if needed (disk work: call it off the event loop)."""
        current = self.current
        if current is not None:
            return current
        if self._rebuild or self._file is None or not self._file.usable():
            found = self._whole(None, list(self.first), hashlib.blake2b(digest_size=16))
        else:
            found = self._spliced(self._file)
        self._changed = False
        self._rebuild = False
        return found

    def _spliced(self, body: BodyFile) -> BodyFile:
        """`body` with the new entries: in its tail, or in a new file once that is large."""
        if self._resort:
            base, keys, hasher = body.file_only(), self._tail, self._file_hash.copy()
        else:
            base, keys, hasher = body, self._tail[self._written :], self._hash.copy()
        entries = _hashed([_record_entry(self.first[packet_id]) for _, packet_id in keys], hasher)
        name = f"metadata-list-{hasher.hexdigest()}.json"
        found = existing(self.root, name, len(self.first))
        if found is None and len(base.tail) + sum(map(len, entries)) < SPLICE_LIMIT:
            touch(base)
            spliced = base.spliced(entries, name)
            self._file, self._hash = spliced, hasher
            self._written, self._resort = len(self._tail), False
            return spliced
        if found is None:
            found = self._written_out(base, entries, name)
        self._whole_file(found, hasher)
        return found

    def _whole(self, previous: BodyFile | None, keys: list[str], hasher: Hasher) -> BodyFile:
        """A body of its own file: `previous`'s entries (if any), then those of `keys`."""
        entries = _hashed([_record_entry(self.first[key]) for key in keys], hasher)
        name = f"metadata-list-{hasher.hexdigest()}.json"
        found = existing(self.root, name, len(self.first))
        if found is None:
            found = self._written_out(previous, entries, name)
        self._whole_file(found, hasher)
        return found

    def _written_out(self, previous: BodyFile | None, entries: list[bytes], name: str) -> BodyFile:
        with BodyWriter(self.root) as writer:
            if previous is not None:
                writer.copy_entries(previous)
            writer.add(entries)
            body, publish = writer.finish(name)
        self.to_publish.append(publish)
        return body

    def _whole_file(self, body: BodyFile, hasher: Hasher) -> None:
        """`body`, all in its file, is the list now."""
        self._file, self._hash, self._file_hash = body, hasher, hasher.copy()
        self._file_last = self._last
        self._tail, self._written, self._resort = [], 0, False


def _hashed(entries: list[bytes], hasher: Hasher) -> list[bytes]:
    for entry in entries:
        hasher.update(entry + b"\n")
    return entries


class PackitList:
    """`/packit/metadata` without `known_since`: every readable packet, ids ascending.

    The file is named by the sha256 of the ids it lists (packets are
    immutable, so the ids determine the content): a server that restarts on
    an unchanged root, or another worker, finds it without building it.
    With orderly2's `custom` the body is about 1.4 KB per packet, so copying
    it for every push would cost a 100,000-packet root 140 MB of writing
    each time: new entries are spliced after the previous file instead, and
    a new file is written only once they add up to `SPLICE_LIMIT`.
    """

    def __init__(self, root: Root) -> None:
        self.root = root
        self._file: BodyFile | None = None
        self._version = -1
        # The last id of the list, and of the part of it in the body's file
        # (the rest is in its tail).
        self._last = ""
        self._file_last = ""
        self.to_publish: list[Callable[[], object]] = []

    def body(self, catalog: Catalog) -> BodyFile:
        """The body file for the catalog as it is (disk work: call it off the event loop)."""
        ids = catalog.packet_ids()
        name = f"packit-{hashlib.sha256(''.join(ids).encode('ascii')).hexdigest()}.json"
        if self._file is None or os.path.basename(self._file.path) != name:
            found = existing(self.root, name, len(ids))
            self._file = found if found is not None else self._write(catalog, ids, name)
        self._version = catalog.version
        self._last = ids[-1] if ids else ""
        if not self._file.tail:
            self._file_last = self._last
        return self._file

    def _write(self, catalog: Catalog, ids: list[str], name: str) -> BodyFile:
        # After a restart on a root that changed meanwhile, the newest body
        # left on disk is merged with, rather than every metadata file read.
        previous = self._file if self._file is not None and self._file.usable() else None
        previous = previous or newest(self.root, "packit-")
        changes = catalog.changes_since(self._version) if previous is self._file else None
        appended = None
        if (
            previous is not None
            and changes is not None
            and not changes.removed
            and all(packet_id > self._file_last for packet_id in changes.packets)
            and previous.count + len(changes.packets) == len(ids)
        ):
            new = sorted(changes.packets)
            appended = list(packit_entries(catalog, new))
            if new and new[0] < self._last:
                # Some sort among the tail's entries (a folder listed while
                # packets land may show a later one before an earlier one):
                # the tail is merged with them, the file stays as it is.
                appended = sorted([*tail_lines(previous.tail), *appended], key=_entry_id)
                previous = previous.file_only()
            if len(previous.tail) + sum(map(len, appended)) < SPLICE_LIMIT:
                # Marked as used, so that no process takes it as unused (bodies.py).
                touch(previous)
                return previous.spliced(appended, name)
        with BodyWriter(self.root) as writer:
            if previous is None:
                writer.add(packit_entries(catalog, ids))
            elif appended is not None:
                writer.copy_entries(previous)
                writer.add(appended)
            else:
                writer.add(_merged(previous, catalog, ids))
            body, publish = writer.finish(name)
        self.to_publish.append(publish)
        return body


def _entry_id(line: bytes) -> str:
    # Each entry starts with {"id":"<id>"
    return line[7 : line.index(b'"', 7)].decode("ascii")


def _merged(previous: BodyFile, catalog: Catalog, ids: list[str]) -> Iterator[bytes]:
    """Entries for `ids`: lines of `previous` where it has them, new ones otherwise."""
    old = entry_lines(previous)
    line = next(old, None)
    missing: list[str] = []
    for packet_id in ids:
        while line is not None and _entry_id(line) < packet_id:
            line = next(old, None)  # a packet gone since
        if line is not None and _entry_id(line) == packet_id:
            if missing:
                yield from packit_entries(catalog, missing)
                missing = []
            yield line
            line = next(old, None)
        else:
            missing.append(packet_id)
    yield from packit_entries(catalog, missing)


def packit_entries(catalog: Catalog, packet_ids: list[str]) -> Iterator[bytes]:
    """One serialised entry per packet, `custom` read from its metadata file."""
    folder = str(catalog.root.metadata_dir)
    for start in range(0, len(packet_ids), BATCH):
        batch = packet_ids[start : start + BATCH]
        paths = [os.path.join(folder, packet_id) for packet_id in batch]
        for packet_id, data in zip(batch, read_many(paths), strict=True):
            summary = catalog.summary(packet_id)
            if summary is None or data is None:
                continue
            custom = orjson.loads(data).get("custom")
            yield _exact(
                orjson.dumps(
                    {
                        "id": summary.id,
                        "name": summary.name,
                        "parameters": summary.parameters,
                        "time": {"start": summary.start, "end": summary.end},
                        "custom": custom,
                    }
                )
            )


def packit_array(catalog: Catalog, packet_ids: list[str]) -> bytes:
    """A JSON array of the Packit entries of a few packets (for `known_since`)."""
    return b"[" + b",".join(packit_entries(catalog, packet_ids)) + b"]"
