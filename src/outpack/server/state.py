"""What a server process keeps between requests, refreshed off the event loop.

Every request that depends on which packets exist first awaits `fresh`: a
`stat` per folder it depends on (see `outpack.freshness`). Only when one
changed does it wait for a refresh, which runs in a thread while the event
loop goes on serving other requests: the catalog reads the new entries, the
list builders learn the difference from the catalog's change feed, and a new
`View` is published in one assignment. Requests read the last published
view, so they never see a half-built one, and a request that noticed a
change is answered only once the folders it depends on are unchanged since
a refresh listed them, so it always sees a push that came before it
(read-your-writes, across workers, servers and clients writing the root
directly). Refreshes are numbered as they start, and a request that noticed
a change is satisfied by any refresh that started after it noticed: all the
requests that noticed a change while one refresh ran share the next one
(see `ServerState.fresh`), so however fast the root changes, none waits for
more than the rest of the running refresh and one more.

Work in the thread is serialised by one lock: refreshing, writing list
bodies (see `outpack.server.lists`), answering `known_since`, and copying
the catalog's tables for the snapshot. What only needs to be durable, not
seen, runs after it in one background thread, so that no request waits for
it: serialising and writing the snapshot, and publishing list bodies under
their shared names. Only one
process saves the snapshot: the one holding an advisory lock on
`.outpack/cache/snapshot.lock` (see `SnapshotSaver`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import gc
import logging
import os
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import orjson

from outpack.catalog import Catalog
from outpack.errors import OutpackError
from outpack.hash import hash_bytes, validate_algorithm
from outpack.query.service import IndexedCatalog
from outpack.root import Root
from outpack.server.bodies import BodyFile, CachedBody, remove_retired, remove_unused
from outpack.server.lists import MetadataList, PackitList, packit_array
from outpack.server.responses import success_body_raw
from outpack.snapshot import CACHE_DIR, SAVE_INTERVAL_S, snapshot_bytes, write_snapshot

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Metadata documents are small (kilobytes) and a read from the page cache
# costs about ten microseconds, so only the hottest few hundred are kept: a
# bigger cache would fill for hours under clients reading many packets, and
# resident memory with it (8 MiB did, in a soak with pushes).
METADATA_CACHE_BYTES = 1 << 20
METADATA_CACHE_MAX_ENTRY = 1 << 20
# Below this, collections are cheap anyway (and test processes, which build
# many small servers, should not pay for a full collection each time).
FREEZE_AT_PACKETS = 10_000
SNAPSHOT_LOCK = "snapshot.lock"
# Serialising the snapshot in the background sleeps this long after each slice
# (see snapshot_bytes), so that requests and refreshes hardly wait for it.
SNAPSHOT_PAUSE_S = 0.002
# A body this process no longer serves is removed this long after.
RETIRE_AFTER_S = 5.0


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


@dataclass(frozen=True, slots=True)
class View:
    """One complete state of the root, as the last refresh left it."""

    version: int = -1
    ids: tuple[str, ...] = ()
    unpacked: int = 0
    damaged: int = 0
    metadata_list: BodyFile | None = None
    packit: BodyFile | None = None
    # Checksum bodies by algorithm, filled in as asked for (same ids, same answer).
    checksums: dict[str, CachedBody] = field(default_factory=dict)


class SnapshotSaver:
    """Saves the catalog snapshot from one process only: whoever holds the lock file.

    The lock is taken without waiting and kept for the life of the process;
    others skip saving, and one of them takes over when the holder exits.
    """

    def __init__(self, root: Root) -> None:
        self._path = root.outpack_dir / CACHE_DIR / SNAPSHOT_LOCK
        self._fd: int | None = None
        self._saved_at = 0.0

    def holder(self) -> bool:
        if self._fd is not None:
            return True
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def take(self, catalog: Catalog, *, force: bool = False) -> Callable[[], None] | None:
        """The step that writes the snapshot, if this process saves it and it is due.

        Taking it copies the catalog's tables (milliseconds: call it where
        the catalog is not being refreshed); the step, which serialises and
        writes them (a large root's hundreds of milliseconds), may run
        anywhere, later, while the catalog moves on.
        """
        now = time.monotonic()
        if not force and self._saved_at and now - self._saved_at < SAVE_INTERVAL_S:
            return None
        if not self.holder():
            return None
        state = catalog.snapshot_state()
        if state is None:
            return None
        self._saved_at = now
        root = catalog.root
        return lambda: write_snapshot(root, snapshot_bytes(root, state, pause=SNAPSHOT_PAUSE_S))

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ServerState:
    def __init__(self, root: Root) -> None:
        self.root = root
        # Built in the first refresh, in a thread: loading a snapshot of a
        # large root takes a second, and GET / should not wait for it.
        self._catalog: Catalog | None = None
        # The query index, built on the first search (the packet browser's).
        self._indexed: IndexedCatalog | None = None
        self.view = View()
        self._metadata_list = MetadataList(root)
        self._packit_list = PackitList(root)
        self._snapshots = SnapshotSaver(root)
        self._work: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._refreshes = 0  # how many refreshes ran (diagnostics, tests)
        # Refreshes started for requests, and the last one completed (see `fresh`).
        self._started = 0
        self._completed = 0
        # The bodies last served, and those superseded since (when, body).
        self._metadata_list_served: BodyFile | None = None
        self._packit_served: BodyFile | None = None
        self._retired: list[tuple[float, BodyFile]] = []
        # One thread for what must become durable but nobody waits for.
        self._background = ThreadPoolExecutor(1, thread_name_prefix="outpack-background")
        # Its thread ends once the state is gone (tests build many states).
        weakref.finalize(self, self._background.shutdown, wait=False)
        self._frozen: set[str] = set()
        self._metadata = _MetadataCache(METADATA_CACHE_BYTES)

    # -- running work in the thread -------------------------------------------

    def _lock(self) -> asyncio.Lock:
        # One per event loop (tests run each request in a loop of its own).
        loop = asyncio.get_running_loop()
        if self._work is None or self._work[0] is not loop:
            self._work = (loop, asyncio.Lock())
        return self._work[1]

    async def _in_thread(self, work: Callable[[], T]) -> T:
        async with self._lock():
            return await asyncio.to_thread(work)

    # -- freshness ----------------------------------------------------------

    async def fresh(self, *, metadata: bool = True, locations: bool = True) -> View:
        """The view, refreshed first if a folder the caller depends on may have changed.

        A request that noticed a change needs a refresh that began listing
        the folders after it noticed: its ticket is the number the next
        refresh to start will get. Refreshes are numbered as they start (on
        the event loop, before they list anything), one at a time, so every
        request that noticed a change while refresh N ran is satisfied by
        N + 1, which the first of them to get the lock starts and the others
        share. A request never waits for more than the rest of the running
        refresh and one more, however fast the root keeps changing.
        """
        catalog = self._catalog
        if catalog is not None and not catalog.may_have_changed(
            metadata=metadata, locations=locations
        ):
            return self.view
        ticket = self._started + 1
        async with self._lock():
            if self._completed >= ticket:
                return self.view
            # A refresh that ran meanwhile may have listed the folders as they
            # are now, with everything written before this request: if so, the
            # folders are unchanged since it, and it is enough.
            catalog = self._catalog
            if catalog is None or catalog.may_have_changed(metadata=metadata, locations=locations):
                self._started += 1
                number = self._started
                # If it fails, the next waiter tries again (its ticket is not served).
                await asyncio.to_thread(self._refresh)
                self._completed = number
        return self.view

    def background_done(self) -> None:
        """Wait until the background writes submitted so far have finished."""
        self._background.submit(lambda: None).result()

    def _in_background(self, step: Callable[[], object]) -> None:
        def run() -> None:
            try:
                step()
            except OutpackError as err:
                # Only durability or sharing is lost: the bodies are served
                # from their temporary files, the snapshot is a shortcut.
                logger.info("Background write failed: %s", err.message)

        future: Future[None] = self._background.submit(run)
        del future

    def _refresh(self) -> None:
        self._refreshes += 1
        catalog = self._catalog
        if catalog is None:
            catalog = self._catalog = Catalog(self.root, persistent=True, notify=True)
        previous = self.view.version
        catalog.refresh()
        view = self.view
        if catalog.version != view.version or view.version == -1:
            changes = catalog.changes_since(previous) if previous >= 0 else None
            self._metadata_list.update(catalog, changes)
            view = View(
                version=catalog.version,
                ids=tuple(catalog.packet_ids()),
                unpacked=len(catalog.unpacked_ids()),
                damaged=catalog.damaged_count(),
                metadata_list=self._metadata_list.current,
            )
        self.view = view
        self._freeze("catalog", catalog)
        save = self._snapshots.take(catalog)
        if save is not None:
            self._in_background(save)

    def _freeze(self, part: str, catalog: Catalog) -> None:
        """Move what was just built out of reach of the cyclic collector.

        The catalog of a large root is millions of long-lived objects without
        cycles; out of the collector's generations, each later full
        collection and its pause stay small.
        """
        if part not in self._frozen and len(catalog.packet_ids()) >= FREEZE_AT_PACKETS:
            self._frozen.add(part)
            gc.freeze()

    async def startup(self) -> None:
        """Load the catalog before the first request needs it (ASGI lifespan startup)."""
        await self.fresh()

    async def shutdown(self) -> None:
        """Save the snapshot if this process is the one that saves it (lifespan shutdown)."""
        if self._catalog is not None:
            with contextlib.suppress(OutpackError):
                await self._in_thread(self._save_now)
        # Let the background writes (snapshot, list bodies) finish.
        await asyncio.to_thread(self._background.shutdown, wait=True)
        self._snapshots.release()
        if self._catalog is not None:
            self._catalog.close()

    def _save_now(self) -> None:
        if self._catalog is not None:
            self._refresh()
            save = self._snapshots.take(self._catalog, force=True)
            if save is not None:
                self._in_background(save)

    # -- queries ------------------------------------------------------------

    async def with_index(self, work: Callable[[IndexedCatalog], T]) -> T:
        """`work`'s result, run in the refresh thread's turn with the index current.

        Refreshes wait meanwhile, so `work` sees the catalog and index of one
        version, unchanging.
        """
        await self.fresh()
        return await self._in_thread(lambda: work(self._synced_index()))

    def _synced_index(self) -> IndexedCatalog:
        catalog = self._catalog
        assert catalog is not None
        if self._indexed is None or self._indexed.catalog is not catalog:
            self._indexed = IndexedCatalog(catalog, saves_snapshot=False)
        self._indexed.sync()
        self._freeze("index", catalog)
        return self._indexed

    # -- lists --------------------------------------------------------------

    async def metadata_list_body(self) -> BodyFile:
        view = await self.fresh(metadata=False)
        if view.metadata_list is not None:
            return view.metadata_list
        return await self._in_thread(self._build_metadata_list)

    def _build_metadata_list(self) -> BodyFile:
        body = self._metadata_list.body()
        replaced = self._metadata_list_served
        self._metadata_list_served = body
        self.view = dataclasses.replace(self.view, metadata_list=body)
        self._built(self._metadata_list.to_publish, replaced if replaced != body else None)
        return body

    def _built(self, to_publish: list[Callable[[], object]], replaced: BodyFile | None) -> None:
        for step in to_publish:
            self._in_background(step)
        to_publish.clear()
        now = time.monotonic()
        if replaced is not None:
            self._retired.append((now, replaced))
        # Superseded bodies of this process go after a few seconds (a response
        # already sending one has it open); those of others after a minute.
        due = [body for when, body in self._retired if now - when > RETIRE_AFTER_S]
        self._retired = [
            (when, body) for when, body in self._retired if now - when <= RETIRE_AFTER_S
        ]
        view = self.view
        # What the view serves, and what the list builders will build on next.
        current = (
            view.metadata_list,
            view.packit,
            self._metadata_list_served,
            self._packit_served,
        )

        def clean_up() -> None:
            remove_retired(self.root, due, current)
            remove_unused(self.root, current)

        self._in_background(clean_up)

    async def packit_body(self) -> BodyFile:
        view = await self.fresh()
        if view.packit is not None:
            return view.packit
        return await self._in_thread(self._build_packit)

    def _build_packit(self) -> BodyFile:
        if self.view.packit is not None:
            return self.view.packit
        assert self._catalog is not None
        body = self._packit_list.body(self._catalog)
        replaced = self._packit_served
        self._packit_served = body
        self.view = dataclasses.replace(self.view, packit=body)
        self._built(self._packit_list.to_publish, replaced if replaced != body else None)
        return body

    async def packit_since(self, known_since: float) -> CachedBody:
        await self.fresh()
        return await self._in_thread(lambda: self._packit_since(known_since))

    def _packit_since(self, known_since: float) -> CachedBody:
        # Packit polls with the time of its last poll: usually few packets
        # qualify, so they are picked before anything is read.
        assert self._catalog is not None
        first = self._metadata_list.first
        recent = [
            packet_id
            for packet_id in self._catalog.packet_ids()
            if (record := first.get(packet_id)) is not None and record.time > known_since
        ]
        return CachedBody.of(success_body_raw(packit_array(self._catalog, recent)))

    async def checksum_body(self, algorithm: str | None) -> CachedBody:
        name = validate_algorithm(algorithm if algorithm is not None else self.root.hash_algorithm)
        view = await self.fresh(locations=False)
        body = view.checksums.get(name)
        if body is None:
            body = await asyncio.to_thread(_checksum_body, name, view.ids)
            view.checksums[name] = body
        return body

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


def _checksum_body(algorithm: str, ids: tuple[str, ...]) -> CachedBody:
    digest = hash_bytes(algorithm, "".join(ids).encode("ascii"))
    return CachedBody.of(success_body_raw(orjson.dumps(str(digest))))
