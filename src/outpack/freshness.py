"""How a long-running process notices what changed in a root: one watcher, one change feed.

A packet arrives in a root as two files: `metadata/<id>`, then
`location/<name>/<id>` (written by this server, by another worker or server
on the same root, or by orderly2 and pyorderly writing the root directly).
Nobody tells the server; it finds out like this:

1. `FolderWatch` is the only component that decides whether a folder may
   have changed. It knows the folders that matter: `metadata/`,
   `location/` and each `location/<name>/` (read by `Catalog`), and the
   store's prefix folders `files/<algorithm>/<xx>/` (read by `StoreStats`).
   A folder is re-listed only when its modification time moved, or when it
   changed so recently that a second change within the same clock tick could
   hide behind the same time; `outpack.fsclock` asks the file system itself
   when that tick is over.
   In the server, on a local file system, the catalog's watch also hears
   from the kernel (`outpack.inotify`): each folder is listed in full once,
   and from then on a refresh gets only the names added since, instead of
   listing 100,000 names to find the one that arrived. Whatever the kernel
   cannot express that way (a removal, a lost event) makes the next refresh
   list that folder in full again.
2. `Catalog.refresh` lists the folders the watch reports as changed (or
   takes the names reported added), reads only the entries it has not seen,
   and publishes what it found to its
   `ChangeFeed` as a new version (`Changes`: new packets, new records,
   removals).
3. Everyone who derives something from the catalog (the server's list
   bodies, the query index) remembers the version it last saw and asks
   `catalog.changes_since(version)`: "what changed since V". The answer is
   the difference to apply, or None when the feed no longer remembers that
   far back, in which case the consumer rebuilds from the catalog.
4. The server asks `Catalog.may_have_changed` (that is,
   `FolderWatch.unchanged`) on every request that depends on which packets
   exist: one `stat` per folder, compared with the state the catalog
   recorded when it last listed them, or, where the kernel reports changes,
   one look at whether it queued any event since the last refresh (it queues
   them before the writer's system call returns). Only when that fails does the request
   wait, for a refresh that runs in a thread while other requests are served
   (see `outpack.server.state`); once the folders are unchanged since a
   refresh listed them, the request is answered. So a request that arrives
   right after a push always sees it, whoever made the push.
5. The store statistics of `/metrics` ask their own `FolderWatch` which of
   the store's folders changed, and re-read only those.

The watch records new folder states while a refresh lists, but the cheap
check only sees them once the refresh is complete (`commit`), so a request
never trusts a listing that has not yet been applied.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from outpack.fsclock import FileSystemClock
from outpack.inotify import FolderEvents

# How many versions of changes a feed remembers for `changes_since`.
CHANGE_HISTORY = 64
METADATA = "metadata"
LOCATIONS = "location"


@dataclass
class FolderState:
    mtime_ns: int = -1
    # Whether no later change can leave the folder with this mtime (see fsclock).
    settled: bool = False

    def unchanged(self, mtime_ns: int) -> bool:
        return self.settled and mtime_ns == self.mtime_ns


@dataclass(frozen=True, slots=True)
class _Published:
    """The folders a group depends on, as the last complete refresh left them."""

    keys: tuple[str, ...] = ()
    folders: tuple[tuple[str, int], ...] = ()
    settled: bool = False


@dataclass(frozen=True, slots=True)
class Listing:
    """Names in a folder that may be new to the caller."""

    names: list[str]
    # False: only the names added since the folder was last listed, possibly
    # repeated (from inotify). Removals show only in a complete listing.
    complete: bool = True


class FolderWatch:
    """Which folders changed since they were last listed; one per catalog or store view.

    Keys name folders (`metadata`, `location`, `location/<name>`,
    `files/<alg>/<xx>`); `listing` and `changed` update a folder's state,
    `unchanged` is the cheap check over a published group of folders.
    With `events` (inotify, on a local file system) a folder is listed in
    full once; later listings are the names the kernel reported added, and
    the cheap check is whether any event is pending.
    """

    def __init__(self, clock: FileSystemClock, events: FolderEvents | None = None) -> None:
        self.clock = clock
        self._events = events
        self._folders: dict[str, FolderState] = {}
        self._paths: dict[str, str] = {}
        self._published: dict[str, _Published] = {}

    # -- listing --------------------------------------------------------------

    def changed(self, key: str, path: str) -> bool | None:
        """Whether the folder may have changed since last asked (None: it does not exist).

        Records its new state: call it *before* reading the folder, so that a
        change made while reading cannot hide behind the recorded mtime.
        """
        state = self._folders.setdefault(key, FolderState())
        self._paths[key] = path
        if self._events is not None and not self._events.watching(key):
            # Before the stat: from here on, no change goes unreported.
            self._events.watch(key, path)
        try:
            mtime = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            existed = state.mtime_ns != -1
            state.mtime_ns, state.settled = -1, True
            return None if not existed else True
        if state.unchanged(mtime):
            return False
        state.mtime_ns = mtime
        state.settled = self.clock.passed(mtime)
        return True

    def listing(self, key: str, path: str) -> Listing | None:
        """The folder's entries that may be new since it was last listed; None if none can be.

        Raw names as the folder lists them, or only those added since (see
        `Listing`): callers pick out the names they do not know with one
        lookup each (no set of 100,000 names is built for that) and check
        only those.
        """
        events = self._events
        if events is not None and events.watching(key):
            if self.changed(key, path) is None:
                return None
            added = events.take(key)
            if added is not None:
                return Listing(added, complete=False) if added else None
            # The kernel could not say everything: list in full, watching afresh.
            events.watch(key, path)
            return _list(path)
        if not self.changed(key, path):
            return None
        return _list(path)

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._folders.pop(key, None)
            self._paths.pop(key, None)
            if self._events is not None:
                self._events.forget(key)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()

    # -- the cheap check --------------------------------------------------------

    def commit(self, group: str, keys: Iterable[str]) -> None:
        """Publish the state of `keys` as `group`, for `unchanged`, once a refresh is applied."""
        keys = tuple(keys)
        folders = []
        settled = True
        for key in keys:
            state = self._folders.get(key)
            if state is None:
                settled = False
                continue
            folders.append((self._paths[key], state.mtime_ns))
            settled = settled and state.settled
        # One assignment: a reader in another thread sees the old or the new group.
        self._published[group] = _Published(keys, tuple(folders), settled)

    def unchanged(self, group: str) -> bool:
        """True if no folder of `group` changed since the last `commit`.

        One poll of the inotify queue where every folder is watched, else
        one stat per folder.
        """
        published = self._published.get(group)
        if published is None or not published.folders:
            return False
        events = self._events
        if events is not None and all(map(events.watching, published.keys)):
            return not events.pending()
        if not published.settled:
            return False
        for path, mtime in published.folders:
            try:
                current = os.stat(path).st_mtime_ns
            except OSError:
                current = -1
            if current != mtime:
                return False
        return True

    # -- persistence ------------------------------------------------------------

    def state(self) -> dict[str, tuple[int, bool]]:
        return {key: (folder.mtime_ns, folder.settled) for key, folder in self._folders.items()}

    def restore(self, folders: dict[str, tuple[int, bool]]) -> None:
        self._folders = {
            key: FolderState(mtime, settled) for key, (mtime, settled) in folders.items()
        }


def _list(path: str) -> Listing:
    try:
        return Listing(os.listdir(path))
    except FileNotFoundError:
        return Listing([])


@dataclass
class Changes:
    """What one or more refreshes found: new packets and records, and how many went."""

    packets: list[str] = field(default_factory=list)
    records: list[tuple[str, str]] = field(default_factory=list)
    removed: int = 0

    def __bool__(self) -> bool:
        return bool(self.packets or self.records or self.removed)

    def extend(self, other: Changes) -> None:
        self.packets.extend(other.packets)
        self.records.extend(other.records)
        self.removed += other.removed


class ChangeFeed:
    """Numbered versions of changes, so each consumer catches up by the difference."""

    def __init__(self, history: int = CHANGE_HISTORY) -> None:
        self.version = 0
        self._history: deque[tuple[int, Changes]] = deque(maxlen=history)

    def publish(self, changes: Changes) -> None:
        if changes:
            self.version += 1
            self._history.append((self.version, changes))

    def since(self, version: int) -> Changes | None:
        """What changed after `version`, or None if that is no longer known."""
        if version == self.version:
            return Changes()
        later = [changes for number, changes in self._history if number > version]
        if version > self.version or len(later) != self.version - version:
            return None
        merged = Changes()
        for changes in later:
            merged.extend(changes)
        return merged
