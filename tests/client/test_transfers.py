"""fetch, pull, push and mirror against real servers (ours) and path locations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from benchmarks.roots import generate_root

from outpack.client import Options, add_location, fetch, mirror, pull, push
from outpack.root import Root
from tests.client.conftest import ServerProcess, new_root, outpack, part, tree
from tests.client.packit_proxy import BULK_ROUTES, packit_proxy
from tests.support import shared_path

StartServer = Callable[..., ServerProcess]


def records(path: Path, location: str) -> dict[str, dict[str, object]]:
    folder = path / ".outpack" / "location" / location
    return {p.name: orjson.loads(p.read_bytes()) for p in sorted(folder.iterdir())}


def test_pull_from_our_server_with_dependencies(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer
) -> None:
    source, (a, b, c, d) = chain
    server = start_server(source)
    dest = new_root(tmp_path / "dest").path
    outpack("location", "add", "srv", server.url, "--root", dest)
    run = outpack("pull", 'name == "report"', "--root", dest)
    assert "Pulled 3 packets" in run.out
    # Every known packet's metadata, byte for byte; records with the server's times.
    assert part(dest, "metadata") == part(source, "metadata")
    assert records(dest, "srv") == records(source, "local")
    assert sorted(records(dest, "local")) == [a, b, c]
    source_root = Root.open(source)
    wanted = {f.hash for i in (a, b, c) for f in source_root.read_metadata(i).files}
    assert {str(h) for h in Root.open(dest).store.iter_hashes()} == wanted
    assert outpack("validate", "--root", dest).code == 0
    # The bulk routes served the metadata and the files: no GET per packet or file.
    paths = [line["path"] for line in server.access_lines()]
    assert paths.count("/metadata/texts") == 1
    assert paths.count("/files/contents") >= 1
    assert not [p for p in paths if p.endswith("/text") or p.startswith("/file/")]
    # Again: nothing to do; then the rest.
    assert "Pulled 0 packets (0 files" in outpack("pull", c, "--root", dest).out
    outpack("pull", d, "--root", dest, "--location", "srv", "--quiet")
    assert part(dest, "files") == part(source, "files")
    assert (dest / ".outpack" / "tmp").exists() and not any((dest / ".outpack" / "tmp").iterdir())


def test_falls_back_to_one_request_each_without_the_bulk_routes(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer
) -> None:
    source, ids = chain
    server = start_server(source)
    # In front: a proxy answering for the bulk routes as the Rust server does.
    with packit_proxy(server.url, prefix="", hidden=BULK_ROUTES) as url:
        dest = add_location(new_root(tmp_path / "dest"), "srv", "http", url)
        result = mirror(dest, "srv", Options(jobs=3))
    assert result.packets == 4
    assert tree(dest.path).keys() >= tree(source).keys()
    paths = {line["path"] for line in server.access_lines()}
    assert not paths & set(BULK_ROUTES)
    assert {f"/metadata/{i}/text" for i in ids} <= paths
    source_root = Root.open(source)
    hashes = {f.hash for i in ids for f in source_root.read_metadata(i).files}
    assert {f"/file/{h}" for h in hashes} <= paths


def test_read_only_server_answers_the_bulk_route(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer
) -> None:
    source, ids = chain
    server = start_server(source, "--read-only")  # a read, though a POST
    dest = add_location(new_root(tmp_path / "dest"), "srv", "http", server.url)
    assert mirror(dest, "srv", Options(jobs=3)).packets == len(ids)
    statuses = {(line["path"], line["status"]) for line in server.access_lines()}
    assert ("/metadata/texts", 200) in statuses
    assert ("/files/contents", 200) in statuses
    assert not [path for path, _ in statuses if path.endswith("/text")]


def test_push_then_pull_back(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer
) -> None:
    source, (a, b, c, d) = chain
    served = new_root(tmp_path / "served").path
    server = start_server(served)
    outpack("location", "add", "srv", server.url, "--root", source)
    run = outpack("push", c, "--location", "srv", "--root", source, "--jobs", "2")
    assert "Pushed 3 packets" in run.out
    assert part(served, "metadata") == {
        k: v for k, v in part(source, "metadata").items() if not k.endswith(d)
    }
    # Known there now (fetched after the push), as orderly2 does.
    assert sorted(records(source, "srv")) == [a, b, c]
    run = outpack(
        "push", 'name == "report" || name == "other"', "--location", "srv", "--root", source
    )
    assert "Pushed 1 packets" in run.out
    assert part(served, "files") == part(source, "files")
    assert outpack("validate", "--root", served).code == 0


def test_path_locations_both_ways(chain: tuple[Path, list[str]], tmp_path: Path) -> None:
    source, (a, b, _, _) = chain
    dest = new_root(tmp_path / "dest")
    dest = add_location(dest, "src", "path", str(source))
    assert fetch(dest)[0].new == 4
    assert pull(dest, 'latest(name == "clean")').packets == 2
    assert sorted(records(dest.path, "local")) == [a, b]
    # A path location receives pushes too.
    other = new_root(tmp_path / "other")
    dest = add_location(dest, "other", "path", str(other.path))
    assert push(dest, b, "other").packets == 2
    assert sorted(records(other.path, "local")) == [a, b]
    assert part(other.path, "files") == part(dest.path, "files")


def test_archive_only_roots_pull_and_push(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer
) -> None:
    source, (_, _, c, _) = chain
    server = start_server(source)
    archive = new_root(tmp_path / "arch", use_file_store=False, path_archive="archive")
    archive = add_location(archive, "srv", "http", server.url)
    assert pull(archive, c).packets == 3
    report = archive.path / "archive" / "report" / c
    assert (report / "report.md").read_text() == "# Résumé\n"
    assert (report / "sub" / "dir" / "x.bin").read_bytes() == bytes(range(256)) * 8
    assert not (archive.tmp_dir / "pull-files").exists()
    assert outpack("validate", "--root", archive.path).code == 0
    # From the archive to a fresh server root.
    served = new_root(tmp_path / "served").path
    other = start_server(served)
    archive = add_location(archive, "other", "http", other.url)
    assert push(archive, c, "other").packets == 3
    pushed = part(served, "metadata")
    assert len(pushed) == 3 and pushed.items() <= part(archive.path, "metadata").items()
    assert outpack("validate", "--root", served).code == 0


def test_mirror_is_an_identical_copy(tmp_path: Path, start_server: StartServer) -> None:
    generate_root(tmp_path / "big", 300)
    server = start_server(tmp_path / "big")
    copy = new_root(tmp_path / "copy").path
    outpack("location", "add", "srv", server.url, "--root", copy)
    outpack("mirror", "--location", "srv", "--root", copy)
    assert outpack("validate", "--root", copy).code == 0
    served = start_server(copy)
    for route in ("/metadata/list", "/checksum", "/packit/metadata"):
        assert served.get(route).content == server.get(route).content, route


def test_commands_work_on_a_root_written_by_pyorderly(
    copy_fixture: Callable[[str], Path], tmp_path: Path, start_server: StartServer
) -> None:
    shared_path("fixtures", "pyorderly-repo")
    repo = copy_fixture("pyorderly-repo")
    ids = sorted(p.name for p in (repo / ".outpack" / "metadata").iterdir())
    served = new_root(tmp_path / "served").path
    server = start_server(served)
    outpack("location", "add", "srv", server.url, "--root", repo)
    outpack("push", " ".join(ids), "--location", "srv", "--root", repo)
    assert part(served, "metadata") == part(repo, "metadata")
    assert part(served, "files") == part(repo, "files")
    outpack("fetch", "--root", repo)
    assert sorted(records(repo, "srv")) == ids
    # And into an empty root, then back into a pyorderly root from the server.
    copy = new_root(tmp_path / "copy").path
    outpack("location", "add", "srv", server.url, "--root", copy)
    outpack("mirror", "--location", "srv", "--root", copy)
    assert part(copy, "metadata") == part(repo, "metadata")
    outpack("location", "remove", "srv", "--root", repo)
    outpack("location", "rename", "srv", "server", "--root", copy)
    assert sorted(records(copy, "server")) == ids


@pytest.mark.parametrize("jobs", ["0", "x"])
def test_bad_jobs_is_a_usage_error(tmp_path: Path, jobs: str) -> None:
    root = new_root(tmp_path / "r").path
    run = outpack("pull", "name == 'x'", "--jobs", jobs, "--root", root, check=False)
    assert run.code == 2 and "--jobs" in run.err


def test_friendly_errors(chain: tuple[Path, list[str]], tmp_path: Path) -> None:
    _, ids = chain
    dest = new_root(tmp_path / "dest").path
    cases = [
        (["pull", ids[0], "--location", "nope"], "Unknown location 'nope' (configured: gone)"),
        (["push", ids[0], "--location", "nope"], "Unknown location 'nope'"),
        (["fetch", "nope"], "Unknown location 'nope'"),
    ]
    outpack("location", "add", "gone", "http://127.0.0.1:9", "--root", dest)
    cases += [
        (["fetch", "gone"], "Cannot reach location 'gone' (http://127.0.0.1:9)"),
        (["pull", "name == ", "--location", "gone", "--no-fetch"], "Failed to parse"),
        (["pull", ids[0], "--no-fetch"], f"Packet {ids[0]} is not known here"),
        (["pull", ids[0], "--no-recursive", "--no-fetch"], "drop --no-recursive"),
    ]
    for args, message in cases:
        run = outpack(*args, "--root", dest, check=False)
        assert run.code == 1 and message in run.err, (args, run)
        assert "Traceback" not in run.err
        # One line, but for a query's error, which points at the mistake as `search` does.
        assert run.err.count("\n") == 1 or message == "Failed to parse"
