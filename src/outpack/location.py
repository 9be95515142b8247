"""Location records: `.outpack/location/<name>/<id>`, one small JSON per known packet."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from outpack.config import SCHEMA_VERSION
from outpack.errors import InvalidMetadataError
from outpack.hash import Hash
from outpack.ids import is_packet_id

LOCAL = "local"


@dataclass(frozen=True, slots=True)
class LocationRecord:
    packet: str
    time: float
    hash: str
    schema_version: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version or SCHEMA_VERSION,
            "packet": self.packet,
            "time": self.time,
            "hash": self.hash,
        }

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.as_json())


def new_location_record(
    packet_id: str, packet_hash: Hash, when: float | None = None
) -> LocationRecord:
    """A record made now (or at `when`, e.g. a time copied from another location)."""
    # Rounded to microseconds: well past the millisecond precision clients need.
    moment = round(time.time(), 6) if when is None else when
    return LocationRecord(packet_id, moment, str(packet_hash), SCHEMA_VERSION)


def parse_location_record(data: bytes, where: str = "") -> LocationRecord:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise InvalidMetadataError(f"Invalid location record{where}: not valid JSON") from err
    if not isinstance(raw, dict):
        raise InvalidMetadataError(f"Invalid location record{where}: expected a JSON object")
    missing = [key for key in ("packet", "time", "hash") if key not in raw]
    if missing:
        raise InvalidMetadataError(
            f"Invalid location record{where}: required fields missing: {', '.join(missing)}"
        )
    packet, when, packet_hash = raw.get("packet"), raw.get("time"), raw.get("hash")
    if not (isinstance(packet, str) and is_packet_id(packet)):
        raise InvalidMetadataError(f"Invalid location record{where}: 'packet' must be an id")
    if not isinstance(when, (int, float)) or isinstance(when, bool):
        raise InvalidMetadataError(f"Invalid location record{where}: 'time' must be a number")
    if not isinstance(packet_hash, str):
        raise InvalidMetadataError(f"Invalid location record{where}: 'hash' must be a string")
    Hash.parse(packet_hash)
    version = raw.get("schema_version")
    return LocationRecord(
        packet, float(when), packet_hash, version if isinstance(version, str) else None
    )
