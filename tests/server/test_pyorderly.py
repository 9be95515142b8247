"""Interoperability with the real pyorderly client (PyPI, 0.2.1) through an `http` location.

pyorderly builds a chain of packets, pushes them to our server, and pulls
them back into a fresh root; the three roots must then hold the same bytes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from outpack.config import CoreConfig, init_root
from tests.server.conftest import ServerProcess, check_success

pyorderly_run = pytest.importorskip("pyorderly.run")
location = pytest.importorskip("pyorderly.outpack.location")
location_push = pytest.importorskip("pyorderly.outpack.location_push")
location_pull = pytest.importorskip("pyorderly.outpack.location_pull")
pyorderly_init = pytest.importorskip("pyorderly.outpack.init")

StartServer = Callable[..., ServerProcess]

REPORTS = {
    "data": """
        import pyorderly
        p = pyorderly.parameters(n=5, seed=1, label="défaut", scale=0.5, keep=True)
        pyorderly.description(display="Données", custom={"team": "interop", "rank": 2})
        pyorderly.shared_resource({"lookup.csv": "lookup.csv"})
        pyorderly.artefact("Numbers", ["result.txt", "empty.txt"])
        import random
        rng = random.Random(p.seed)
        with open("result.txt", "w") as f:
            f.writelines(f"{rng.random() * p.scale}\\n" for _ in range(p.n))
        open("empty.txt", "w").close()
    """,
    "big": """
        import pyorderly, random
        pyorderly.shared_resource({"lookup.csv": "lookup.csv"})
        pyorderly.artefact("Blob", "blob.bin")
        rng = random.Random(7)
        with open("blob.bin", "wb") as f:
            f.write(rng.randbytes(3 * 1024 * 1024 + 17))
    """,
    "summary": """
        import pyorderly
        pyorderly.dependency(None, "latest(name == 'data' && parameter:seed == 2)",
                             {"input.txt": "result.txt", "nothing.txt": "empty.txt"})
        pyorderly.artefact("Summary", "summary.txt")
        with open("input.txt") as f:
            values = [float(x) for x in f]
        with open("summary.txt", "w") as f:
            f.write(f"n={len(values)} total={sum(values)}\\n")
    """,
    "combine": """
        import pyorderly
        pyorderly.dependency(None, "latest(name == 'summary')", {"summary.txt": "summary.txt"})
        pyorderly.dependency(None, "latest(name == 'big')", {"blob.bin": "blob.bin"})
        pyorderly.artefact("Combined", "combined.txt")
        with open("combined.txt", "w") as f:
            f.write(open("summary.txt").read() * 3)
    """,
}


def make_source(path: Path) -> list[str]:
    pyorderly_init.outpack_init(
        path, path_archive=None, use_file_store=True, require_complete_tree=True
    )
    (path / "shared").mkdir()
    (path / "shared" / "lookup.csv").write_text("code,name\n1,north\n2,south\n")
    for name, source in REPORTS.items():
        (path / "src" / name).mkdir(parents=True)
        (path / "src" / name / f"{name}.py").write_text(textwrap.dedent(source))
    ids = [
        pyorderly_run.orderly_run("data", parameters={"seed": 1}, root=path),
        pyorderly_run.orderly_run("data", parameters={"seed": 2, "n": 8}, root=path),
        pyorderly_run.orderly_run("big", root=path),
        pyorderly_run.orderly_run("summary", root=path),
        pyorderly_run.orderly_run("combine", root=path),
    ]
    return ids


def store(path: Path) -> dict[str, bytes]:
    files = path / ".outpack" / "files"
    return {str(p.relative_to(files)): p.read_bytes() for p in files.rglob("*") if p.is_file()}


def metadata(path: Path) -> dict[str, bytes]:
    folder = path / ".outpack" / "metadata"
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def record_hashes(path: Path, location_name: str) -> dict[str, str]:
    folder = path / ".outpack" / "location" / location_name
    return {p.name: orjson.loads(p.read_bytes())["hash"] for p in folder.iterdir()}


def test_push_and_pull_through_our_server(tmp_path: Path, start_server: StartServer) -> None:
    source = tmp_path / "source"
    ids = make_source(source)
    served = tmp_path / "served"
    init_root(served, CoreConfig(use_file_store=True, require_complete_tree=True))
    server = start_server(served)

    location.outpack_location_add("ours", "http", {"url": server.url}, root=source)
    location_push.outpack_location_push(ids[-1], "ours", root=source)  # and its dependencies
    location_push.outpack_location_push(ids, "ours", root=source)  # the rest; nothing twice

    # What pyorderly pushed is stored byte for byte.
    assert metadata(served) == metadata(source)
    assert store(served) == store(source)
    assert record_hashes(served, "local") == record_hashes(source, "local")
    listed = check_success(server.get("/metadata/list").content, "locations.json")
    assert [entry["packet"] for entry in listed] == sorted(ids)

    copy = tmp_path / "copy"
    pyorderly_init.outpack_init(
        copy, path_archive=None, use_file_store=True, require_complete_tree=True
    )
    location.outpack_location_add("ours", "http", {"url": server.url}, root=copy)
    location_pull.outpack_location_pull_metadata(root=copy)
    pulled = location_pull.outpack_location_pull_packet(ids[-1], root=copy)
    assert sorted(pulled) == sorted(set(ids) - {ids[0]})  # combine and its whole tree
    location_pull.outpack_location_pull_packet(ids[0], root=copy)

    assert metadata(copy) == metadata(source)
    assert store(copy) == store(source)
    assert record_hashes(copy, "local") == record_hashes(source, "local")
    assert record_hashes(copy, "ours") == record_hashes(source, "local")
    sizes = sorted(len(data) for data in store(copy).values())
    assert sizes[0] == 0 and sizes[-1] == 3 * 1024 * 1024 + 17
    served_again = start_server(copy)  # and the pulled copy serves the same list
    listed_copy = check_success(served_again.get("/metadata/list").content)
    assert [entry["hash"] for entry in listed_copy if entry["packet"] in ids] == [
        entry["hash"] for entry in listed
    ]
