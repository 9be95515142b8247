"""A persistent copy of the catalog, so large roots open without reading every packet.

`.outpack/cache/catalog-v1.json` holds each packet's summary and every location
record. It is only ever a shortcut: on load, the folders are listed and
reconciled with it (new entries read, vanished ones dropped), and a snapshot
that is missing, unreadable, from another format or another root configuration
is ignored and rebuilt. Writes are atomic, so concurrent processes are safe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from outpack.fsutil import gc_paused, write_atomic
from outpack.hash import hash_bytes
from outpack.location import LocationRecord
from outpack.root import Root
from outpack.summary import PacketSummary

logger = logging.getLogger(__name__)

FORMAT = "outpack-python-catalog/1"
CACHE_DIR = "cache"
SNAPSHOT_FILE = "catalog-v1.json"


@dataclass
class Snapshot:
    summaries: dict[str, PacketSummary]
    invalid: dict[str, str]
    records: dict[str, dict[str, LocationRecord]]
    # folder key -> (mtime_ns, listed_at_ns) when it was last listed, so an
    # unchanged root is not even listed again on open.
    folders: dict[str, tuple[int, int]] = field(default_factory=dict)


def snapshot_path(root: Root) -> Path:
    return root.outpack_dir / CACHE_DIR / SNAPSHOT_FILE


def _config_fingerprint(root: Root) -> str:
    return str(hash_bytes("sha256", orjson.dumps(root.config.raw, option=orjson.OPT_SORT_KEYS)))


def save_snapshot(root: Root, snapshot: Snapshot) -> None:
    document = {
        "format": FORMAT,
        "config": _config_fingerprint(root),
        "packets": [summary.to_row() for summary in snapshot.summaries.values()],
        "invalid": snapshot.invalid,
        "folders": snapshot.folders,
        "records": {
            location: [[r.packet, r.time, r.hash, r.schema_version] for r in records.values()]
            for location, records in snapshot.records.items()
        },
    }
    write_atomic(snapshot_path(root), orjson.dumps(document), root.tmp_dir, replace=True)


def load_snapshot(root: Root) -> Snapshot | None:
    """The saved snapshot, or None if there is none usable."""
    path = snapshot_path(root)
    with gc_paused():
        return _load(root, path)


def _load(root: Root, path: Path) -> Snapshot | None:
    try:
        document: dict[str, Any] = orjson.loads(path.read_bytes())
        if document.get("format") != FORMAT or document.get("config") != _config_fingerprint(root):
            logger.info("Ignoring catalog snapshot %s: other format or configuration", path)
            return None
        summaries = {row[0]: PacketSummary.from_row(row) for row in document["packets"]}
        records = {
            location: {row[0]: LocationRecord(row[0], row[1], row[2], row[3]) for row in rows}
            for location, rows in document["records"].items()
        }
        folders = {
            key: (int(mtime), int(listed))
            for key, (mtime, listed) in document.get("folders", {}).items()
        }
        return Snapshot(summaries, dict(document["invalid"]), records, folders)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        logger.info("Ignoring unreadable catalog snapshot %s: %s", path, err)
        return None
