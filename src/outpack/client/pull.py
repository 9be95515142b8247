"""`pull` and `mirror`: bring packets (and their dependencies) in from locations.

Files are downloaded in parallel straight into the file store (or, for a
root with only an archive, into a staging store under `.outpack/tmp`), each
hash-checked before it becomes visible. Only then are packets marked
unpacked, dependencies first, level by level: a packet is in
`location/local` only once all its files (and, with require_complete_tree,
its dependencies) are. Running the same pull again after an interruption
transfers only what is still missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace

from outpack.client.archive import archive_path, copy_into
from outpack.client.drivers import Driver, open_driver
from outpack.client.fetch import fetch, selected_locations
from outpack.client.plan import PacketPlan, closure, resolve_ids
from outpack.client.transfer import Options, run_parallel
from outpack.errors import (
    HashMismatchError,
    InvalidInputError,
    MissingDependenciesError,
    NotFoundError,
    PacketNotFoundError,
)
from outpack.hash import Hash, hash_bytes, verify_hash
from outpack.location import LOCAL, LocationRecord, new_location_record
from outpack.metadata import PacketMetadata
from outpack.root import Root
from outpack.staging import StagedWrites
from outpack.store import FileStore

STAGING = "pull-files"
# Files travel in batches (one request each where the server has a bulk
# route) that become durable together: see outpack.staging.
BATCH_FILES = 500
MIN_BATCH_FILES = 50  # below this, parallel requests gain nothing over one bulk answer
BATCH_BYTES = 64 << 20
Source = tuple[str, LocationRecord]  # location name, its record of the packet


@dataclass(frozen=True)
class PullResult:
    packets: int  # newly unpacked here
    files: int  # downloaded
    bytes: int


def pull(
    root: Root,
    query: str,
    locations: Sequence[str] | None = None,
    options: Options | None = None,
) -> PullResult:
    """Pull the packets `query` finds among what `locations` (default: all) hold."""
    settings = options or Options()
    names = selected_locations(root, locations)
    if not settings.recursive and root.config.core.require_complete_tree:
        raise InvalidInputError(
            "This root requires a complete tree, so dependencies are always pulled: "
            "drop --no-recursive"
        )
    if settings.fetch_first:
        fetch(root, names, settings)
    ids = resolve_ids(root, query, locations=names)
    return pull_ids(root, ids, names, settings)


def mirror(root: Root, location: str, options: Options | None = None) -> PullResult:
    """Pull everything `location` holds, keeping the times it lists (a true copy)."""
    settings = replace(options or Options(), recursive=True, keep_times=True)
    fetch(root, [location], settings)
    return pull_ids(root, root.location_packet_ids(location), [location], settings)


def pull_ids(
    root: Root,
    ids: Sequence[str],
    locations: Sequence[str],
    options: Options | None = None,
) -> PullResult:
    """Pull these packets (known here, held by some of `locations`)."""
    settings = options or Options()
    unpacked = root.unpacked_ids()
    packets = closure(
        ids, lambda packet_id: _metadata(root, packet_id), recursive=settings.recursive
    )
    wanted = {packet_id: m for packet_id, m in packets.items() if packet_id not in unpacked}
    sources = _sources(root, list(wanted), locations)
    plan = PacketPlan.of(wanted)
    puller = _Puller(root, plan, sources, settings)
    try:
        files, size = puller.download()
        puller.unpack()
    finally:
        puller.close()
    settings.progress.done(f"Pulled {len(wanted)} packets ({files} files, {size} bytes)")
    return PullResult(len(wanted), files, size)


def _metadata(root: Root, packet_id: str) -> PacketMetadata:
    try:
        return root.read_metadata(packet_id)
    except PacketNotFoundError as err:
        raise NotFoundError(
            f"Packet {packet_id} is not known here: fetch its location's metadata first"
        ) from err


def _sources(root: Root, ids: list[str], locations: Sequence[str]) -> dict[str, Source]:
    """For each packet, the first location holding it and its record there."""
    held = {name: set(root.location_packet_ids(name)) for name in locations}
    sources = {}
    for packet_id in ids:
        name = next((n for n in locations if packet_id in held[n]), None)
        if name is None:
            raise NotFoundError(
                f"Packet {packet_id} is not available at location(s) {', '.join(locations)}"
            )
        sources[packet_id] = (name, root.read_location_record(name, packet_id))
    return sources


class _Puller:
    def __init__(
        self,
        root: Root,
        plan: PacketPlan,
        sources: dict[str, Source],
        options: Options,
    ) -> None:
        self.root = root
        self.plan = plan
        self.sources = sources
        self.jobs = options.jobs
        self.progress = options.progress
        self.keep_times = options.keep_times
        self.core = root.config.core
        self.store = (
            root.store
            if self.core.use_file_store
            else FileStore(root.tmp_dir / STAGING, root.tmp_dir)
        )
        self.drivers: dict[str, Driver] = {}

    def close(self) -> None:
        for driver in self.drivers.values():
            driver.close()

    def _driver(self, name: str) -> Driver:
        if name not in self.drivers:
            self.drivers[name] = open_driver(self.root, name, self.jobs)
        return self.drivers[name]

    def download(self) -> tuple[int, int]:
        """Fetch every file not here yet; returns (files, bytes)."""
        origin: dict[str, tuple[str, str]] = {}  # hash -> (packet id, path)
        for packet_id in self.plan.ids:
            for file in self.plan.packets[packet_id].files:
                origin.setdefault(file.hash, (packet_id, file.path))
        missing = [h for h in origin if not self.store.exists(Hash.parse(h))]
        if not self.core.use_file_store:
            missing = [h for h in missing if not self._archived(*origin[h])]
        by_location: dict[str, list[str]] = {}
        for file_hash in missing:
            by_location.setdefault(self.sources[origin[file_hash][0]][0], []).append(file_hash)
        for name in by_location:
            self._driver(name)  # opened once, before the threads start
        sizes = self.plan.sizes
        total = sum(sizes[h] for h in missing)
        task = self.progress.task("files", len(missing), total)

        def get(batch: tuple[str, list[str]]) -> None:
            name, hashes = batch
            driver = self.drivers[name]
            with StagedWrites(self.store.tmp_dir) as staged:
                try:
                    driver.fetch_files(
                        hashes,
                        lambda h: self.store.begin(Hash.parse(h), staged),
                        lambda h: task.advance(1, sizes[h]),
                    )
                except HashMismatchError as err:
                    packet_id, path = origin[err.expected]
                    raise InvalidInputError(
                        f"File '{path}' of packet {packet_id} from {driver.label} does not "
                        f"match its hash (expected {err.expected}, found {err.found}); it was "
                        "not stored"
                    ) from err
                staged.commit()

        work = [
            (name, batch)
            for name, hashes in by_location.items()
            for batch in batches(hashes, sizes, self.jobs)
        ]
        run_parallel(get, work, min(self.jobs, len(work)))
        return len(missing), total

    def _archived(self, packet_id: str, path: str) -> bool:
        return archive_path(self.root, self.plan.packets[packet_id], path).is_file()

    def unpack(self) -> None:
        if self.core.path_archive is not None:
            with StagedWrites(self.root.tmp_dir) as staged:
                run_parallel(lambda i: self._fill_archive(i, staged), self.plan.ids, self.jobs)
                staged.commit()
        task = self.progress.task("packets", len(self.plan.ids))
        for level in self.plan.order:
            # A level's records become durable together, before the next
            # level's packets (which may depend on them) are checked.
            with StagedWrites(self.root.tmp_dir) as staged:

                def mark(packet_id: str) -> None:
                    record = self.sources[packet_id][1]
                    when = record.time if self.keep_times else None
                    mark_unpacked(self.root, packet_id, record.hash, when, staged)
                    task.advance()

                run_parallel(mark, level, self.jobs)
                staged.commit()
        if not self.core.use_file_store:
            shutil.rmtree(self.store.files_dir, ignore_errors=True)

    def _fill_archive(self, packet_id: str, staged: StagedWrites) -> None:
        metadata = self.plan.packets[packet_id]
        for file in metadata.files:
            destination = archive_path(self.root, metadata, file.path)
            if not destination.is_file():
                source = self.store.locate(Hash.parse(file.hash))
                copy_into(source, destination, self.root.tmp_dir, staged)


def batches(hashes: list[str], sizes: dict[str, int], jobs: int) -> list[list[str]]:
    """`hashes` in consecutive groups, small enough that all `jobs` transfers get work.

    A group holds at most BATCH_FILES files and BATCH_BYTES bytes (or one bigger file).
    """
    limit = min(BATCH_FILES, max(MIN_BATCH_FILES, -(-len(hashes) // max(1, jobs))))
    groups: list[list[str]] = []
    current: list[str] = []
    size = 0
    for file_hash in hashes:
        if current and (len(current) >= limit or size + sizes[file_hash] > BATCH_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(file_hash)
        size += sizes[file_hash]
    if current:
        groups.append(current)
    return groups


def mark_unpacked(
    root: Root,
    packet_id: str,
    packet_hash: str,
    when: float | None,
    staged: StagedWrites | None = None,
) -> None:
    """Record a packet whose files are all here as unpacked (checked again)."""
    data = root.read_metadata_bytes(packet_id)
    if root.config.core.use_file_store:
        root.import_packet(data, packet_hash, time=when, staged=staged)
        return
    expected = Hash.parse(packet_hash)
    verify_hash(expected, hash_bytes(expected.algorithm, data))
    metadata = root.read_metadata(packet_id)
    if root.config.core.require_complete_tree:
        missing = root.missing_packets(metadata.dependency_ids, unpacked=True)
        if missing:
            raise MissingDependenciesError(packet_id, missing)
    root.add_location_record(LOCAL, new_location_record(packet_id, expected, when), staged=staged)
