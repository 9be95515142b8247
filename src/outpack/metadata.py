"""Packet metadata documents: parsed from the exact bytes stored on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from outpack.errors import InvalidMetadataError
from outpack.hash import Hash
from outpack.ids import is_packet_id

ParameterValue = bool | int | float | str


@dataclass(frozen=True, slots=True)
class PacketFile:
    path: str
    hash: str
    size: int


@dataclass(frozen=True, slots=True)
class DependencyFile:
    here: str
    there: str


@dataclass(frozen=True, slots=True)
class PacketDependency:
    packet: str
    query: str | None
    files: tuple[DependencyFile, ...]


@dataclass(frozen=True, slots=True)
class PacketTime:
    start: float
    end: float


@dataclass(frozen=True)
class PacketMetadata:
    id: str
    name: str
    parameters: dict[str, ParameterValue] | None
    time: PacketTime
    files: tuple[PacketFile, ...]
    depends: tuple[PacketDependency, ...]
    custom: dict[str, Any] | None = None
    git: dict[str, Any] | None = None
    schema_version: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dependency_ids(self) -> tuple[str, ...]:
        return tuple(dep.packet for dep in self.depends)


def _fail(where: str, message: str) -> InvalidMetadataError:
    return InvalidMetadataError(f"Invalid metadata{where}: {message}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def decode_metadata_json(data: bytes, where: str = "") -> dict[str, Any]:
    """Decode metadata bytes to a dict: UTF-8 and JSON object, or InvalidMetadataError."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _fail(where, f"not valid UTF-8 (byte {err.start})") from err
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise _fail(where, f"not valid JSON ({err})") from err
    if not isinstance(raw, dict):
        raise _fail(where, "expected a JSON object")
    return raw


def _parse_files(raw: object, where: str) -> tuple[PacketFile, ...]:
    if not isinstance(raw, list):
        raise _fail(where, "'files' must be a list")
    files = []
    for entry in raw:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("hash"), str)
            and _is_number(entry.get("size"))
        ):
            raise _fail(where, "each file needs a string 'path' and 'hash' and a numeric 'size'")
        Hash.parse(entry["hash"])
        files.append(PacketFile(entry["path"], entry["hash"], int(entry["size"])))
    return tuple(files)


def _parse_depends(raw: object, where: str) -> tuple[PacketDependency, ...]:
    if not isinstance(raw, list):
        raise _fail(where, "'depends' must be a list")
    depends = []
    for entry in raw:
        if not (isinstance(entry, dict) and isinstance(entry.get("packet"), str)):
            raise _fail(where, "each dependency needs a string 'packet'")
        if not is_packet_id(entry["packet"]):
            raise _fail(where, f"dependency '{entry['packet']}' is not a packet id")
        query = entry.get("query")
        files_raw = entry.get("files", [])
        if not isinstance(files_raw, list) or not all(
            isinstance(f, dict)
            and isinstance(f.get("here"), str)
            and isinstance(f.get("there"), str)
            for f in files_raw
        ):
            raise _fail(where, "dependency 'files' must be a list of {here, there}")
        files = tuple(DependencyFile(f["here"], f["there"]) for f in files_raw)
        depends.append(
            PacketDependency(entry["packet"], query if isinstance(query, str) else None, files)
        )
    return tuple(depends)


def _optional_object(raw: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, dict):
        raise _fail(where, f"'{key}' must be null or an object")
    return value


REQUIRED_FIELDS = ("id", "name", "time", "files", "depends")


def metadata_from_json(
    raw: dict[str, Any], where: str = "", *, check_files: bool = True
) -> PacketMetadata:
    """Check a decoded document; `check_files=False` skips the (long) file list."""
    missing = [key for key in REQUIRED_FIELDS if key not in raw]
    if missing:
        raise _fail(where, f"required fields missing: {', '.join(missing)}")
    packet_id = raw.get("id")
    if not isinstance(packet_id, str) or not is_packet_id(packet_id):
        raise _fail(where, "'id' must be a packet id")
    name = raw.get("name")
    if not isinstance(name, str):
        raise _fail(where, "'name' must be a string")
    parameters = _optional_object(raw, "parameters", where)
    if parameters is not None:
        for key, value in parameters.items():
            if value is not None and not isinstance(value, (bool, int, float, str)):
                raise _fail(where, f"parameter '{key}' must be a boolean, number or string")
    time_raw = raw.get("time")
    if not (
        isinstance(time_raw, dict)
        and _is_number(time_raw.get("start"))
        and _is_number(time_raw.get("end"))
    ):
        raise _fail(where, "'time' must have numeric 'start' and 'end'")
    schema_version = raw.get("schema_version")
    return PacketMetadata(
        id=packet_id,
        name=name,
        parameters=parameters,
        time=PacketTime(float(time_raw["start"]), float(time_raw["end"])),
        files=_parse_files(raw["files"], where) if check_files else (),
        depends=_parse_depends(raw["depends"], where),
        custom=_optional_object(raw, "custom", where),
        git=_optional_object(raw, "git", where),
        schema_version=schema_version if isinstance(schema_version, str) else None,
        raw=raw,
    )


def parse_metadata(data: bytes, where: str = "") -> PacketMetadata:
    """Parse and check metadata bytes. `where` names the source in error messages."""
    return metadata_from_json(decode_metadata_json(data, where), where)
