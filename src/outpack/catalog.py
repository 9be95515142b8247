"""A cached, incrementally refreshed view of a root's packets and location records.

Folders are re-listed only when their modification time changes (or changed
so recently that a second change within the same clock tick could hide), and
only entries not seen before are read. Several processes can therefore share
one root: each sees what the others wrote on its next `refresh`.

With `persistent=True` the catalog starts from the snapshot in
`.outpack/cache/` (see `outpack.snapshot`) and keeps it current, so a root of
100,000 packets opens without reading every metadata document.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from outpack.errors import OutpackError
from outpack.fsclock import PROBE_NAME, FileSystemClock
from outpack.fsutil import gc_paused, read_many
from outpack.ids import packet_ids_among
from outpack.location import LOCAL, LocationRecord, parse_location_record
from outpack.root import Root
from outpack.snapshot import CACHE_DIR, Snapshot, load_snapshot, save_snapshot
from outpack.summary import PacketSummary, summarise_metadata_bytes

logger = logging.getLogger(__name__)

# Rewriting the snapshot of a large root costs tens of milliseconds, so under a
# stream of pushes it is saved at most this often; it never needs to be current.
SNAPSHOT_INTERVAL_S = 30.0
# How many versions of changes a catalog remembers for `changes_since`.
CHANGE_HISTORY = 64

PacketListener = Callable[[PacketSummary], None]


@dataclass
class _FolderState:
    mtime_ns: int = -1
    # Whether no later change can leave the folder with this mtime (see fsclock).
    settled: bool = False

    def unchanged(self, mtime_ns: int) -> bool:
        return self.settled and mtime_ns == self.mtime_ns


@dataclass
class Changes:
    packets: list[str] = field(default_factory=list)
    records: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0

    def __bool__(self) -> bool:
        return bool(self.packets or self.records or self.removed)

    def extend(self, other: Changes) -> None:
        self.packets.extend(other.packets)
        self.records.extend(other.records)
        self.removed += other.removed


class Catalog:
    def __init__(self, root: Root, *, persistent: bool = False) -> None:
        self.root = root
        self.persistent = persistent
        self.ids: list[str] = []
        self._summaries: dict[str, PacketSummary] = {}
        self.invalid: dict[str, str] = {}
        self._records: dict[str, dict[str, LocationRecord]] = {}
        # The loaded snapshot, until its summaries and records are first read.
        self._unread_summaries: Snapshot | None = None
        self._unread_records: Snapshot | None = None
        self.version = 0
        self._history: deque[tuple[int, Changes]] = deque(maxlen=CHANGE_HISTORY)
        self._known: set[str] = set()
        self._folders: dict[str, _FolderState] = {}
        self.clock = FileSystemClock(root.outpack_dir / CACHE_DIR / PROBE_NAME)
        self._listeners: list[PacketListener] = []
        self._summarise = persistent
        self._dirty = False
        self._saved_at = 0.0
        if persistent:
            snapshot = load_snapshot(root)
            if snapshot is not None:
                self._restore(snapshot)

    def _restore(self, snapshot: Snapshot) -> None:
        self.invalid = snapshot.invalid
        self._unread_summaries = self._unread_records = snapshot
        self._known = set(snapshot.packet_ids) | set(snapshot.invalid)
        # Saved in id order, so sorting is one pass over an ordered list.
        self.ids = sorted([*snapshot.packet_ids, *snapshot.invalid])
        self._folders = {
            key: _FolderState(mtime, settled) for key, (mtime, settled) in snapshot.folders.items()
        }
        self._saved_at = time.monotonic()

    @property
    def summaries(self) -> dict[str, PacketSummary]:
        """Packet id -> summary, for every readable packet."""
        if self._unread_summaries is not None:
            self._summaries = self._unread_summaries.summaries
            self._unread_summaries = None
        return self._summaries

    @property
    def records(self) -> dict[str, dict[str, LocationRecord]]:
        """Location name -> packet id -> record."""
        if self._unread_records is not None:
            self._records = self._unread_records.records
            self._unread_records = None
        return self._records

    # -- subscribers ----------------------------------------------------------

    def subscribe(self, listener: PacketListener, *, replay: bool = True) -> None:
        """Call `listener` with the summary of every future packet, and (with
        `replay`) of every present one; without it, callers that can process
        many packets at once read `summaries` themselves."""
        self._ensure_summaries()
        self._listeners.append(listener)
        if not replay:
            return
        with gc_paused():
            for packet_id in self.ids:
                summary = self.summaries.get(packet_id)
                if summary is not None:
                    listener(summary)

    def _ensure_summaries(self) -> None:
        if self._summarise:
            return
        self._summarise = True
        self._summarise_packets(self.ids)

    def _summarise_packets(self, packet_ids: list[str]) -> list[PacketSummary]:
        """Read and summarise packets, reporting unreadable ones in `invalid`."""
        folder = str(self.root.metadata_dir)
        paths = [os.path.join(folder, packet_id) for packet_id in packet_ids]
        summaries = []
        with gc_paused():
            for packet_id, data in zip(packet_ids, read_many(paths), strict=True):
                try:
                    if data is None:
                        raise OutpackError("metadata file vanished while reading")
                    summary = summarise_metadata_bytes(data, f" of packet '{packet_id}'")
                except OutpackError as err:
                    logger.warning("Skipping packet %s: %s", packet_id, err.message)
                    self.invalid[packet_id] = err.message
                    continue
                self.summaries[packet_id] = summary
                summaries.append(summary)
        return summaries

    # -- refreshing -----------------------------------------------------------

    def _listing(self, key: str, path: str) -> set[str] | None:
        """The folder's entries if it may have changed since last time, else None.

        Returned as a set of raw names: on a folder of 100,000 packets the
        caller's set differences against what it knows cost milliseconds, and
        only the new names are then checked to be packet ids and sorted.
        """
        state = self._folders.setdefault(key, _FolderState())
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return set() if state.mtime_ns != -1 else None
        if state.unchanged(stat.st_mtime_ns):
            return None
        state.mtime_ns = stat.st_mtime_ns
        state.settled = self.clock.passed(stat.st_mtime_ns)
        try:
            return set(os.listdir(path))
        except FileNotFoundError:
            return set()

    def refresh(self) -> Changes:
        changes = Changes()
        listed = self._listing("metadata", str(self.root.metadata_dir))
        if listed is not None:
            self._reconcile_packets(listed, changes)
        for location in self.root.location_names():
            self._refresh_location(location, changes)
        if changes:
            self.version += 1
            self._history.append((self.version, changes))
            self._dirty = True
        if self.persistent and self._dirty:
            self.save(force=False)
        return changes

    def changes_since(self, version: int) -> Changes | None:
        """What changed after `version`, or None if that is no longer known.

        Lets each consumer of a shared catalog update what it derived from
        it by the difference, whoever called `refresh`.
        """
        if version == self.version:
            return Changes()
        later = [changes for number, changes in self._history if number > version]
        if len(later) != self.version - version:
            return None
        merged = Changes()
        for changes in later:
            merged.extend(changes)
        return merged

    def _reconcile_packets(self, listed: set[str], changes: Changes) -> None:
        unknown = listed - self._known
        # Packets are immutable and never deleted in normal use, but a root
        # edited by hand must not leave ghosts behind. Each known id still
        # listed accounts for one listed name, so only a shortfall means some
        # went, and the second difference is skipped otherwise.
        if len(listed) - len(unknown) < len(self._known):
            gone = self._known - listed
            self._known -= gone
            self.ids = [packet_id for packet_id in self.ids if packet_id not in gone]
            for packet_id in gone:
                self.summaries.pop(packet_id, None)
                self.invalid.pop(packet_id, None)
            changes.removed += len(gone)
        new = packet_ids_among(unknown)
        if not new:
            return
        self._known.update(new)
        if self.ids and new[0] < self.ids[-1]:
            self.ids = sorted(self._known)
        else:
            self.ids.extend(new)
        changes.packets.extend(new)
        if self._summarise:
            for summary in self._summarise_packets(new):
                for listener in self._listeners:
                    listener(summary)

    def _refresh_location(self, location: str, changes: Changes) -> None:
        folder = str(self.root.location_dir / location)
        listed = self._listing(f"location/{location}", folder)
        if listed is None:
            return
        known = self.records.setdefault(location, {})
        unknown = listed - known.keys()
        if len(listed) - len(unknown) < len(known):
            for packet_id in known.keys() - listed:
                del known[packet_id]
                changes.removed += 1
        new = packet_ids_among(unknown)
        paths = [os.path.join(folder, packet_id) for packet_id in new]
        with gc_paused():
            for packet_id, data in zip(new, read_many(paths), strict=True):
                try:
                    if data is None:
                        raise OutpackError("record vanished while reading")
                    known[packet_id] = parse_location_record(data, f" '{location}/{packet_id}'")
                except OutpackError as err:
                    logger.warning("Skipping location record %s/%s: %s", location, packet_id, err)
                    continue
                changes.records.append((location, packet_id))

    def save(self, *, force: bool = True) -> None:
        """Write the snapshot (when persistent); without `force`, at most every 30 s."""
        if not self.persistent or not self._dirty:
            return
        now = time.monotonic()
        if not force and now - self._saved_at < SNAPSHOT_INTERVAL_S and self._saved_at:
            return
        try:
            folders = {key: (f.mtime_ns, f.settled) for key, f in self._folders.items()}
            snapshot = Snapshot(self.summaries, self.invalid, self.records, folders)
            save_snapshot(self.root, snapshot)
        except OutpackError as err:
            # The snapshot is an optimisation; failing to write it (read-only
            # root, full disk) must not fail the request that triggered it.
            logger.info("Could not save the catalog snapshot: %s", err.message)
        self._saved_at = now
        self._dirty = False

    # -- queries --------------------------------------------------------------

    def location_names(self) -> list[str]:
        return [name for name in self.root.location_names() if name in self.records]

    def unpacked(self) -> dict[str, LocationRecord]:
        return self.records.get(LOCAL, {})
