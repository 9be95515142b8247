"""List bodies kept in cache files, outside the Python heap, sent with zero-copy responses.

On a root of 100,000 packets `/packit/metadata` is about 100 MB of JSON when
packets carry the `custom` metadata orderly2 writes. Rather than hold it in
memory, each version of a list body is written once to a file under
`.outpack/cache/lists/` and sent from there with the server's file response,
so it lives in the page cache, shared by every worker and every server over
the root.

A body is written to a temporary file in that folder and served from it at
once; `BodyWriter.finish` also returns the step that makes it durable and
shareable (fsync, then a hard link under its final name, then fsync of the
folder), which the server runs in the background. Names are derived from the
content (or from what determines it), so workers that reach the same state
share one file: they find it under its final name and adopt it. Only files
that reached their final name are ever adopted, so a crash can leave at most
an unused temporary file, never a damaged body under a final name.

A body is laid out one entry per line:

    {"status":"success","data":[
    {...},
    {...}
    ],"errors":null}

which lets a new version be made from the previous one by copying its
entries (in the kernel, `copy_file_range`) and appending the new ones, or by
merging new entries into its lines, without re-serialising the rest.

Files that are not current for the process cleaning up and have not been
written, adopted or spliced onto for a minute are removed: a body superseded
that long ago is superseded for every process (each refreshes before
answering), and a response that was already sending it has the file open.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from outpack.errors import StorageError
from outpack.fsutil import discard, link_durably, new_temp_file, storage_error, write_all
from outpack.root import Root
from outpack.server.responses import NO_TAIL, SUCCESS_PREFIX, SUCCESS_SUFFIX, Tail
from outpack.snapshot import CACHE_DIR

LISTS_DIR = "lists"
HEADER = SUCCESS_PREFIX + b"["
TRAILER = b"\n]" + SUCCESS_SUFFIX
# Bodies neither current nor written or adopted for this long are removed.
UNUSED_AFTER_S = 60.0
_COPY_CHUNK = 1 << 26


@dataclass(frozen=True, slots=True)
class BodyFile:
    """A complete list body on disk: where it is sent from, its size, tag and entry count.

    `name` is its shared name in the lists folder; `path` is that file, or
    (until it is published) the temporary file it was written to. A body with
    a `tail` is spliced: the file's entries (without its trailer), then the
    tail (newer entries and the trailer), `size` bytes in all. That is how a
    few new entries reach a 100 MB body at once, without copying it. The
    tail's entries are appended to a file of this process's own (see
    `_private_dir`), never held in memory: successive splices onto one file
    share one tail file, each sending the part of it that was written when
    it was made.
    """

    path: str
    size: int
    etag: bytes
    count: int
    name: str
    tail: Tail = NO_TAIL

    def usable(self) -> bool:
        """Whether the file is still there (another process may have removed it since)."""
        return os.path.exists(self.path)

    @property
    def entries_end(self) -> int:
        """Where the last entry ends (and the trailer begins)."""
        return self.size - len(TRAILER)

    @property
    def file_end(self) -> int:
        """How much of the file the body uses."""
        return self.size - len(self.tail)

    @property
    def file_count(self) -> int:
        """How many of the entries are in the file (the rest are in the tail)."""
        return self.count - self.tail.entries

    def spliced(self, entries: list[bytes], name: str) -> BodyFile:
        """This body with `entries` appended to its tail file: the body file is not touched."""
        data, count = _joined(entries, self.count)
        tail = _append_to_tail(self.tail, data, len(entries))
        # The file's trailer is left out: the tail brings its own.
        head = self.file_end if self.tail else self.entries_end
        return BodyFile(self.path, head + len(tail), etag_for(name), count, name, tail)

    def file_only(self) -> BodyFile:
        """The body without its tail: the entries in its file, to copy or splice onto.

        Its tag and name are the whole body's: it is not itself sent.
        """
        if not self.tail:
            return self
        size = self.file_end + len(TRAILER)
        return BodyFile(self.path, size, self.etag, self.file_count, self.name)


def _joined(entries: list[bytes], count: int) -> tuple[bytes, int]:
    """Entries with the separators that go before them, after `count` entries; the new count."""
    parts: list[bytes] = []
    for entry in entries:
        parts += (b",\n" if count else b"\n", entry)
        count += 1
    return b"".join(parts), count


def _append_to_tail(tail: Tail, data: bytes, entries: int) -> Tail:
    """`tail` followed by `data`, appended to its file in place when nothing followed it there.

    A body's tail is the first `size` bytes of its file, so bodies made
    before stay whole. If the file has grown since `tail` was made (a splice
    onto an older body), the new tail goes to a new file instead.
    """
    try:
        if tail.size and os.stat(tail.path).st_size == tail.size:
            fd, path = os.open(tail.path, os.O_WRONLY | os.O_APPEND), tail.path
        else:
            fd, path = tempfile.mkstemp(dir=_private_dir(), prefix="tail-")
            if tail.size:
                write_all(fd, _tail_entries(tail))
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
    except OSError as err:
        raise storage_error(err, "writing a list body") from err
    return Tail(path, tail.size + len(data), TRAILER, tail.entries + entries)


@dataclass(frozen=True, slots=True)
class CachedBody:
    """A small serialised answer kept in memory, and its entity tag.

    The tag is derived from the bytes alone, so every worker and every server
    over the same root gives the same tag for the same answer, and a load
    balancer may send a poller's next request anywhere.
    """

    body: bytes
    etag: bytes

    @classmethod
    def of(cls, body: bytes) -> CachedBody:
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        return cls(body, f'"{digest}"'.encode("ascii"))


def lists_dir(root: Root) -> Path:
    return root.outpack_dir / CACHE_DIR / LISTS_DIR


def etag_for(name: str) -> bytes:
    return f'"{name.rsplit("-", 1)[-1].removesuffix(".json")[:32]}"'.encode("ascii")


def existing(root: Root, name: str, count: int) -> BodyFile | None:
    """The body file `name` if some process already wrote it (and mark it used)."""
    path = lists_dir(root) / name
    try:
        os.utime(path)
        size = os.stat(path).st_size
    except OSError:
        return None
    return BodyFile(str(path), size, etag_for(name), count, name)


def newest(root: Root, prefix: str) -> BodyFile | None:
    """The most recently used body file whose name starts with `prefix` (entry count unknown)."""
    try:
        candidates = [
            (entry.stat().st_mtime, entry.path, entry.name)
            for entry in os.scandir(lists_dir(root))
            if entry.name.startswith(prefix) and entry.name.endswith(".json")
        ]
    except OSError:
        return None
    if not candidates:
        return None
    _, path, name = max(candidates)
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    return BodyFile(path, size, etag_for(name), -1, name)


def touch(body: BodyFile) -> None:
    """Mark a body's file as in use (it is not removed as unused for a minute)."""
    with contextlib.suppress(OSError):
        os.utime(body.path)


def entry_lines(body: BodyFile) -> Iterator[bytes]:
    """The entries of a body, one per item, without separators."""
    with open(body.path, "rb") as stream:
        stream.readline()  # the header
        for line in stream:
            if line.startswith(b"]"):
                break
            yield line.rstrip(b"\n").removesuffix(b",")
    yield from tail_lines(body.tail)


def tail_lines(tail: Tail) -> list[bytes]:
    """The entries of a tail, without separators."""
    lines = (line.removesuffix(b",") for line in _tail_entries(tail).split(b"\n"))
    return [line for line in lines if line]


def _tail_entries(tail: Tail) -> bytes:
    if not tail.size:
        return b""
    with open(tail.path, "rb") as stream:
        return stream.read(tail.size)


_PRIVATE: list[Path] = []


def _private_dir() -> Path:
    """A folder of this process's own, for bodies it cannot keep in the root."""
    if not _PRIVATE:
        _PRIVATE.append(Path(tempfile.mkdtemp(prefix="outpack-lists-")))
        atexit.register(shutil.rmtree, _PRIVATE[0], ignore_errors=True)
    return _PRIVATE[0]


class BodyWriter:
    """Writes one body file: header, entries (copied or new), trailer; then publishes it."""

    def __init__(self, root: Root) -> None:
        self.root = root
        self.count = 0
        try:
            self._fd, self._temp = new_temp_file(lists_dir(root))
        except StorageError:
            # A root this process cannot write (read-only, full): the body is
            # kept outside it, for this process alone.
            self._fd, self._temp = new_temp_file(_private_dir())
        self._size = 0
        self._write(HEADER)

    def __enter__(self) -> BodyWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            discard(self._temp)

    def _write(self, data: bytes) -> None:
        try:
            write_all(self._fd, data)
        except OSError as err:
            raise storage_error(err, "writing a list body") from err
        self._size += len(data)

    def copy_entries(self, previous: BodyFile) -> None:
        """Start with all the entries of `previous` (a kernel copy, not through Python)."""
        if previous.count == 0:
            return
        end = previous.file_end if previous.tail else previous.entries_end
        try:
            with open(previous.path, "rb") as source:
                self._copy_range(source, len(HEADER), end)
        except OSError as err:
            raise storage_error(err, "copying a list body") from err
        if previous.tail.size:
            try:
                with open(previous.tail.path, "rb") as source:
                    self._copy_range(source, 0, previous.tail.size)
            except OSError as err:
                raise storage_error(err, "copying a list body") from err
        self.count = previous.count

    def _copy_range(self, source: BinaryIO, start: int, end: int) -> None:
        while start < end:
            wanted = min(end - start, _COPY_CHUNK)
            try:
                copied = os.copy_file_range(source.fileno(), self._fd, wanted, start)
            except OSError as err:
                if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                # Where the kernel cannot copy between these files: through Python.
                source.seek(start)
                data = source.read(wanted)
                write_all(self._fd, data)
                copied = len(data)
            if copied == 0:
                raise StorageError(f"List body {source.name} is shorter than expected")
            start += copied
            self._size += copied

    def add(self, entries: Iterable[bytes]) -> None:
        parts = []
        for entry in entries:
            parts.append(b",\n" if self.count else b"\n")
            parts.append(entry)
            self.count += 1
            if len(parts) >= 8192:
                self._write(b"".join(parts))
                parts = []
        if parts:
            self._write(b"".join(parts))

    def finish(self, name: str) -> tuple[BodyFile, Callable[[], object]]:
        """The complete file, ready to send, and the step that publishes it as `name`.

        The step (fsync, hard link under `name`, fsync of the folder) may run
        later, in the background: until it has, no other process can find the
        file, and after a crash it is only an unused temporary file.
        """
        self._write(TRAILER)
        fd, self._fd = self._fd, -1
        try:
            os.close(fd)
        except OSError as err:
            discard(self._temp)
            raise storage_error(err, "writing a list body") from err
        body = BodyFile(str(self._temp), self._size, etag_for(name), self.count, name)
        temp, destination = self._temp, lists_dir(self.root) / name
        return body, lambda: link_durably(temp, destination)


def _paths(folder: Path, bodies: Iterable[BodyFile | None]) -> set[str]:
    """Every file the bodies are sent from: their files, shared names and tails."""
    paths: set[str] = set()
    for body in bodies:
        if body is not None:
            paths.update((body.path, str(folder / body.name), body.tail.path))
    return paths


def remove_retired(
    root: Root, retired: Iterable[BodyFile], keep: Iterable[BodyFile | None]
) -> None:
    """Remove bodies this process no longer uses (its own files, both names)."""
    folder = lists_dir(root)
    kept = _paths(folder, keep)
    for body in retired:
        for path in (body.path, str(folder / body.name), body.tail.path):
            if path and path not in kept:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def remove_unused(root: Root, keep: Iterable[BodyFile | None]) -> None:
    """Remove body files nobody has used for an hour (never those in `keep`)."""
    folder = lists_dir(root)
    kept = _paths(folder, keep)
    cutoff = time.time() - UNUSED_AFTER_S
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.path not in kept and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
