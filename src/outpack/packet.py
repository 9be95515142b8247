"""Creating packets: put files in the store, write metadata, record as unpacked.

This is what an orderly run does at its end; outpack itself uses it for the
demo root, benchmarks and tests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from outpack.config import SCHEMA_VERSION
from outpack.hash import Hash, hash_bytes
from outpack.ids import new_packet_id
from outpack.metadata import ParameterValue
from outpack.root import Root


@dataclass
class Dependency:
    packet: str
    query: str
    files: Mapping[str, str] = field(default_factory=dict)  # here -> there


def build_metadata(  # noqa: PLR0913  # keyword-only options with defaults, as callers name them
    root: Root,
    name: str,
    files: Mapping[str, bytes],
    *,
    packet_id: str | None = None,
    parameters: Mapping[str, ParameterValue] | None = None,
    depends: Sequence[Dependency] = (),
    custom: Mapping[str, Any] | None = None,
    start: float | None = None,
) -> bytes:
    """The metadata bytes of a new packet with the given files (not yet stored)."""
    started = time.time() if start is None else start
    document = {
        "schema_version": SCHEMA_VERSION,
        "id": packet_id or new_packet_id(started),
        "name": name,
        "parameters": dict(parameters) if parameters is not None else None,
        "time": {"start": started, "end": started + 1.0},
        "files": [
            {"path": path, "size": len(data), "hash": str(hash_bytes(root.hash_algorithm, data))}
            for path, data in files.items()
        ],
        "depends": [
            {
                "packet": dep.packet,
                "query": dep.query,
                "files": [{"here": here, "there": there} for here, there in dep.files.items()],
            }
            for dep in depends
        ],
        "custom": dict(custom) if custom is not None else None,
        "git": None,
    }
    return orjson.dumps(document)


def create_packet(
    root: Root,
    name: str,
    files: Mapping[str, bytes],
    **options: Any,
) -> str:
    """Store `files`, then import a new packet holding them; returns its id."""
    for data in files.values():
        root.store.put_bytes(hash_bytes(root.hash_algorithm, data), data)
    metadata = build_metadata(root, name, files, **options)
    packet_hash: Hash = hash_bytes(root.hash_algorithm, metadata)
    return root.import_packet(metadata, packet_hash).id
