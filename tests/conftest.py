"""Fixtures shared by every test package."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from outpack.config import CoreConfig, init_root
from outpack.root import Root
from tests.support import shared_path


@pytest.fixture
def copy_fixture(tmp_path: Path) -> Callable[[str], Path]:
    """Copy one of the shared fixture roots into a temporary folder; returns its path."""

    def copy(name: str) -> Path:
        source = shared_path("fixtures", name)
        destination = tmp_path / name
        shutil.copytree(source, destination)
        for path in [destination, *destination.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        return destination

    return copy


@pytest.fixture
def new_root(tmp_path: Path) -> Root:
    """A fresh root with a file store and complete-tree requirement (the server's settings)."""
    path, _ = init_root(
        tmp_path / "root", CoreConfig(use_file_store=True, require_complete_tree=True)
    )
    return Root.open(path)
