"""Across clients: what `outpack push` sends, pyorderly pulls, and the other way round."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.client.conftest import ServerProcess, new_root, outpack, part
from tests.server.test_pyorderly import make_source

location = pytest.importorskip("pyorderly.outpack.location")
location_push = pytest.importorskip("pyorderly.outpack.location_push")
location_pull = pytest.importorskip("pyorderly.outpack.location_pull")
pyorderly_init = pytest.importorskip("pyorderly.outpack.init")

StartServer = Callable[..., ServerProcess]


def pyorderly_root(path: Path) -> Path:
    pyorderly_init.outpack_init(
        path, path_archive=None, use_file_store=True, require_complete_tree=True
    )
    return path


def same_packets(one: Path, other: Path) -> None:
    assert part(one, "metadata") == part(other, "metadata")
    assert part(one, "files") == part(other, "files")
    assert part(one, "location/local").keys() == part(other, "location/local").keys()


def test_outpack_pushes_and_pyorderly_pulls(tmp_path: Path, start_server: StartServer) -> None:
    source = tmp_path / "source"
    ids = make_source(source)  # written by pyorderly: five packets, a dependency tree
    served = new_root(tmp_path / "served").path
    server = start_server(served)
    outpack("location", "add", "srv", server.url, "--root", source)
    outpack("push", " ".join(ids), "--location", "srv", "--root", source)
    same_packets(served, source)

    copy = pyorderly_root(tmp_path / "copy")
    location.outpack_location_add("srv", "http", {"url": server.url}, root=copy)
    location_pull.outpack_location_pull_metadata(root=copy)
    location_pull.outpack_location_pull_packet(ids, root=copy)
    same_packets(copy, source)


def test_pyorderly_pushes_and_outpack_pulls(tmp_path: Path, start_server: StartServer) -> None:
    source = tmp_path / "source"
    ids = make_source(source)
    served = new_root(tmp_path / "served").path
    server = start_server(served)
    location.outpack_location_add("srv", "http", {"url": server.url}, root=source)
    location_push.outpack_location_push(ids, "srv", root=source)

    # Into a root pyorderly made, which pyorderly can read afterwards.
    copy = pyorderly_root(tmp_path / "copy")
    location.outpack_location_add("srv", "http", {"url": server.url}, root=copy)
    outpack("pull", ids[-1], "--root", copy)  # the last packet depends on the others but one
    outpack("pull", 'name == "data"', "--root", copy)
    same_packets(copy, source)
    assert outpack("validate", "--root", copy).code == 0
    location_pull.outpack_location_pull_metadata(root=copy)  # pyorderly agrees with our records
    assert location_pull.outpack_location_pull_packet(ids, root=copy) == []
