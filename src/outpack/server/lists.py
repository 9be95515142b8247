"""The list routes' bodies, kept current by difference rather than rebuilt.

On a root of 100,000 packets, `/metadata/list` and `/packit/metadata` are
megabytes of JSON. New packets nearly always sort last (ids begin with their
creation time), so after a push the cached array is kept and only the
newcomers are serialised onto its end, once, when the list is next asked for.
Anything else (removals, a packet that sorts earlier, a record that moves a
packet to an earlier location) rebuilds the list from the catalog.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from outpack.catalog import Catalog, Changes
from outpack.location import LocationRecord
from outpack.server.responses import success_body_raw

# Where the data sits inside a success envelope.
_DATA_START = success_body_raw(b"\0").index(b"\0")
_DATA_STOP = _DATA_START + 1 - len(success_body_raw(b"\0"))


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


def extend_array_body(previous: bytes, array: bytes) -> bytes:
    """A success envelope whose data is `previous`'s array followed by `array`'s items.

    Copies the previous body once (not once per slice and concatenation).
    """
    if array == b"[]":
        return previous
    if previous[_DATA_START : _DATA_START + 2] == b"[]":
        return success_body_raw(array)
    view = memoryview(previous)
    return b"".join((view[: _DATA_STOP - 1], b",", memoryview(array)[1:], view[_DATA_STOP:]))


class _ExtendableList:
    """A cached list body and the entries waiting to be appended to it."""

    def __init__(self) -> None:
        self._body: CachedBody | None = None
        self._previous: CachedBody | None = None
        self._pending: list[str] = []

    def _invalidate(self) -> None:
        self._body = self._previous = None
        self._pending = []

    def _append(self, keys: list[str]) -> None:
        if not keys:
            return
        if self._body is not None:
            self._previous, self._body = self._body, None
        if self._previous is not None:
            self._pending.extend(keys)

    def body(self) -> CachedBody:
        if self._body is None:
            if self._previous is not None:
                array = self._array(self._pending)
                self._body = CachedBody.of(extend_array_body(self._previous.body, array))
            else:
                self._body = CachedBody.of(success_body_raw(self._array(None)))
            self._previous = None
            self._pending = []
        return self._body

    def _array(self, keys: list[str] | None) -> bytes:
        """The JSON array of these entries, or of all of them for None."""
        raise NotImplementedError


class MetadataList(_ExtendableList):
    """`/metadata/list`: locations in order, ids ascending within each, each id once.

    `first` maps each packet to its record from the first location listing
    it; its insertion order is the order of the list.
    """

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, LocationRecord] = {}
        self._locations: list[str] = []
        # (location position, id) of the list's last entry.
        self._last: tuple[int, str] | None = None

    def rebuild(self, catalog: Catalog) -> None:
        first: dict[str, LocationRecord] = {}
        self._locations = catalog.location_names()
        self._last = None
        for position, location in enumerate(self._locations):
            records = catalog.records.get(location, {})
            # Records are loaded in id order, so this sort is one quick pass.
            added = [packet_id for packet_id in sorted(records) if packet_id not in first]
            for packet_id in added:
                first[packet_id] = records[packet_id]
            if added:
                self._last = (position, added[-1])
        self.first = first
        self._invalidate()

    def update(self, catalog: Catalog, changes: Changes | None) -> None:
        if changes is None or changes.removed or not self._extend(catalog, changes):
            self.rebuild(catalog)

    def _extend(self, catalog: Catalog, changes: Changes) -> bool:
        """Append the new records if they all belong at the end; False if they do not."""
        locations = catalog.location_names()
        if locations != self._locations:
            return False
        position = {location: number for number, location in enumerate(locations)}
        if any(location not in position for location, _ in changes.records):
            return False
        appended: list[str] = []
        for number, packet_id in sorted((position[loc], pid) for loc, pid in changes.records):
            earlier = locations[:number]
            if any(packet_id in catalog.records.get(location, {}) for location in earlier):
                continue
            record = catalog.records.get(locations[number], {}).get(packet_id)
            # A packet already listed is listed under a later location, so it
            # fails this test too: it moves, and the list is rebuilt.
            if record is None or (self._last is not None and (number, packet_id) <= self._last):
                return False
            self.first[packet_id] = record
            self._last = (number, packet_id)
            appended.append(packet_id)
        self._append(appended)
        return True

    def _array(self, keys: list[str] | None) -> bytes:
        first = self.first
        records: Iterable[LocationRecord] = (
            first.values() if keys is None else (first[key] for key in keys)
        )
        data = [
            {"packet": record.packet, "time": record.time, "hash": record.hash}
            for record in records
        ]
        return orjson.dumps(data)


class PackitList(_ExtendableList):
    """`/packit/metadata` without `known_since`: every readable packet, ids ascending."""

    def __init__(self, catalog: Catalog) -> None:
        super().__init__()
        self._catalog = catalog
        self._last = catalog.ids[-1] if catalog.ids else ""

    def update(self, changes: Changes | None) -> None:
        ids = self._catalog.ids
        if changes is None or changes.removed or any(i <= self._last for i in changes.packets):
            self._invalidate()
        else:
            self._append(sorted(changes.packets))
        self._last = ids[-1] if ids else ""

    def _array(self, keys: list[str] | None) -> bytes:
        return packit_array(self._catalog, self._catalog.ids if keys is None else keys)


def packit_array(catalog: Catalog, packet_ids: list[str]) -> bytes:
    summaries = catalog.summaries
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
