"""Helpers shared by the test packages: the upstream data in ../shared, schemas."""

from __future__ import annotations

import json
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
