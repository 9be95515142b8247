"""Faults: a server killed mid-transfer, a client killed, corrupt bytes, a full disk.

Whatever happens, nothing partial becomes visible (no truncated file in the
store, no packet in location/local without its files), and running the same
command again finishes the job.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from outpack.client.pull import batches
from outpack.hash import Hash, hash_file
from outpack.packet import create_packet
from outpack.root import Root
from tests.client.conftest import ServerProcess, chain_root, new_root, outpack, part
from tests.client.packit_proxy import packit_proxy
from tests.support_fs import small_filesystem

StartServer = Callable[..., ServerProcess]
FILES = 60
FILE_SIZE = 2 << 20


def many_files_root(path: Path) -> Root:
    root = new_root(path)
    for index in range(FILES):
        create_packet(root, "blob", {"blob.bin": os.urandom(FILE_SIZE)}, start=1.7e9 + index)
    return root


def store_files(root: Path) -> list[Path]:
    return [p for p in (root / ".outpack" / "files").rglob("*") if p.is_file()]


def assert_nothing_partial(root: Path) -> None:
    """Every stored file has the content its name says; unpacked packets are complete."""
    for path in store_files(root):
        digest = path.parent.name + path.name
        assert hash_file("sha256", path) == Hash("sha256", digest)
    assert outpack("validate", "--root", root).code == 0


def start_pull(dest: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "outpack", "pull", "name == 'blob'", "--root", str(dest)]
    return subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_files(dest: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len(store_files(dest)) < count:
        assert process.poll() is None, "the pull ended before the fault could be injected"
        assert time.monotonic() < deadline
        time.sleep(0.005)


def pull_in_background(
    tmp_path: Path, start_server: StartServer, jobs: int, files: int
) -> tuple[Path, ServerProcess, Path, subprocess.Popen[bytes]]:
    """A server, and `outpack pull` of all its packets running once `files` are in."""
    source = many_files_root(tmp_path / "source").path
    server = start_server(source)
    dest = new_root(tmp_path / "dest").path
    outpack("location", "add", "srv", server.url, "--root", dest)
    process = start_pull(dest, "--jobs", str(jobs))
    wait_for_files(dest, files, process)
    return source, server, dest, process


def test_server_killed_mid_transfer_then_the_same_command_finishes(
    tmp_path: Path, start_server: StartServer
) -> None:
    source, server, dest, process = pull_in_background(tmp_path, start_server, 1, 3)
    workers = server.children()
    server.stop(signal.SIGKILL)
    for pid in workers:  # killed with it, as a crash of the machine would
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1
    message = err.decode()
    assert message.startswith("Error: ") and "location 'srv'" in message, message
    assert "Traceback" not in message and message.count("\n") == 1
    assert 3 <= len(store_files(dest)) < FILES
    assert part(dest, "location/local") == {}
    assert os.listdir(dest / ".outpack" / "tmp") == []
    assert_nothing_partial(dest)

    start_server(source, port=server.port)
    outpack("pull", "name == 'blob'", "--root", dest)
    assert part(dest, "files") == part(source, "files")
    assert part(dest, "location/local").keys() == part(source, "location/local").keys()
    assert_nothing_partial(dest)


def test_client_killed_mid_transfer_then_resumes(tmp_path: Path, start_server: StartServer) -> None:
    source, _, dest, process = pull_in_background(tmp_path, start_server, 2, 5)
    process.kill()
    process.communicate()
    done_before = len(store_files(dest))
    assert part(dest, "location/local") == {}
    assert_nothing_partial(dest)
    run = outpack("pull", "name == 'blob'", "--root", dest)
    assert part(dest, "files") == part(source, "files")
    # The second run fetched only what the first had not finished.
    assert done_before >= 5
    assert f"Pulled {FILES} packets ({FILES - done_before} files," in run.out
    assert_nothing_partial(dest)


def test_a_bulk_answer_cut_off_is_resumed_with_the_files_still_missing(
    tmp_path: Path, start_server: StartServer
) -> None:
    source = many_files_root(tmp_path / "source").path
    server = start_server(source)
    with packit_proxy(server.url, prefix="", hidden=(), cut=("/files/contents",)) as url:
        dest = new_root(tmp_path / "dest").path
        outpack("location", "add", "srv", url, "--root", dest)
        run = outpack("pull", "name == 'blob'", "--root", dest, "--jobs", "1")
    assert f"Pulled {FILES} packets ({FILES} files," in run.out
    assert part(dest, "files") == part(source, "files")
    assert_nothing_partial(dest)
    # The first answer was cut; the next asked again for what had not arrived.
    bulk = [line for line in server.access_lines() if line["path"] == "/files/contents"]
    assert len(bulk) == len(batches_of(FILES)) + 1


def batches_of(count: int) -> list[list[str]]:
    hashes = [str(n) for n in range(count)]
    return batches(hashes, dict.fromkeys(hashes, FILE_SIZE), 1)


def test_a_file_that_does_not_match_its_hash_is_refused(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer
) -> None:
    source, (_, _, _, d) = chain
    blob = Root.open(source).read_metadata(d).files[0]
    stored = Root.open(source).store.locate(Hash.parse(blob.hash))
    stored.write_bytes(b"SMALL")  # same length, other bytes
    server = start_server(source)
    dest = new_root(tmp_path / "dest").path
    outpack("location", "add", "srv", server.url, "--root", dest)
    run = outpack("pull", d, "--root", dest, check=False)
    assert run.code == 1
    assert f"File 'blob.bin' of packet {d} from location 'srv'" in run.err
    assert "does not match its hash" in run.err and run.err.count("\n") == 1
    assert not Root.open(dest).store.exists(Hash.parse(blob.hash))
    assert part(dest, "location/local") == {}
    assert os.listdir(dest / ".outpack" / "tmp") == []


def test_metadata_that_does_not_match_its_hash_is_refused(
    chain: tuple[Path, list[str]], tmp_path: Path, start_server: StartServer
) -> None:
    source, (a, _, _, _) = chain
    path = source / ".outpack" / "metadata" / a
    path.write_bytes(path.read_bytes().replace(b'"data"', b'"dada"'))
    server = start_server(source)
    dest = new_root(tmp_path / "dest").path
    outpack("location", "add", "srv", server.url, "--root", dest)
    run = outpack("fetch", "--root", dest, check=False)
    assert run.code == 1 and f"Metadata for packet {a} from location 'srv'" in run.err
    assert "does not match its hash" in run.err
    assert f"metadata/{a}" not in part(dest, "metadata")
    assert part(dest, "location/srv") == {}


def test_full_disk_is_a_clean_error(tmp_path: Path, start_server: StartServer) -> None:
    source = tmp_path / "source"
    _, _, _, d = chain_root(source, big=3 << 20)
    server = start_server(source)
    with small_filesystem(tmp_path / "disk", "2M") as disk:
        dest = new_root(disk / "dest").path
        outpack("location", "add", "srv", server.url, "--root", dest)
        run = outpack("pull", d, "--root", dest, check=False)
        assert run.code == 1 and "No space left on device" in run.err, run
        assert "Traceback" not in run.err and run.err.count("\n") == 1
        assert part(dest, "location/local") == {}
        assert os.listdir(dest / ".outpack" / "tmp") == []
        assert_nothing_partial(dest)
        # What fits still pulls.
        outpack("pull", 'name == "report"', "--root", dest)
        assert len(part(dest, "location/local")) == 3
