"""Across clients with orderly2 (R): it pulls what `outpack push` sent, pushes packets
that `outpack pull` then fetches, and shares a root and its locations with us.

Needs R with orderly2's dependencies (see ../shared/clients/README.md); the
package itself is installed from ../shared/clients into a temporary library.
Without R the tests skip, unless `CI` is set: there they must run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.client.conftest import ServerProcess, new_root, outpack, part
from tests.support import shared_path

StartServer = Callable[..., ServerProcess]


@pytest.fixture(scope="module")
def r_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("Rscript") is None:
        if os.environ.get("CI"):
            pytest.fail("Rscript is missing; CI must run the orderly2 tests")
        pytest.skip("Rscript is not installed (CI unset): orderly2 tests skipped")
    tarball = shared_path("clients", "orderly2_1.99.81.tar.gz")
    library = tmp_path_factory.mktemp("rlib")
    subprocess.run(
        ["R", "CMD", "INSTALL", "-l", str(library), str(tarball)],
        check=True,
        capture_output=True,
    )
    return library


def orderly2(library: Path, code: str, *args: str | Path) -> str:
    """Run R code with orderly2 loaded; `args` are `a[1]`, `a[2]`, ..."""
    script = f".libPaths(c('{library}', .libPaths())); library(orderly2); " \
        f"a <- commandArgs(trailingOnly = TRUE); {code}"  # fmt: skip
    done = subprocess.run(
        ["Rscript", "-e", script, *map(str, args)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_orderly2_pulls_what_outpack_pushed_and_back(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer, r_library: Path
) -> None:
    source, (a, b, c, d) = chain
    served = new_root(tmp_path / "served").path
    server = start_server(served)
    outpack("location", "add", "srv", server.url, "--root", source)
    outpack("push", c, "--location", "srv", "--root", source)

    # orderly2 makes a root, pulls c and its dependencies from our server. (With an
    # archive as well as a file store: orderly2 1.99.81 pushes files from the archive.)
    theirs = tmp_path / "theirs"
    orderly2(
        r_library,
        "orderly_init(a[1], path_archive = 'archive', use_file_store = TRUE,"
        " require_complete_tree = TRUE);"
        "orderly_location_add_http('srv', a[2], root = a[1]);"
        "orderly_location_fetch_metadata(root = a[1]);"
        "orderly_location_pull(a[3], root = a[1])",
        theirs,
        server.url,
        c,
    )
    assert part(theirs, "metadata") == part(served, "metadata")
    assert part(theirs, "files") == part(served, "files")
    assert sorted(part(theirs, "location/local")) == sorted(part(served, "location/local"))
    assert (theirs / "archive" / "report" / c / "sub" / "dir" / "x.bin").is_file()

    # Our commands on the root orderly2 wrote, and orderly2 reading what we wrote there.
    other = new_root(tmp_path / "other").path
    second = start_server(other)
    outpack("location", "add", "second", second.url, "--root", theirs)
    outpack("push", b, "--location", "second", "--root", theirs)
    outpack("push", d, "--location", "srv", "--root", source)
    outpack("pull", d, "--root", theirs)  # into its file store and its archive
    assert (theirs / "archive" / "other" / d / "blob.bin").read_bytes() == b"small"
    listed = orderly2(
        r_library,
        "orderly_location_fetch_metadata(root = a[1]);"
        "cat(orderly_location_list(root = a[1]), sep = '\\n');"
        "cat(orderly_search(NULL, options = list(allow_remote = FALSE), root = a[1]),"
        " sep = '\\n')",
        theirs,
    )
    assert listed.split() == ["local", "srv", "second", a, b, c, d]

    # orderly2 pushes to an empty server; we pull from it.
    third_root = new_root(tmp_path / "third").path
    third = start_server(third_root)
    orderly2(
        r_library,
        "orderly_location_add_http('third', a[2], root = a[1]);"
        "orderly_location_push(a[3], 'third', root = a[1])",
        theirs,
        third.url,
        c,
    )
    ours = new_root(tmp_path / "ours").path
    outpack("location", "add", "third", third.url, "--root", ours)
    outpack("mirror", "--location", "third", "--root", ours)
    pushed = {k: v for k, v in part(served, "metadata").items() if not k.endswith(d)}
    assert part(ours, "metadata") == pushed
    assert part(ours, "files").items() <= part(served, "files").items()
    assert sorted(part(ours, "location/local")) == sorted(f"location/local/{i}" for i in (a, b, c))
