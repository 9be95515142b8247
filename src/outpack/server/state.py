"""Per-process views of the root, cheap to serve again and again.

Every request that depends on which packets exist first calls `refresh`,
which stats a handful of folders (Catalog) and notices anything another
worker, another server or a client writing the root directly has added. The
list bodies and checksums are serialised once per catalog version; packets
and files are immutable, so metadata bodies can be cached by id for good.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass

import orjson

from outpack.catalog import RACY_WINDOW_NS, Catalog
from outpack.hash import hash_bytes, validate_algorithm
from outpack.location import LocationRecord
from outpack.root import Root
from outpack.server.responses import success_body_raw

logger = logging.getLogger(__name__)

# Metadata documents are small (kilobytes); this bounds the cache on roots
# with very many packets while keeping every hot one in memory.
METADATA_CACHE_BYTES = 64 << 20
METADATA_CACHE_MAX_ENTRY = 1 << 20
# Where the data sits inside a success envelope.
_DATA_START = success_body_raw(b"\0").index(b"\0")
_DATA_STOP = _DATA_START + 1 - len(success_body_raw(b"\0"))
# Below this, collections are cheap anyway (and test processes, which build
# many small servers, should not pay for a full collection each time).
FREEZE_AT_PACKETS = 10_000


@dataclass(frozen=True, slots=True)
class CachedBody:
    """A serialised answer and its entity tag.

    The tag is derived from the bytes alone, so every worker and every server
    over the same root gives the same tag for the same answer, and a load
    balancer may send a poller's next request anywhere.
    """

    body: bytes
    etag: bytes

    @classmethod
    def of(cls, body: bytes) -> CachedBody:
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        return cls(body, f'"{digest}"'.encode("ascii"))


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
        self._list_body: CachedBody | None = None
        self._checksums: dict[str, CachedBody] = {}
        self._packit_body: CachedBody | None = None
        # The last full list and the ids it was built from, to extend it.
        self._packit_previous: CachedBody | None = None
        self._packit_ids: list[str] = []
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
            self._version = self.catalog.version
            self._first_records = {}
            self._list_body = None
            self._checksums = {}
            if self._packit_body is not None:
                self._packit_previous = self._packit_body
            self._packit_body = None
            self._index_locations()
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

    def _index_locations(self) -> None:
        """Each packet's record from the first location listing it (config order)."""
        first: dict[str, LocationRecord] = {}
        for location in self.catalog.location_names():
            records = self.catalog.records.get(location, {})
            # Records are loaded in id order, so this sort is one quick pass.
            if first:
                for packet_id in sorted(records):
                    if packet_id not in first:
                        first[packet_id] = records[packet_id]
            else:
                first = {packet_id: records[packet_id] for packet_id in sorted(records)}
        self._first_records = first

    # -- lists --------------------------------------------------------------

    def metadata_list_body(self) -> CachedBody:
        """`/metadata/list`: first locations first, ids ascending within each, once each."""
        if self._list_body is None:
            # _first_records was filled location by location, ids ascending,
            # so its insertion order is the order the API promises.
            data = [
                {"packet": record.packet, "time": record.time, "hash": record.hash}
                for record in self._first_records.values()
            ]
            self._list_body = CachedBody.of(success_body_raw(orjson.dumps(data)))
        return self._list_body

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
            return self._packit_all()
        # Packit polls with the time of its last poll: usually few packets
        # qualify, so they are picked before anything is serialised.
        first = self._first_records
        recent = [
            packet_id
            for packet_id in self.catalog.ids
            if (record := first.get(packet_id)) is not None and record.time > known_since
        ]
        return CachedBody.of(success_body_raw(self._packit_array(recent)))

    def _packit_all(self) -> CachedBody:
        """The whole list, extended in place when packets only arrived after the last one.

        Ids begin with their creation time, so new packets almost always sort
        last: the cached array is then kept and only the newcomers serialised.
        One copy of the body is all that is kept (no per-packet pieces).
        """
        ids = self.catalog.ids
        if self._packit_body is not None:
            return self._packit_body
        done = self._packit_ids
        previous = self._packit_previous
        if previous is not None and len(ids) >= len(done) and ids[: len(done)] == done:
            old = previous.body[_DATA_START:_DATA_STOP]
            new = self._packit_array(ids[len(done) :])
            array = old if new == b"[]" else new if old == b"[]" else old[:-1] + b"," + new[1:]
        else:
            array = self._packit_array(ids)
        self._packit_previous = None
        self._packit_body = CachedBody.of(success_body_raw(array))
        self._packit_ids = list(ids)
        self._freeze("summaries")
        return self._packit_body

    def _packit_array(self, packet_ids: list[str]) -> bytes:
        summaries = self.catalog.summaries
        entries = [
            {
                "id": summary.id,
                "name": summary.name,
                "parameters": summary.parameters,
                "time": {"start": summary.start, "end": summary.end},
                # Kept as JSON text by the catalog: sent on without parsing.
                "custom": orjson.Fragment(summary.custom_json),
            }
            for packet_id in packet_ids
            if (summary := summaries.get(packet_id)) is not None
        ]
        return orjson.dumps(entries)

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
