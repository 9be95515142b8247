"""Per-process views of the root, cheap to serve again and again.

Every request that depends on which packets exist first calls `refresh`,
which stats a handful of folders (Catalog) and notices anything another
worker, another server or a client writing the root directly has added. The
list bodies and checksums are serialised once per catalog version; packets
and files are immutable, so metadata bodies can be cached by id for good.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from outpack.catalog import RACY_WINDOW_NS, Catalog
from outpack.hash import hash_bytes, validate_algorithm
from outpack.location import LocationRecord
from outpack.root import Root
from outpack.server.responses import success_body_raw
from outpack.summary import PacketSummary

logger = logging.getLogger(__name__)

# Metadata documents are small (kilobytes); this bounds the cache on roots
# with very many packets while keeping every hot one in memory.
METADATA_CACHE_BYTES = 64 << 20
METADATA_CACHE_MAX_ENTRY = 1 << 20


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
        size = len(entry.text) * 2
        if size > METADATA_CACHE_MAX_ENTRY:
            return
        self._entries[packet_id] = entry
        self._used += size
        while self._used > self._budget:
            _, evicted = self._entries.popitem(last=False)
            self._used -= len(evicted.text) * 2


class _FolderWatch:
    """Cheaply tells whether the folders a catalog refresh reads may have changed.

    Catalog.refresh re-lists a folder only when its mtime moved, but finding
    that out costs it tens of microseconds (path objects, listing the
    location folders). On the hot path this check does the same with one
    `stat` per folder the route depends on. A folder whose mtime is too close
    to when it was last looked at counts as changed, as in Catalog.
    """

    def __init__(self) -> None:
        self.metadata: tuple[tuple[str, int], ...] = ()
        self.locations: tuple[tuple[str, int], ...] = ()
        self._taken_at_ns = 0

    def unchanged(self, folders: tuple[tuple[str, int], ...]) -> bool:
        if not folders:
            return False
        limit = self._taken_at_ns - RACY_WINDOW_NS
        for path, mtime in folders:
            try:
                current = os.stat(path).st_mtime_ns
            except OSError:
                current = -1
            if current != mtime or current >= limit:
                return False
        return True

    def take(self, metadata_dir: str, location_dirs: list[str]) -> None:
        """Record the folders' state; call *before* the refresh it vouches for."""
        self._taken_at_ns = time.time_ns()
        self.metadata = tuple(_mtimes([metadata_dir]))
        self.locations = tuple(_mtimes(location_dirs))


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
        self._watch = _FolderWatch()
        self._version = -1
        self._first_records: dict[str, LocationRecord] = {}
        self._list_body: bytes | None = None
        self._checksums: dict[str, bytes] = {}
        self._packit_entries: dict[str, bytes] | None = None
        self._packit_body: bytes | None = None
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
            self._version = self.catalog.version
            self._first_records = {}
            self._list_body = None
            self._checksums = {}
            self._packit_body = None
            self._index_locations()

    def _index_locations(self) -> None:
        """Each packet's record from the first location listing it (config order)."""
        first: dict[str, LocationRecord] = {}
        for location in self.catalog.location_names():
            records = self.catalog.records.get(location, {})
            for packet_id in sorted(records):
                if packet_id not in first:
                    first[packet_id] = records[packet_id]
        self._first_records = first

    # -- lists --------------------------------------------------------------

    def metadata_list_body(self) -> bytes:
        """`/metadata/list`: first locations first, ids ascending within each, once each."""
        if self._list_body is None:
            # _first_records was filled location by location, ids ascending,
            # so its insertion order is the order the API promises.
            data = [
                {"packet": record.packet, "time": record.time, "hash": record.hash}
                for record in self._first_records.values()
            ]
            self._list_body = success_body_raw(orjson.dumps(data))
        return self._list_body

    def checksum_body(self, algorithm: str | None) -> bytes:
        name = validate_algorithm(algorithm if algorithm is not None else self.root.hash_algorithm)
        body = self._checksums.get(name)
        if body is None:
            digest = hash_bytes(name, "".join(self.catalog.ids).encode("ascii"))
            body = success_body_raw(orjson.dumps(str(digest)))
            self._checksums[name] = body
        return body

    def packit_body(self, known_since: float | None) -> bytes:
        entries = self._packit_index()
        if known_since is None:
            if self._packit_body is None:
                self._packit_body = self._join(
                    entries[packet_id] for packet_id in self.catalog.ids if packet_id in entries
                )
            return self._packit_body
        first = self._first_records
        return self._join(
            entries[packet_id]
            for packet_id in self.catalog.ids
            if packet_id in entries
            and (record := first.get(packet_id)) is not None
            and record.time > known_since
        )

    @staticmethod
    def _join(parts: Iterable[bytes]) -> bytes:
        return success_body_raw(b"[" + b",".join(parts) + b"]")

    def _packit_index(self) -> dict[str, bytes]:
        # Built on first use only: it reads every metadata document, which
        # clients other than Packit never need.
        if self._packit_entries is None:
            self._packit_entries = {}
            self.catalog.subscribe(self._add_packit_entry)
            self._packit_body = None
        return self._packit_entries

    def _add_packit_entry(self, summary: PacketSummary) -> None:
        assert self._packit_entries is not None
        entry = orjson.dumps(
            {
                "id": summary.id,
                "name": summary.name,
                "parameters": summary.parameters,
                "time": {"start": summary.time.start, "end": summary.time.end},
                # Kept as JSON text by the catalog: sent on without parsing.
                "custom": orjson.Fragment(summary.custom_json),
            }
        )
        # orjson's result keeps its whole (4 KiB) buffer; one entry per packet
        # is kept, so store an exact-size copy (100,000 packets: 30 MB, not 400).
        self._packit_entries[summary.id] = bytes(memoryview(entry))
        self._packit_body = None

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
