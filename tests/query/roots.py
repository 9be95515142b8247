"""Writing small roots for query tests: packets with chosen ids, parameters and depends."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from outpack.config import CoreConfig, init_root
from outpack.hash import hash_bytes
from outpack.location import LOCAL, new_location_record
from outpack.packet import Dependency, build_metadata
from outpack.root import Root
from tests.support import shared_path


def write_root(path: Path, packets: Sequence[Mapping[str, Any]]) -> Root:
    """A root holding `packets` (dicts: id, name, parameters, depends, location).

    A packet whose `location` is not "local" gets metadata and a record at that
    location only: known here, but not unpacked.
    """
    init_root(path, CoreConfig(use_file_store=True, require_complete_tree=False))
    root = Root.open(path)
    for packet in packets:
        data = build_metadata(
            root,
            packet["name"],
            {},
            packet_id=packet["id"],
            parameters=packet.get("parameters"),
            depends=[Dependency(dep, "latest") for dep in packet.get("depends", [])],
        )
        packet_hash = hash_bytes(root.hash_algorithm, data)
        location = packet.get("location", LOCAL)
        if location == LOCAL:
            root.import_packet(data, packet_hash)
        else:
            (root.metadata_dir / packet["id"]).write_bytes(data)
            root.add_location_record(location, new_location_record(packet["id"], packet_hash))
    return root


def copy_fixture_root(name: str, destination: Path) -> Path:
    """A writable copy of one of the shared fixture roots (skips when ../shared is absent)."""
    target = destination / name
    shutil.copytree(shared_path("fixtures", name), target)
    for item in [target, *target.rglob("*")]:
        item.chmod(item.stat().st_mode | 0o200)
    return target
