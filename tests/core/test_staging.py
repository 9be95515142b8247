"""Staged writes: a batch becomes visible only at commit, and only once durable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from outpack import staging
from outpack.errors import HashMismatchError
from outpack.hash import hash_bytes
from outpack.staging import StagedWrites, sync_file_system
from outpack.store import FileStore
from tests.support import PATIENCE_S


def test_nothing_is_visible_before_commit(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    targets = [tmp_path / "out" / f"{n}.txt" for n in range(5)]
    with StagedWrites(tmp) as staged:
        for n, target in enumerate(targets):
            staged.write(target, f"file {n}\n".encode())
        assert not any(target.exists() for target in targets)
        assert len(list(tmp.iterdir())) == 5
        assert staged.commit() == 5
    assert [target.read_text() for target in targets] == [f"file {n}\n" for n in range(5)]
    assert not list(tmp.iterdir())
    # Committing again changes nothing; existing files are kept (first writer wins).
    with StagedWrites(tmp) as staged:
        staged.write(targets[0], b"other")
        assert staged.commit() == 0
    assert targets[0].read_text() == "file 0\n"
    assert not list(tmp.iterdir())


def test_leaving_without_commit_removes_the_temporary_files(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), StagedWrites(tmp) as staged:
        staged.write(target, b"data")
        raise RuntimeError("failed half-way")
    assert not target.exists()
    assert not list(tmp.iterdir())


def test_store_uploads_join_the_batch_after_their_hash_is_checked(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files", tmp_path / "tmp")
    good, bad = b"good bytes", b"bad bytes"
    with StagedWrites(store.tmp_dir) as staged:
        with store.begin(hash_bytes("sha256", good), staged) as upload:
            upload.write(good)
            upload.commit()
        with (
            pytest.raises(HashMismatchError),
            store.begin(hash_bytes("sha256", b"else"), staged) as upload,
        ):
            upload.write(bad)
            upload.commit()
        assert not store.exists(hash_bytes("sha256", good))
        staged.commit()
    assert store.locate(hash_bytes("sha256", good)).read_bytes() == good
    assert not store.exists(hash_bytes("sha256", b"else"))
    assert not list(store.tmp_dir.iterdir())


def test_without_syncfs_each_file_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback for systems without syncfs (macOS) gives the same result."""
    monkeypatch.setattr(staging, "_SYNCFS", None)
    assert sync_file_system(tmp_path) is False
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    with StagedWrites(tmp_path / "tmp") as staged:
        for n in range(3):
            staged.write(tmp_path / "a" / str(n), b"x")
        staged.write(tmp_path / "b" / "0", b"y")
        assert staged.commit() == 4
    assert len(synced) == 4 + 2  # each file, then each of the two folders
    assert (tmp_path / "b" / "0").read_bytes() == b"y"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux only")
def test_syncfs_is_used_on_linux(tmp_path: Path) -> None:
    assert sync_file_system(tmp_path) is True


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from outpack.staging import StagedWrites
    base = Path(sys.argv[1])
    staged = StagedWrites(base / "tmp")
    for n in range(200):
        staged.write(base / "out" / str(n), b"x" * 10_000)
    print("staged", flush=True)
    time.sleep(60)
    staged.commit()
    """
)


def test_a_writer_killed_before_commit_leaves_nothing_visible(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    with process.stdout:
        try:
            assert process.stdout.readline().strip() == "staged"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(PATIENCE_S)
    assert not (tmp_path / "out").exists()
    assert len(list((tmp_path / "tmp").iterdir())) == 200
