"""A cached, incrementally refreshed view of a root's packets and location records.

Folders are re-listed only when their modification time changes (or changed
so recently that a second change within the same clock tick could hide), and
only entries not seen before are read. Several processes can therefore share
one root: each sees what the others wrote on its next `refresh`.
"""

from __future__ import annotations

import bisect
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from outpack.errors import OutpackError
from outpack.ids import packet_ids_in
from outpack.location import LocationRecord, parse_location_record
from outpack.metadata import PacketMetadata, parse_metadata
from outpack.root import Root

logger = logging.getLogger(__name__)

# A folder modified less than this long before we listed it may change again
# without its mtime moving (coarse clocks on network file systems).
RACY_WINDOW_NS = 2_000_000_000

PacketListener = Callable[[PacketMetadata], None]


@dataclass
class _FolderState:
    mtime_ns: int = -1
    listed_at_ns: int = 0

    def unchanged(self, stat: os.stat_result) -> bool:
        return (
            stat.st_mtime_ns == self.mtime_ns
            and self.listed_at_ns - stat.st_mtime_ns > RACY_WINDOW_NS
        )


@dataclass
class Changes:
    packets: list[str] = field(default_factory=list)
    records: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.packets or self.records)


class Catalog:
    def __init__(self, root: Root) -> None:
        self.root = root
        self.ids: list[str] = []
        self.invalid: dict[str, str] = {}
        self.records: dict[str, dict[str, LocationRecord]] = {}
        self.version = 0
        self._known: set[str] = set()
        self._folders: dict[str, _FolderState] = {}
        self._listeners: list[PacketListener] = []

    def subscribe(self, listener: PacketListener) -> None:
        """Call `listener` with the metadata of every packet, present and future."""
        self._listeners.append(listener)
        for packet_id in self.ids:
            if packet_id not in self.invalid:
                self._notify_one(listener, packet_id)

    def _notify_one(self, listener: PacketListener, packet_id: str) -> None:
        try:
            listener(self.root.read_metadata(packet_id))
        except OutpackError as err:
            self.invalid[packet_id] = err.message

    def _listing(self, key: str, path: str) -> list[str] | None:
        """The folder's packet ids if it may have changed since last time, else None."""
        state = self._folders.setdefault(key, _FolderState())
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return [] if state.mtime_ns != -1 else None
        if state.unchanged(stat):
            return None
        state.mtime_ns = stat.st_mtime_ns
        state.listed_at_ns = time.time_ns()
        return packet_ids_in(path)

    def refresh(self) -> Changes:
        changes = Changes()
        listed = self._listing("metadata", str(self.root.metadata_dir))
        if listed is not None:
            for packet_id in listed:
                if packet_id not in self._known:
                    self._add_packet(packet_id)
                    changes.packets.append(packet_id)
        for location in self.root.location_names():
            changes.records.extend(self._refresh_location(location))
        if changes:
            self.version += 1
        return changes

    def _add_packet(self, packet_id: str) -> None:
        self._known.add(packet_id)
        bisect.insort(self.ids, packet_id)
        if not self._listeners:
            return
        try:
            metadata = parse_metadata(
                self.root.read_metadata_bytes(packet_id), f" of packet '{packet_id}'"
            )
        except OutpackError as err:
            logger.warning("Skipping packet %s: %s", packet_id, err.message)
            self.invalid[packet_id] = err.message
            return
        for listener in self._listeners:
            listener(metadata)

    def _refresh_location(self, location: str) -> list[tuple[str, str]]:
        folder = self.root.location_dir / location
        listed = self._listing(f"location/{location}", str(folder))
        if listed is None:
            return []
        known = self.records.setdefault(location, {})
        added = []
        for packet_id in listed:
            if packet_id in known:
                continue
            try:
                known[packet_id] = parse_location_record(
                    (folder / packet_id).read_bytes(), f" '{folder / packet_id}'"
                )
            except (OSError, OutpackError) as err:
                logger.warning("Skipping location record %s/%s: %s", location, packet_id, err)
                continue
            added.append((location, packet_id))
        return added

    def location_names(self) -> list[str]:
        return [name for name in self.root.location_names() if name in self.records]

    def first_record(self, packet_id: str) -> LocationRecord | None:
        """The record of the first location (in config order) that lists the packet."""
        for location in self.root.location_names():
            record = self.records.get(location, {}).get(packet_id)
            if record is not None:
                return record
        return None

    def unpacked(self) -> dict[str, LocationRecord]:
        return self.records.get("local", {})
