"""Per-process views of the root, cheap to serve again and again.

Every request that depends on which packets exist first calls `refresh`,
which stats a handful of folders (Catalog) and notices anything another
worker, another server or a client writing the root directly has added. The
list bodies and checksums are serialised once per catalog version; packets
and files are immutable, so metadata bodies can be cached by id for good.
"""

from __future__ import annotations

import gc
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass

import orjson

from outpack.catalog import Catalog
from outpack.fsclock import FileSystemClock
from outpack.hash import hash_bytes, validate_algorithm
from outpack.root import Root
from outpack.server.lists import CachedBody, MetadataList, PackitList, packit_array
from outpack.server.responses import success_body_raw

logger = logging.getLogger(__name__)

# Metadata documents are small (kilobytes) and a read from the page cache
# costs tens of microseconds, so only the hot ones are kept: a bigger cache
# would fill for hours under clients reading many packets, and resident
# memory with it.
METADATA_CACHE_BYTES = 8 << 20
METADATA_CACHE_MAX_ENTRY = 1 << 20
# Below this, collections are cheap anyway (and test processes, which build
# many small servers, should not pay for a full collection each time).
FREEZE_AT_PACKETS = 10_000


@dataclass(slots=True)
class _MetadataEntry:
    text: bytes
    json_body: bytes | None = None


class _MetadataCache:
    def __init__(self, budget: int) -> None:
        self._entries: OrderedDict[str, _MetadataEntry] = OrderedDict()
        self._budget = budget
        self._used = 0

    def get(self, packet_id: str) -> _MetadataEntry | None:
        entry = self._entries.get(packet_id)
        if entry is not None:
            self._entries.move_to_end(packet_id)
        return entry

    def put(self, packet_id: str, entry: _MetadataEntry) -> None:
        size = _entry_size(entry)
        if size > METADATA_CACHE_MAX_ENTRY:
            return
        self._entries[packet_id] = entry
        self._used += size
        while self._used > self._budget:
            _, evicted = self._entries.popitem(last=False)
            self._used -= _entry_size(evicted)


def _entry_size(entry: _MetadataEntry) -> int:
    # The text, the envelope made from it when first asked for, and the objects.
    return len(entry.text) * 2 + 300


class _FolderWatch:
    """Cheaply tells whether the folders a catalog refresh reads may have changed.

    Catalog.refresh re-lists a folder only when its mtime moved, but finding
    that out costs it tens of microseconds (path objects, listing the
    location folders). On the hot path this check does the same with one
    `stat` per folder the route depends on. Until the file system's clock has
    passed a folder's mtime, the folder counts as changed, as in Catalog.
    """

    def __init__(self, clock: FileSystemClock) -> None:
        self._clock = clock
        self.metadata = _Folders((), settled=False)
        self.locations = _Folders((), settled=False)

    @staticmethod
    def unchanged(folders: _Folders) -> bool:
        if not folders.settled or not folders.mtimes:
            return False
        for path, mtime in folders.mtimes:
            try:
                current = os.stat(path).st_mtime_ns
            except OSError:
                current = -1
            if current != mtime:
                return False
        return True

    def take(self, metadata_dir: str, location_dirs: list[str]) -> None:
        """Record the folders' state; call *before* the refresh it vouches for."""
        self.metadata = self._folders([metadata_dir])
        self.locations = self._folders(location_dirs)

    def _folders(self, paths: list[str]) -> _Folders:
        mtimes = tuple(_mtimes(paths))
        return _Folders(mtimes, self._clock.passed(max(mtime for _, mtime in mtimes)))


@dataclass(frozen=True, slots=True)
class _Folders:
    mtimes: tuple[tuple[str, int], ...]
    settled: bool


def _mtimes(paths: list[str]) -> list[tuple[str, int]]:
    result = []
    for path in paths:
        try:
            result.append((path, os.stat(path).st_mtime_ns))
        except OSError:
            result.append((path, -1))
    return result


class ServerState:
    def __init__(self, root: Root) -> None:
        self.root = root
        self.catalog = Catalog(root, persistent=True)
        self._watch = _FolderWatch(self.catalog.clock)
        self._version = -1
        self._metadata_list = MetadataList()
        self._packit_list = PackitList(self.catalog)
        self._checksums: dict[str, CachedBody] = {}
        self._frozen: set[str] = set()
        self._metadata = _MetadataCache(METADATA_CACHE_BYTES)

    # -- freshness ----------------------------------------------------------

    def refresh(self, *, metadata: bool = True, locations: bool = True) -> None:
        """Bring the catalog up to date with the disk before answering from it.

        A route names what it depends on (the metadata folder, the location
        folders, or both), and the catalog is refreshed when any of those
        may have changed since it was last refreshed.
        """
        if (not metadata or self._watch.unchanged(self._watch.metadata)) and (
            not locations or self._watch.unchanged(self._watch.locations)
        ):
            return
        location_dir = str(self.root.location_dir)
        location_dirs = [location_dir]
        location_dirs += [os.path.join(location_dir, name) for name in self.root.location_names()]
        self._watch.take(str(self.root.metadata_dir), location_dirs)
        self.catalog.refresh()
        if self.catalog.version != self._version:
            changes = self.catalog.changes_since(self._version)
            self._version = self.catalog.version
            self._checksums = {}
            self._metadata_list.update(self.catalog, changes)
            self._packit_list.update(changes)
        self._freeze("catalog")

    def _freeze(self, part: str) -> None:
        """Move what was just built out of reach of the cyclic collector.

        The catalog of a large root is millions of long-lived objects without
        cycles (records, and summaries once the Packit list needs them); out
        of the collector's generations, each later full collection and its
        pause stay small.
        """
        if part not in self._frozen and len(self.catalog.ids) >= FREEZE_AT_PACKETS:
            self._frozen.add(part)
            gc.freeze()

    # -- lists --------------------------------------------------------------

    def metadata_list_body(self) -> CachedBody:
        return self._metadata_list.body()

    def checksum_body(self, algorithm: str | None) -> CachedBody:
        name = validate_algorithm(algorithm if algorithm is not None else self.root.hash_algorithm)
        body = self._checksums.get(name)
        if body is None:
            digest = hash_bytes(name, "".join(self.catalog.ids).encode("ascii"))
            body = CachedBody.of(success_body_raw(orjson.dumps(str(digest))))
            self._checksums[name] = body
        return body

    def packit_body(self, known_since: float | None) -> CachedBody:
        if known_since is None:
            body = self._packit_list.body()
            self._freeze("summaries")
            return body
        # Packit polls with the time of its last poll: usually few packets
        # qualify, so they are picked before anything is serialised.
        first = self._metadata_list.first
        recent = [
            packet_id
            for packet_id in self.catalog.ids
            if (record := first.get(packet_id)) is not None and record.time > known_since
        ]
        return CachedBody.of(success_body_raw(packit_array(self.catalog, recent)))

    # -- single packets -----------------------------------------------------

    def metadata_text(self, packet_id: str) -> bytes:
        return self._metadata_entry(packet_id).text

    def metadata_json_body(self, packet_id: str) -> bytes:
        entry = self._metadata_entry(packet_id)
        if entry.json_body is None:
            # Parsing proves the stored bytes are one valid JSON value, so they
            # can go into the envelope as they are, without re-serialising.
            orjson.loads(entry.text)
            entry.json_body = success_body_raw(entry.text.strip())
        return entry.json_body

    def _metadata_entry(self, packet_id: str) -> _MetadataEntry:
        entry = self._metadata.get(packet_id)
        if entry is None:
            entry = _MetadataEntry(self.root.read_metadata_bytes(packet_id))
            self._metadata.put(packet_id, entry)
        return entry

    # -- counts for /metrics --------------------------------------------------

    def metadata_count(self) -> int:
        return len(self.catalog.ids)

    def unpacked_count(self) -> int:
        return len(self.catalog.unpacked())
