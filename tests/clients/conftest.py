"""Real clients against real server processes: orderly2 (R, run by Rscript in a
subprocess) and pyorderly (in process).

orderly2 is installed by the tests themselves, from the source package in
../shared/clients, into `.cache/r-lib/<digest of the package>` in the repository
(git-ignored), so a fresh clone needs only R and Debian's R packages (which
`.ci/run` installs). Outside CI (`CI` unset) the orderly2 tests skip with a
reason when R is missing; in CI they fail instead.

The server is always started by pytest, never by R: R prepends its own library
folders to `LD_LIBRARY_PATH`, which can make a Python started from R load the
wrong libpython (../shared/clients/README.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import orjson
import pytest

from outpack.config import CoreConfig, init_root
from outpack.hash import Hash
from outpack.root import Root
from tests.server.conftest import ServerProcess
from tests.support import REPO, shared_path

R_DIR = Path(__file__).resolve().parent / "r"
R_LIB_CACHE = REPO / ".cache" / "r-lib"
ORDERLY2_PACKAGE = "orderly2_1.99.81.tar.gz"
R_TIMEOUT = 600


def r_unavailable(reason: str) -> NoReturn:
    """Skip outside CI; in CI the orderly2 tests must run, so fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; in CI the orderly2 tests must run (.ci/run installs R)")
    pytest.skip(f"{reason} (the orderly2 tests run in CI)")


def install_orderly2(r_home_bin: Path, package: Path, lib: Path) -> None:
    """`R CMD INSTALL` into a staging folder, then move the package into `lib`."""
    lib.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=lib.parent))
    try:
        result = subprocess.run(
            [str(r_home_bin / "R"), "CMD", "INSTALL", "-l", str(staging), str(package)],
            capture_output=True,
            text=True,
            timeout=R_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            r_unavailable(
                "orderly2 could not be installed; are R's packages installed "
                f"(../shared/clients/README.md)?\n{result.stderr[-2000:]}"
            )
        # A concurrent install may have won the race: theirs is as good as ours.
        with contextlib.suppress(OSError):
            (staging / "orderly2").rename(lib / "orderly2")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class RClient:
    """Runs one scenario file of tests/clients/r in its own Rscript process."""

    rscript: str
    lib: Path

    def run(self, scenario: str, work: Path, **inputs: Any) -> dict[str, Any]:
        """Runs `r/<scenario>.R` with `inputs`; returns what it recorded."""
        work.mkdir(parents=True, exist_ok=True)
        input_path = work / f"{scenario}-input.json"
        output_path = work / f"{scenario}-output.json"
        input_path.write_bytes(orjson.dumps(inputs))
        env = {
            **os.environ,
            "ORDERLY2_LIB": str(self.lib),
            "OUTPACK_R_DIR": str(R_DIR),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        result = subprocess.run(
            [self.rscript, "--vanilla", str(R_DIR / f"{scenario}.R"), input_path, output_path],
            capture_output=True,
            text=True,
            env=env,
            timeout=R_TIMEOUT,
            check=False,
        )
        (work / f"{scenario}.log").write_text(result.stdout + result.stderr)
        assert result.returncode == 0, (
            f"R scenario {scenario} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        recorded: dict[str, Any] = orjson.loads(output_path.read_bytes())
        return recorded


@pytest.fixture(scope="session")
def orderly2() -> RClient:
    """orderly2 through Rscript, installed into the repository's cache when missing."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        r_unavailable("Rscript is not installed")
    package = shared_path("clients", ORDERLY2_PACKAGE)
    digest = hashlib.sha256(package.read_bytes()).hexdigest()[:16]
    lib = R_LIB_CACHE / digest
    if not (lib / "orderly2" / "DESCRIPTION").is_file():
        install_orderly2(Path(rscript).resolve().parent, package, lib)
    return RClient(rscript, lib)


def new_server_root(path: Path) -> Path:
    """An empty root with the settings the server requires."""
    init_root(path, CoreConfig(use_file_store=True, require_complete_tree=True))
    return path


def metadata_bytes(root: Path, packet_id: str) -> bytes:
    """The stored metadata of a packet in any client's root."""
    return Root.open(root).read_metadata_bytes(packet_id)


def packet_files(root: Path, packet_id: str) -> dict[str, bytes]:
    """A packet's files by path in the packet, from the root's archive or else its store."""
    opened = Root.open(root)
    meta = orjson.loads(opened.read_metadata_bytes(packet_id))
    archive = opened.config.core.path_archive
    if archive is not None:
        folder = root / archive / meta["name"] / packet_id
        return {entry["path"]: (folder / entry["path"]).read_bytes() for entry in meta["files"]}
    return {
        entry["path"]: opened.store.path(Hash.parse(entry["hash"])).read_bytes()
        for entry in meta["files"]
    }


def requests_between(server: ServerProcess, start: str, end: str) -> list[tuple[str, str, int]]:
    """(method, route, status) of the requests the access log shows between two
    requests whose `x-request-id` is `start` and `end` (marks a client sent)."""
    lines = server.access_lines()
    marks = [line["request_id"] for line in lines]
    between = lines[marks.index(start) + 1 : marks.index(end)]
    return [(line["method"], line["route"], line["status"]) for line in between]


@contextlib.contextmanager
def serving(root: Path, log_dir: Path) -> Iterator[ServerProcess]:
    """`outpack start-server` on 127.0.0.1 for a block longer than one test."""
    server = ServerProcess(root, log_dir)
    try:
        yield server
    finally:
        server.stop()
