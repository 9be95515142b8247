"""`outpack location ...`: config.json entries as orderly2 and pyorderly write and read them."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from outpack.client import add_location, list_locations, remove_location, rename_location
from outpack.client.drivers import open_driver
from outpack.errors import LocationError
from outpack.root import Root
from tests.client.conftest import new_root, outpack

pyorderly_location = pytest.importorskip("pyorderly.outpack.location")


def config(path: Path) -> dict[str, object]:
    data: dict[str, object] = orjson.loads((path / ".outpack" / "config.json").read_bytes())
    return data


def test_add_list_rename_remove_with_the_command(tmp_path: Path) -> None:
    new_root(tmp_path / "here")
    new_root(tmp_path / "there")
    here = tmp_path / "here"
    assert outpack("location", "add", "srv", "http://127.0.0.1:8080", "--root", here).out == (
        "Added location 'srv' (http)\n"
    )
    outpack("location", "add", "near", "../there", "--root", here)
    outpack(
        "location", "add", "portal", "https://packit.example.org", "--type", "packit",
        "--token-env", "PACKIT_TOKEN", "--root", here,
    )  # fmt: skip
    assert config(here)["location"] == [
        {"name": "local", "type": "local", "args": {}},
        {"name": "srv", "type": "http", "args": {"url": "http://127.0.0.1:8080"}},
        {"name": "near", "type": "path", "args": {"path": "../there"}},
        {
            "name": "portal",
            "type": "packit",
            "args": {"url": "https://packit.example.org", "token": "$PACKIT_TOKEN"},
        },
    ]
    listed = outpack("location", "list", "--root", here).out.splitlines()
    assert listed == [
        "local\tlocal",
        "srv\thttp\thttp://127.0.0.1:8080",
        "near\tpath\t../there",
        "portal\tpackit\thttps://packit.example.org",
    ]
    (here / ".outpack" / "location" / "srv").mkdir()
    outpack("location", "rename", "srv", "server", "--root", here)
    assert (here / ".outpack" / "location" / "server").is_dir()
    assert not (here / ".outpack" / "location" / "srv").exists()
    outpack("location", "remove", "server", "--root", here)
    assert not (here / ".outpack" / "location" / "server").exists()
    assert [e["name"] for e in config(here)["location"]] == ["local", "near", "portal"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "local", "http://x.org"], "reserved name 'local'"),
        (["add", "near", "http://x.org"], "'near' already exists"),
        (["add", "bad/name", "http://x.org"], "Invalid location name"),
        (["add", "p", "nowhere"], "No outpack root at 'nowhere'"),
        (["add", "p", "ftp://x.org", "--type", "http"], "Invalid URL"),
        (["add", "p", "http://x.org", "--type", "packit"], "needs --token-env"),
        (["add", "p", "http://x.org", "--token-env", "T"], "only for packit"),
        (["remove", "nope"], "Unknown location 'nope' (configured: near)"),
        (["rename", "local", "x"], "reserved location 'local'"),
        (["rename", "near", "local"], "reserved name 'local'"),
    ],
)
def test_mistakes_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    new_root(tmp_path / "here")
    new_root(tmp_path / "there")
    outpack("location", "add", "near", tmp_path / "there", "--root", tmp_path / "here")
    before = config(tmp_path / "here")
    run = outpack("location", *args, "--root", tmp_path / "here", check=False)
    assert run.code == 1
    assert run.err.startswith("Error: ") and message in run.err, run.err
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert config(tmp_path / "here") == before


def test_compatible_with_pyorderly_both_ways(tmp_path: Path) -> None:
    here, there = new_root(tmp_path / "here"), new_root(tmp_path / "there")
    # pyorderly adds a location; we read it, and keep its extra config untouched.
    pyorderly_location.outpack_location_add_path("theirs", str(there.path), root=str(here.path))
    raw = config(here.path)
    assert [loc.name for loc in list_locations(Root.open(here.path))] == ["local", "theirs"]
    # We add one; pyorderly lists and removes it.
    root = add_location(Root.open(here.path), "ours", "path", str(there.path))
    assert pyorderly_location.outpack_location_list(root=str(here.path)) == [
        "local",
        "theirs",
        "ours",
    ]
    pyorderly_location.outpack_location_remove("ours", root=str(here.path))
    assert config(here.path)["location"] == raw["location"]
    root = rename_location(Root.open(here.path), "theirs", "renamed")
    assert pyorderly_location.outpack_location_list(root=str(here.path)) == ["local", "renamed"]
    remove_location(root, "renamed")


def test_unknown_types_are_kept(tmp_path: Path) -> None:
    root = new_root(tmp_path / "here")
    raw = config(root.path)
    ssh = {"name": "far", "type": "ssh", "args": {"url": "ssh://host/path"}}
    raw["location"] = [*raw["location"], ssh]  # type: ignore[misc]
    (root.path / ".outpack" / "config.json").write_bytes(orjson.dumps(raw))
    root = add_location(Root.open(root.path), "srv", "http", "http://127.0.0.1:1")
    assert ssh in config(root.path)["location"]  # type: ignore[operator]
    with pytest.raises(LocationError, match="type 'ssh', which outpack cannot use"):
        open_driver(root, "far")
