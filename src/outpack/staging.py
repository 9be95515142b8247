"""Many writes made durable together: one file-system sync per batch, not two fsyncs per file.

A pull writes thousands of small files. Made durable one at a time (fsync the
file, link it, fsync its folder: see `outpack.fsutil.publish`) each costs two
journal commits, which is most of the time a pull of small files takes. A
`StagedWrites` batch instead writes complete temporary files, then syncs the
file system once (Linux `syncfs`), links every file into place and syncs once
more. Nothing gets its final name before its bytes are durable, so a crash at
any moment leaves only complete files; a name linked after the last sync may
be lost, which is harmless as long as whatever refers to it (metadata,
location records) is written by a later batch, after this one's `commit`.

Temporary files live in the root's `tmp` folder and are linked (never
copied) into place, so every destination is on that folder's file system and
one `syncfs` covers them all. Where `syncfs` is missing (not Linux), `commit`
fsyncs each file and folder instead: slower, equally safe.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from outpack.fsutil import discard, fsync_directory, new_temp_file, place, storage_error, write_all


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_SYNCFS = _load_syncfs()


def sync_file_system(path: Path) -> bool:
    """Make everything written on `path`'s file system durable; False where this cannot be done."""
    if _SYNCFS is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)
    return True


class StagedWrites:
    """A batch of files that become visible together, once durable (see the module).

    Threads may add to one batch at the same time. Leaving the `with` block
    without `commit` (an error) removes the temporary files: nothing of the
    batch becomes visible.
    """

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self._pending: list[tuple[Path, Path, bool]] = []
        self._lock = threading.Lock()

    def add(self, temp: Path, destination: Path, *, replace: bool = False) -> None:
        """A complete temporary file (closed, not synced), to be named `destination`."""
        with self._lock:
            self._pending.append((temp, destination, replace))

    def write(self, destination: Path, data: bytes, *, replace: bool = False) -> None:
        fd, temp = new_temp_file(self.tmp_dir)
        try:
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as err:
            discard(temp)
            raise storage_error(err, f"writing {destination.name}") from err
        self.add(temp, destination, replace=replace)

    def commit(self) -> int:
        """Sync, name every file, sync again; returns how many files were new.

        Without `replace`, as in `publish`, an existing destination is kept
        (same name, same content in this content-addressed layout).
        """
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return 0
        try:
            synced = sync_file_system(self.tmp_dir)
            if not synced:
                for temp, _, _ in pending:
                    _fsync_file(temp)
        except OSError as err:
            for temp, _, _ in pending:
                discard(temp)
            raise storage_error(err, "syncing files to disk") from err
        created = 0
        for index, (temp, destination, replace) in enumerate(pending):
            try:
                created += place(temp, destination, replace=replace)
            except BaseException:
                for rest, _, _ in pending[index + 1 :]:
                    discard(rest)
                raise
        try:
            if not synced or not sync_file_system(self.tmp_dir):
                for folder in {destination.parent for _, destination, _ in pending}:
                    fsync_directory(folder)
        except OSError as err:
            raise storage_error(err, "syncing folders to disk") from err
        return created

    def discard(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for temp, _, _ in pending:
            discard(temp)

    def __enter__(self) -> StagedWrites:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
