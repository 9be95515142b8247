"""`fetch`: learn what locations hold, storing their metadata as orderly2 does.

For each location: list its packets, refuse one whose hash differs from what
we already know, download the metadata of packets new to us (bulk where the
location can), check each text against the listed hash, store the exact
bytes in `metadata/<id>`, then record `location/<name>/<id>` with the time
the location gives. Records are written after the metadata, so a packet is
never listed at a location before its metadata is here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from outpack.client.drivers import Driver, RemoteEntry, open_driver
from outpack.client.transfer import Options, run_parallel
from outpack.config import SCHEMA_VERSION
from outpack.errors import InvalidInputError, LocationError
from outpack.hash import Hash, hash_bytes, verify_hash
from outpack.ids import validate_packet_id
from outpack.location import LOCAL, LocationRecord
from outpack.root import Root
from outpack.staging import StagedWrites

METADATA_BATCH = 1000


@dataclass(frozen=True)
class FetchResult:
    location: str
    total: int  # packets the location lists
    new: int  # whose metadata we did not have


def selected_locations(root: Root, names: Sequence[str] | None) -> list[str]:
    """The named locations (checked), or every configured one but local."""
    configured = [name for name in root.config.location_names if name != LOCAL]
    if not names:
        return configured
    unknown = [name for name in names if name not in configured]
    if unknown:
        known = ", ".join(configured) or "none"
        raise LocationError(f"Unknown location '{unknown[0]}' (configured: {known})")
    return list(dict.fromkeys(names))


def fetch(
    root: Root,
    names: Sequence[str] | None = None,
    options: Options | None = None,
) -> list[FetchResult]:
    """Fetch the named locations (default: all)."""
    settings = options or Options()
    results = []
    for name in selected_locations(root, names):
        driver = open_driver(root, name, settings.jobs)
        try:
            results.append(fetch_from(root, name, driver, settings))
        finally:
            driver.close()
    return results


def fetch_from(root: Root, name: str, driver: Driver, options: Options) -> FetchResult:
    jobs, progress = options.jobs, options.progress
    entries = driver.list_packets()
    _check_listing(driver, entries)
    recorded = set(root.location_packet_ids(name))
    unseen = [entry for entry in entries if entry.packet not in recorded]
    have = [entry for entry in unseen if root.has_metadata(entry.packet)]
    new = [entry for entry in unseen if not root.has_metadata(entry.packet)]
    run_parallel(lambda entry: _check_known(root, driver, entry), have, jobs)
    task = progress.task(f"metadata from {name}", len(new))
    for start in range(0, len(new), METADATA_BATCH):
        batch = {entry.packet: entry for entry in new[start : start + METADATA_BATCH]}
        texts = list(driver.metadata_texts(list(batch)))
        _check_complete(driver, batch, texts)
        with StagedWrites(root.tmp_dir) as staged:
            for packet_id, data in texts:
                _store_metadata(root, driver, batch[packet_id], data, staged)
            staged.commit()
        task.advance(len(texts))
    # Records only once the metadata they point to is durable.
    with StagedWrites(root.tmp_dir) as staged:
        for entry in unseen:
            record = LocationRecord(entry.packet, entry.time, entry.hash, SCHEMA_VERSION)
            root.add_location_record(name, record, staged=staged)
        staged.commit()
    progress.done(f"Fetched {name}: {len(entries)} packets, {len(new)} new")
    return FetchResult(name, len(entries), len(new))


def _check_listing(driver: Driver, entries: list[RemoteEntry]) -> None:
    for entry in entries:
        validate_packet_id(entry.packet)
        Hash.parse(entry.hash)
    duplicated = [packet for packet, n in Counter(e.packet for e in entries).items() if n > 1]
    if duplicated:
        raise InvalidInputError(
            f"{driver.label} lists packet(s) more than once: {', '.join(duplicated[:5])}"
        )


def _check_known(root: Root, driver: Driver, entry: RemoteEntry) -> None:
    """A packet we have: the location must agree on its hash."""
    expected = Hash.parse(entry.hash)
    found = hash_bytes(expected.algorithm, root.read_metadata_bytes(entry.packet))
    if found != expected:
        raise InvalidInputError(
            f"{driver.label} has conflicting metadata for packet {entry.packet}: its hash "
            f"is {entry.hash} there but {found} here. Not importing anything from it; "
            "consider removing this location."
        )


def _check_complete(
    driver: Driver, wanted: dict[str, RemoteEntry], texts: list[tuple[str, bytes]]
) -> None:
    got = {packet_id for packet_id, _ in texts}
    missing = [packet_id for packet_id in wanted if packet_id not in got]
    extra = got - set(wanted)
    if missing or extra:
        raise InvalidInputError(
            f"{driver.label} did not send the metadata asked for "
            f"(missing: {', '.join(missing[:5]) or 'none'}; "
            f"unexpected: {', '.join(sorted(extra)[:5]) or 'none'})"
        )


def _store_metadata(
    root: Root, driver: Driver, entry: RemoteEntry, data: bytes, staged: StagedWrites
) -> None:
    expected = Hash.parse(entry.hash)
    try:
        verify_hash(expected, hash_bytes(expected.algorithm, data))
    except InvalidInputError as err:
        raise InvalidInputError(
            f"Metadata for packet {entry.packet} from {driver.label} does not match its "
            f"hash ({err.message}); nothing of it was stored"
        ) from err
    staged.write(root.metadata_path(entry.packet), data)
