"""`push`: send packets (always with their dependencies) to a location.

Asks the location which packets and files it lacks, uploads those files in
parallel, then the metadata, dependencies first, level by level (a server
refuses a packet whose files or dependencies it does not have yet). Then
fetches the location's list again, as orderly2 does, so this root records
what the location now holds. Running it again after an interruption sends
only what is still missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from outpack.client.archive import ArchiveFiles
from outpack.client.drivers import Driver, open_driver
from outpack.client.fetch import fetch_from, selected_locations
from outpack.client.plan import PacketPlan, closure, resolve_ids
from outpack.client.transfer import Options, Progress, run_parallel
from outpack.errors import NotFoundError
from outpack.hash import Hash
from outpack.location import LOCAL
from outpack.metadata import PacketMetadata
from outpack.root import Root

MISSING_BATCH = 10_000


@dataclass(frozen=True)
class PushResult:
    packets: int
    files: int
    bytes: int


def push(
    root: Root,
    query: str,
    location: str,
    options: Options | None = None,
) -> PushResult:
    """Push the unpacked packets `query` finds, and their dependencies, to `location`."""
    settings = options or Options()
    (name,) = selected_locations(root, [location])
    ids = resolve_ids(root, query, unpacked=True)
    unpacked = root.unpacked_ids()
    packets = closure(ids, lambda packet_id: _unpacked_metadata(root, unpacked, packet_id))
    driver = open_driver(root, name, settings.jobs)
    try:
        result = _push(root, driver, PacketPlan.of(packets), settings.jobs, settings.progress)
        fetch_from(root, name, driver, settings)
    finally:
        driver.close()
    return result


def _unpacked_metadata(root: Root, unpacked: set[str], packet_id: str) -> PacketMetadata:
    if packet_id not in unpacked:
        raise NotFoundError(f"Packet {packet_id} is not unpacked here, so it cannot be pushed")
    return root.read_metadata(packet_id)


def _push(
    root: Root, driver: Driver, plan: PacketPlan, jobs: int, progress: Progress
) -> PushResult:
    ids = plan.ids
    absent: set[str] = set()
    for start in range(0, len(ids), MISSING_BATCH):
        absent.update(driver.missing_packets(ids[start : start + MISSING_BATCH]))
    wanted = {f.hash for packet_id in absent for f in plan.packets[packet_id].files}
    hashes = sorted(wanted)
    files: list[str] = []
    for start in range(0, len(hashes), MISSING_BATCH):
        files.extend(driver.missing_files(hashes[start : start + MISSING_BATCH]))
    total = sum(plan.sizes[h] for h in files)
    source = _FileSource(root)
    task = progress.task("files", len(files), total)

    def send_file(file_hash: str) -> None:
        driver.push_file(file_hash, source.path(file_hash))
        task.advance(1, plan.sizes[file_hash])

    run_parallel(send_file, files, jobs)
    packets = progress.task("packets", len(absent))
    for level in plan.order:

        def send_packet(packet_id: str) -> None:
            data = root.read_metadata_bytes(packet_id)
            record = root.read_location_record(LOCAL, packet_id)
            driver.push_metadata(record.hash, data)
            packets.advance()

        run_parallel(send_packet, [p for p in level if p in absent], jobs)
    progress.done(f"Pushed {len(absent)} packets ({len(files)} files, {total} bytes)")
    return PushResult(len(absent), len(files), total)


class _FileSource:
    """Where a file to push is read from: the store, else the archive."""

    def __init__(self, root: Root) -> None:
        self.root = root
        self.archive = None if root.config.core.use_file_store else ArchiveFiles(root)

    def path(self, file_hash: str) -> Path:
        parsed = Hash.parse(file_hash)
        if self.archive is None:
            return self.root.store.locate(parsed)
        found = self.archive.find(parsed)
        if found is None:
            raise NotFoundError(f"File {file_hash} is in no packet of the archive intact")
        return found
