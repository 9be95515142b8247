"""`.outpack/config.json`: reading, validating and creating a root's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from outpack.errors import ConfigError, OutpackError
from outpack.fsutil import write_atomic
from outpack.hash import HASH_ALGORITHMS

SCHEMA_VERSION = "0.1.1"
OUTPACK_DIR = ".outpack"
CONFIG_FILE = "config.json"
TMP_DIR = "tmp"


@dataclass(frozen=True)
class CoreConfig:
    path_archive: str | None = None
    use_file_store: bool = True
    require_complete_tree: bool = True
    hash_algorithm: str = "sha256"

    def as_json(self) -> dict[str, Any]:
        return {
            "path_archive": self.path_archive,
            "use_file_store": self.use_file_store,
            "require_complete_tree": self.require_complete_tree,
            "hash_algorithm": self.hash_algorithm,
        }


@dataclass(frozen=True)
class LocationConfig:
    name: str
    type: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    schema_version: str
    core: CoreConfig
    locations: tuple[LocationConfig, ...]
    raw: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)

    @property
    def location_names(self) -> list[str]:
        return [location.name for location in self.locations]


def _require(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise ConfigError(f"Invalid configuration in '{path}': {message}")


def parse_config(data: bytes, path: Path) -> Config:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise ConfigError(f"Invalid configuration in '{path}': not valid JSON ({err})") from err
    _require(isinstance(raw, dict), path, "expected a JSON object")
    core = raw.get("core")
    _require(isinstance(core, dict), path, "'core' must be an object")
    algorithm = core.get("hash_algorithm")
    _require(
        algorithm in HASH_ALGORITHMS,
        path,
        f"'core.hash_algorithm' must be one of {', '.join(HASH_ALGORITHMS)}",
    )
    archive = core.get("path_archive")
    _require(archive is None or isinstance(archive, str), path, "'core.path_archive'")
    use_store = core.get("use_file_store")
    _require(isinstance(use_store, bool), path, "'core.use_file_store' must be a boolean")
    complete = core.get("require_complete_tree", False)
    _require(isinstance(complete, bool), path, "'core.require_complete_tree' must be a boolean")
    locations_raw = raw.get("location")
    _require(isinstance(locations_raw, list), path, "'location' must be a list")
    locations = []
    for entry in locations_raw:
        _require(
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("type"), str)
            and isinstance(entry.get("args", {}), dict),
            path,
            "each location needs a string 'name' and 'type' and an object 'args'",
        )
        locations.append(LocationConfig(entry["name"], entry["type"], entry.get("args", {})))
    return Config(
        schema_version=str(raw.get("schema_version", SCHEMA_VERSION)),
        core=CoreConfig(archive, use_store, complete, algorithm),
        locations=tuple(locations),
        raw=raw,
    )


def read_config(outpack_dir: Path) -> Config:
    path = outpack_dir / CONFIG_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise ConfigError(f"Configuration file missing: '{path}'") from err
    except OSError as err:
        raise ConfigError(f"Cannot read configuration '{path}': {err.strerror}") from err
    return parse_config(data, path)


def default_config(core: CoreConfig) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "core": core.as_json(),
        "location": [{"name": "local", "type": "local", "args": {}}],
    }


def validate_core(core: CoreConfig) -> None:
    if core.hash_algorithm not in HASH_ALGORITHMS:
        raise ConfigError(
            f"Unknown hash algorithm '{core.hash_algorithm}'; "
            f"use one of {', '.join(HASH_ALGORITHMS)}"
        )
    if not core.use_file_store and core.path_archive is None:
        raise ConfigError(
            "A root needs somewhere to keep files: use a file store "
            "(--use-file-store) and/or an archive (--path-archive)"
        )
    if core.path_archive is not None:
        archive = Path(core.path_archive)
        if archive.is_absolute() or ".." in archive.parts or core.path_archive.strip() == "":
            raise ConfigError(
                f"path_archive must be a relative path inside the root, not '{core.path_archive}'"
            )


def _differences(existing: CoreConfig, wanted: CoreConfig) -> list[str]:
    found = []
    for name, old in existing.as_json().items():
        new = wanted.as_json()[name]
        if old != new:
            found.append(
                f"{name} (existing: {orjson.dumps(old).decode()}, "
                f"requested: {orjson.dumps(new).decode()})"
            )
    return found


def init_root(path: str | Path, core: CoreConfig) -> tuple[Path, bool]:
    """Create an outpack root at `path`; returns (root path, created?).

    Re-initialising with the same core settings changes nothing; with
    different settings it is a ConfigError naming each differing setting.
    """
    validate_core(core)
    root = Path(path)
    outpack_dir = root / OUTPACK_DIR
    if (outpack_dir / CONFIG_FILE).exists():
        existing = read_config(outpack_dir).core
        differences = _differences(existing, core)
        if differences:
            raise ConfigError(
                f"Outpack root at '{root}' already exists with different settings: "
                + "; ".join(differences)
            )
        return root, False
    try:
        for sub in ("metadata", "location/local", TMP_DIR):
            (outpack_dir / sub).mkdir(parents=True, exist_ok=True)
        if core.use_file_store:
            (outpack_dir / "files").mkdir(exist_ok=True)
        if core.path_archive is not None:
            (root / core.path_archive).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutpackError(f"Cannot create outpack root at '{root}': {err.strerror}") from err
    data = orjson.dumps(default_config(core), option=orjson.OPT_INDENT_2) + b"\n"
    write_atomic(outpack_dir / CONFIG_FILE, data, outpack_dir / TMP_DIR, replace=True)
    return root, True
