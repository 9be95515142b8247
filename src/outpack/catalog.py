"""A cached, incrementally refreshed view of a root's packets and location records.

`refresh` lists only the folders `FolderWatch` reports as changed and reads
only entries not seen before (see `outpack.freshness` for the whole story of
how changes are noticed); what it finds is published as a new version of the
catalog's change feed, which consumers read with `changes_since`. Several
processes can therefore share one root: each sees what the others wrote on
its next `refresh`.

The read API is narrow on purpose: `packet_ids`, `summary`, `summaries`,
`location_names`, `records`, `unpacked_ids`, `damaged`, `version` and
`changes_since`. What it returns belongs to the catalog: read it, never
modify it, and do not keep it across a `refresh` in another thread.

A damaged packet (metadata that is not JSON or lacks a required field) or
location record is logged once, as a warning naming the file, and left out
of `packet_ids` and `records`: it exists for nobody until it is repaired.

With `persistent=True` the catalog starts from the snapshot in
`.outpack/cache/` (see `outpack.snapshot`) and can save it again, so a root of
100,000 packets opens without reading every metadata document.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Collection, Iterable, Mapping

from outpack.errors import OutpackError
from outpack.freshness import LOCATIONS, METADATA, ChangeFeed, Changes, FolderWatch, Listing
from outpack.fsclock import PROBE_NAME, FileSystemClock
from outpack.fsutil import gc_paused, read_many
from outpack.ids import packet_ids_among
from outpack.inotify import FolderEvents
from outpack.location import LOCAL, LocationRecord, parse_location_record
from outpack.root import Root
from outpack.snapshot import (
    CACHE_DIR,
    Damage,
    Snapshot,
    load_snapshot,
    snapshot_bytes,
    write_snapshot,
)
from outpack.summary import PacketSummary, summarise_metadata_bytes

logger = logging.getLogger(__name__)

_NO_RECORDS: Mapping[str, LocationRecord] = {}
# Packets that sort before the last known are inserted one by one up to this many.
INSERT_AT_MOST = 64


def root_clock(root: Root) -> FileSystemClock:
    """The file-system clock of a root (its probe lives in `.outpack/cache/`)."""
    return FileSystemClock(root.outpack_dir / CACHE_DIR / PROBE_NAME)


class Catalog:
    def __init__(self, root: Root, *, persistent: bool = False, notify: bool = False) -> None:
        """`notify`: learn of new entries from inotify where it can (long-lived processes)."""
        self.root = root
        self.persistent = persistent
        events = FolderEvents.open(root.outpack_dir) if notify else None
        self._watch = FolderWatch(root_clock(root), events)
        self._feed = ChangeFeed()
        self._ids: list[str] = []
        self._summaries: dict[str, PacketSummary] = {}
        # Damaged entries: packet id -> what is wrong; location -> id -> what is wrong.
        self._damaged: dict[str, str] = {}
        self._damaged_records: dict[str, dict[str, str]] = {}
        self._records: dict[str, dict[str, LocationRecord]] = {}
        self._locations: list[str] = []
        # The loaded snapshot, until its summaries and records are first read.
        self._unread_summaries: Snapshot | None = None
        self._unread_records: Snapshot | None = None
        self._known: set[str] = set()
        self._dirty = False
        if persistent:
            snapshot = load_snapshot(root)
            if snapshot is not None:
                self._restore(snapshot)

    def _restore(self, snapshot: Snapshot) -> None:
        self._damaged = snapshot.invalid
        self._damaged_records = snapshot.damaged_records
        self._unread_summaries = self._unread_records = snapshot
        self._known = set(snapshot.packet_ids) | set(snapshot.invalid)
        # Saved in id order, so sorting is one pass over an ordered list.
        self._ids = sorted(snapshot.packet_ids)
        self._watch.restore(snapshot.folders)
        for packet_id, message in self._damaged.items():
            logger.warning(
                "Damaged packet %s left out: %s", self._metadata_file(packet_id), message
            )
        for location, damaged in self._damaged_records.items():
            for packet_id, message in damaged.items():
                logger.warning(
                    "Damaged location record %s/%s left out: %s", location, packet_id, message
                )

    def close(self) -> None:
        """Stop watching the root's folders (the catalog still answers, without refreshing)."""
        self._watch.close()

    def _metadata_file(self, packet_id: str) -> str:
        return os.path.join(self.root.metadata_dir, packet_id)

    # -- the read API -----------------------------------------------------------

    @property
    def version(self) -> int:
        return self._feed.version

    def changes_since(self, version: int) -> Changes | None:
        """What changed after `version`, or None if that is no longer known (rebuild then).

        Lets each consumer update what it derived from the catalog by the
        difference, whoever called `refresh`.
        """
        return self._feed.since(version)

    def packet_ids(self) -> list[str]:
        """Every packet with readable metadata, ascending (do not modify)."""
        return self._ids

    def summary(self, packet_id: str) -> PacketSummary | None:
        return self._all_summaries().get(packet_id)

    def summaries(self) -> Iterable[PacketSummary]:
        return self._all_summaries().values()

    def location_names(self) -> list[str]:
        """Locations with a folder, in config order, then unconfigured ones sorted."""
        return [name for name in self._locations if name in self._all_records()]

    def records(self, location: str) -> Mapping[str, LocationRecord]:
        """Packet id -> readable record at `location` (do not modify)."""
        return self._all_records().get(location, _NO_RECORDS)

    def unpacked_ids(self) -> Collection[str]:
        return self.records(LOCAL).keys()

    def damaged_packets(self) -> Collection[str]:
        """Ids whose metadata file is damaged: in no list, counted by no checksum."""
        return self._damaged.keys()

    def damaged(self) -> dict[str, str]:
        """Each damaged file (relative to `.outpack/`) -> what is wrong with it."""
        found = {f"metadata/{packet_id}": message for packet_id, message in self._damaged.items()}
        for location, damaged in self._damaged_records.items():
            for packet_id, message in damaged.items():
                found[f"location/{location}/{packet_id}"] = message
        return found

    def damaged_count(self) -> int:
        return len(self._damaged) + sum(map(len, self._damaged_records.values()))

    def may_have_changed(self, *, metadata: bool = True, locations: bool = True) -> bool:
        """Cheap (a `stat` per folder): whether `refresh` might find anything."""
        return (metadata and not self._watch.unchanged(METADATA)) or (
            locations and not self._watch.unchanged(LOCATIONS)
        )

    # -- lazily read snapshot parts ---------------------------------------------

    def _all_summaries(self) -> dict[str, PacketSummary]:
        if self._unread_summaries is not None:
            self._summaries = self._unread_summaries.summaries
            self._unread_summaries = None
        return self._summaries

    def _all_records(self) -> dict[str, dict[str, LocationRecord]]:
        if self._unread_records is not None:
            self._records = self._unread_records.records
            self._unread_records = None
        return self._records

    # -- refreshing -----------------------------------------------------------

    def refresh(self) -> Changes:
        """Bring the catalog up to date with the disk; returns what changed."""
        changes = Changes()
        listed = self._watch.listing(METADATA, str(self.root.metadata_dir))
        if listed is not None:
            self._reconcile_packets(listed, changes)
        # The location folder itself (a new location's folder changes its mtime),
        # recorded before it is read, as every folder is.
        self._watch.changed(LOCATIONS, str(self.root.location_dir))
        self._locations = self.root.location_names()
        for location in self._locations:
            self._refresh_location(location, changes)
        gone = set(self._all_records()) - set(self._locations)
        for location in gone:
            changes.removed += len(self._records.pop(location))
            self._damaged_records.pop(location, None)
        self._watch.forget(f"{LOCATIONS}/{location}" for location in gone)
        self._watch.commit(METADATA, [METADATA])
        keys = [LOCATIONS, *(f"{LOCATIONS}/{location}" for location in self._locations)]
        self._watch.commit(LOCATIONS, keys)
        self._feed.publish(changes)
        self._dirty = self._dirty or bool(changes)
        return changes

    def _reconcile_packets(self, listing: Listing, changes: Changes) -> None:
        known = self._known
        if not listing.complete:
            # Names added since the last listing. One damaged is read again:
            # it was rewritten, or read while its writer was still writing.
            damaged = self._damaged
            fresh = (name for name in listing.names if name not in known or name in damaged)
            self._add_packets(list(dict.fromkeys(fresh)), changes)
            return
        listed = listing.names
        unknown = [name for name in listed if name not in known]
        # Packets are immutable and never deleted in normal use, but a root
        # edited by hand must not leave ghosts behind. Each known id still
        # listed accounts for one listed name, so only a shortfall means some
        # went, and the second difference is skipped otherwise.
        if len(listed) - len(unknown) < len(self._known):
            gone = self._known - set(listed)
            self._known -= gone
            self._ids = [packet_id for packet_id in self._ids if packet_id not in gone]
            summaries = self._all_summaries()
            for packet_id in gone:
                summaries.pop(packet_id, None)
                self._damaged.pop(packet_id, None)
            changes.removed += len(gone)
        self._add_packets(unknown, changes)

    def _add_packets(self, names: list[str], changes: Changes) -> None:
        new = packet_ids_among(names)
        if not new:
            return
        self._known.update(new)
        valid = self._summarise_packets(new)
        if not valid:
            return
        if not self._ids or valid[0] > self._ids[-1]:
            self._ids.extend(valid)
        elif len(valid) <= INSERT_AT_MOST:
            # A few that sort among the newest (a folder listed while packets
            # land may show a later one before an earlier one).
            for packet_id in valid:
                bisect.insort(self._ids, packet_id)
        else:
            self._ids = sorted([*self._ids, *valid])
        changes.packets.extend(valid)

    def _summarise_packets(self, packet_ids: list[str]) -> list[str]:
        """Read and summarise packets; returns the readable ones, recording the rest as damaged."""
        paths = [self._metadata_file(packet_id) for packet_id in packet_ids]
        summaries = self._all_summaries()
        valid = []
        with gc_paused():
            for packet_id, data in zip(packet_ids, read_many(paths), strict=True):
                try:
                    if data is None:
                        raise OutpackError("metadata file vanished while reading")
                    summary = summarise_metadata_bytes(data, f" of packet '{packet_id}'")
                except OutpackError as err:
                    logger.warning(
                        "Damaged packet %s left out: %s",
                        self._metadata_file(packet_id),
                        err.message,
                    )
                    self._damaged[packet_id] = err.message
                    continue
                summaries[packet_id] = summary
                self._damaged.pop(packet_id, None)
                valid.append(packet_id)
        return valid

    def _refresh_location(self, location: str, changes: Changes) -> None:
        folder = str(self.root.location_dir / location)
        listed = self._watch.listing(f"{LOCATIONS}/{location}", folder)
        if listed is None:
            return
        known = self._all_records().setdefault(location, {})
        damaged = self._damaged_records.setdefault(location, {})
        if listed.complete:
            unknown = [name for name in listed.names if name not in known and name not in damaged]
        else:
            # As for packets: a damaged record reported again is read again.
            fresh = (name for name in listed.names if name not in known or name in damaged)
            unknown = list(dict.fromkeys(fresh))
        if listed.complete and len(listed.names) - len(unknown) < len(known) + len(damaged):
            names = set(listed.names)
            for packet_id in known.keys() - names:
                del known[packet_id]
                changes.removed += 1
            for packet_id in damaged.keys() - names:
                del damaged[packet_id]
        new = packet_ids_among(unknown)
        paths = [os.path.join(folder, packet_id) for packet_id in new]
        with gc_paused():
            for packet_id, data in zip(new, read_many(paths), strict=True):
                try:
                    if data is None:
                        raise OutpackError("record vanished while reading")
                    known[packet_id] = parse_location_record(data, f" '{location}/{packet_id}'")
                    damaged.pop(packet_id, None)
                except OutpackError as err:
                    logger.warning(
                        "Damaged location record %s left out: %s",
                        os.path.join(folder, packet_id),
                        err.message,
                    )
                    damaged[packet_id] = err.message
                    continue
                changes.records.append((location, packet_id))
        if not damaged:
            del self._damaged_records[location]

    def snapshot_state(self) -> Snapshot | None:
        """What the snapshot saves, if persistent and changed since loaded or last taken.

        A copy of the catalog's tables, not of what they hold (summaries and
        records are never modified once made): a few milliseconds for
        100,000 packets, so it can be taken where the catalog is not being
        refreshed and serialised anywhere later, with
        `outpack.snapshot.snapshot_bytes`, while the catalog moves on.
        """
        if not self.persistent or not self._dirty:
            return None
        snapshot = Snapshot(
            dict(self._all_summaries()),
            {location: dict(records) for location, records in self._all_records().items()},
            self._watch.state(),
            Damage(
                dict(self._damaged),
                {location: dict(damaged) for location, damaged in self._damaged_records.items()},
            ),
        )
        self._dirty = False
        return snapshot

    def snapshot(self) -> bytes | None:
        """The serialised snapshot if persistent and changed since loaded or last taken.

        Write it with `outpack.snapshot.write_snapshot` (possibly in another
        thread: the bytes no longer depend on the catalog).
        """
        state = self.snapshot_state()
        return None if state is None else snapshot_bytes(self.root, state)

    def save(self) -> bool:
        """Write the snapshot if persistent and changed since loaded or saved; True if written."""
        data = self.snapshot()
        if data is None:
            return False
        try:
            write_snapshot(self.root, data)
        except OutpackError as err:
            # The snapshot is an optimisation; failing to write it (read-only
            # root, full disk) must not fail anything else.
            logger.info("Could not save the catalog snapshot: %s", err.message)
            return False
        return True
