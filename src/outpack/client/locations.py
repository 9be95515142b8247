"""Locations in `.outpack/config.json`: add, list, remove and rename them.

Entries are `{"name", "type", "args"}` exactly as orderly2 and pyorderly write
them: `args.path` for a path location (relative paths are relative to the
root, as orderly2 reads them), `args.url` for http, and `args.url` plus
`args.token` for packit, where a token of the form `$VARIABLE` names the
environment variable holding it (orderly2's convention; we never write a
token itself). Entries of types we do not know are kept untouched.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from outpack.config import CONFIG_FILE, OUTPACK_DIR, LocationConfig, read_config
from outpack.errors import LocationError, RootNotFoundError
from outpack.fsutil import storage_error, write_atomic
from outpack.location import LOCAL
from outpack.root import Root

RESERVED_NAMES = frozenset((LOCAL, "orphan"))
LOCATION_TYPES = ("path", "http", "packit")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class LocationInfo:
    name: str
    type: str
    target: str  # the path or URL

    @classmethod
    def of(cls, location: LocationConfig) -> LocationInfo:
        args = location.args
        target = args.get("path", args.get("url", ""))
        return cls(location.name, location.type, str(target))


def location_args(type_: str, target: str, token_env: str | None = None) -> dict[str, Any]:
    """The `args` of a new location, checked (the token variable's name only)."""
    if type_ not in LOCATION_TYPES:
        raise LocationError(
            f"Unknown location type '{type_}'; use one of {', '.join(LOCATION_TYPES)}"
        )
    if token_env is not None and type_ != "packit":
        raise LocationError("--token-env is only for packit locations")
    if type_ == "path":
        return {"path": target}
    if not re.match(r"^https?://[^/\s]+", target):
        raise LocationError(f"Invalid URL '{target}': expected http://host[:port][/path]")
    if type_ == "http":
        return {"url": target}
    if token_env is None:
        raise LocationError("A packit location needs --token-env VAR naming its token's variable")
    if not _ENV_NAME.match(token_env):
        raise LocationError(f"Invalid environment variable name '{token_env}'")
    return {"url": target, "token": f"${token_env}"}


def guess_type(target: str) -> str:
    return "http" if re.match(r"^https?://", target) else "path"


def list_locations(root: Root) -> list[LocationInfo]:
    return [LocationInfo.of(location) for location in root.config.locations]


def find_location(root: Root, name: str) -> LocationConfig:
    for location in root.config.locations:
        if location.name == name:
            return location
    known = ", ".join(n for n in root.config.location_names if n != LOCAL) or "none"
    raise LocationError(f"Unknown location '{name}' (configured: {known})")


def resolve_path(root: Root, target: str) -> Path:
    """A path location's root: relative paths are relative to this root."""
    path = Path(target)
    return path if path.is_absolute() else root.path / path


def add_location(
    root: Root, name: str, type_: str, target: str, token_env: str | None = None
) -> Root:
    """Add a location; returns the root re-opened with the new configuration."""
    _check_new_name(root, name)
    args = location_args(type_, target, token_env)
    if type_ == "path":
        other = resolve_path(root, target)
        try:
            Root.open(other)
        except RootNotFoundError as err:
            raise LocationError(f"No outpack root at '{target}' (looked in '{other}')") from err
        if other.resolve() == root.path.resolve():
            raise LocationError("A root cannot be a location of itself")
    raw = dict(root.config.raw)
    raw["location"] = [*raw.get("location", []), {"name": name, "type": type_, "args": args}]
    return _write_config(root, raw)


def remove_location(root: Root, name: str) -> Root:
    """Remove a location and what we recorded it holds (metadata stays)."""
    _check_changeable(name)
    find_location(root, name)
    folder = root.location_dir / name
    if folder.exists():
        # Out of sight first (one rename), then deleted: never half a folder listed.
        doomed = root.tmp_dir / f"removed-location-{name}-{os.getpid()}"
        try:
            root.tmp_dir.mkdir(parents=True, exist_ok=True)
            os.rename(folder, doomed)
        except OSError as err:
            raise storage_error(err, f"removing location '{name}'") from err
        shutil.rmtree(doomed, ignore_errors=True)
    raw = dict(root.config.raw)
    raw["location"] = [entry for entry in raw.get("location", []) if entry.get("name") != name]
    return _write_config(root, raw)


def rename_location(root: Root, old: str, new: str) -> Root:
    _check_changeable(old)
    find_location(root, old)
    _check_new_name(root, new)
    folder = root.location_dir / old
    if folder.exists():
        try:
            os.rename(folder, root.location_dir / new)
        except OSError as err:
            raise storage_error(err, f"renaming location '{old}'") from err
    raw = dict(root.config.raw)
    raw["location"] = [
        {**entry, "name": new} if entry.get("name") == old else entry
        for entry in raw.get("location", [])
    ]
    return _write_config(root, raw)


def _check_changeable(name: str) -> None:
    if name in RESERVED_NAMES:
        raise LocationError(f"Cannot change the reserved location '{name}'")


def _check_new_name(root: Root, name: str) -> None:
    if name in RESERVED_NAMES:
        raise LocationError(f"Cannot add a location with reserved name '{name}'")
    if not _NAME.match(name):
        raise LocationError(
            f"Invalid location name '{name}': use letters, digits, '.', '_' and '-'"
        )
    if name in root.config.location_names or (root.location_dir / name).exists():
        raise LocationError(f"A location with name '{name}' already exists")


def _write_config(root: Root, raw: dict[str, Any]) -> Root:
    outpack_dir = root.path / OUTPACK_DIR
    data = orjson.dumps(raw, option=orjson.OPT_INDENT_2) + b"\n"
    write_atomic(outpack_dir / CONFIG_FILE, data, root.tmp_dir, replace=True)
    return Root(root.path, read_config(outpack_dir))
