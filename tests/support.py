"""Helpers shared by the test packages: the upstream data in ../shared, schemas, waiting."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import validators
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURE_ROOTS = ("outpack-example", "outpack-bad-example", "pyorderly-repo")


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test when that folder is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (tests needing ../shared/ are skipped)")
    return path


def load_schema_validator(kind: str, name: str) -> Any:
    """A jsonschema validator for ../shared/schema/<kind>/<name>, $refs resolved locally."""
    folder = shared_path("schema", kind)
    registry: Registry[Any] = Registry()
    for path in folder.glob("*.json"):
        contents = json.loads(path.read_text())
        registry = registry.with_resource(path.name, Resource.from_contents(contents))
    schema = json.loads((folder / name).read_text())
    cls = validators.validator_for(schema)
    return cls(schema, registry=registry)


# Tests wait on conditions, never for a fixed time, and never assert how long
# something took: this deadline is only there to fail a test that would hang,
# so it is generous for a loaded machine. Speed figures belong in benchmarks/.
PATIENCE_S = 60.0


def wait_for(condition: Callable[[], bool], timeout: float = PATIENCE_S, what: str = "") -> None:
    """Poll `condition` until it holds; fail only after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met after {timeout:.0f} s")
        time.sleep(0.02)
