"""Names added to watched folders, as Linux's inotify reports them.

Listing a folder of 100,000 packets to find the one that just arrived costs
tens of milliseconds; the kernel can say which names arrived instead.
`FolderEvents` watches folders and keeps, per folder, the names created,
moved in or written since the caller last took them. The kernel queues an
event while the system call that made the change runs, so once a writer's
`link`, `rename` or `close` has returned, `pending` is true in every process
watching: a reader that finds nothing pending has missed nothing.

This holds only on local file systems: changes made by another host on a
network file system produce no events here, so `FolderEvents.open` refuses
folders on any file system not known to be local, and callers fall back to
listing folders whose modification time moved (see `outpack.freshness`), as
they also do with `OUTPACK_INOTIFY=off` in the environment.
Whatever the kernel could not report (its queue overflowed, a name was
removed or moved away, the folder itself went) marks the folder *lost*: the
caller lists it in full once, and the names from then on are complete again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import sys
import weakref
from pathlib import Path

# From <sys/inotify.h>.
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_CLOSE_WRITE = 0x00000008
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

# A name that appears (linked, created, renamed in) or whose writer closed it:
# a file written in place, as orderly2 writes metadata, is complete only then.
ADDED = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE
# What a list of added names cannot express: the folder must be listed again.
LOST = IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED
WATCHED = ADDED | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
_EVENT = struct.Struct("iIII")
SWITCH = "OUTPACK_INOTIFY"
_READ_SIZE = 1 << 16

# File systems whose changes are all made by this kernel, so all are reported.
LOCAL_FILE_SYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "ramfs", "overlay", "zfs", "f2fs", "bcachefs"}
)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


def file_system_type(path: Path) -> str | None:
    """The type of the file system `path` is on, from /proc/self/mountinfo (Linux)."""
    try:
        target = os.path.realpath(path)
        with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return None
    best, found = -1, None
    for line in lines:
        fields, _, after = line.partition(" - ")
        parts = fields.split()
        if len(parts) < 5 or not after:
            continue
        # Mount points escape spaces and other bytes as \ooo.
        point = parts[4].encode().decode("unicode_escape")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best:
            best, found = len(point), after.split()[0]
    return found


class FolderEvents:
    """An inotify instance: which names were added to each watched folder.

    `pending` may be called from any thread; `watch`, `take` and `forget`
    from one thread at a time (the catalog's refresh).
    """

    def __init__(self, libc: ctypes.CDLL, fd: int) -> None:
        self._libc = libc
        self._fd = fd
        self._keys: dict[int, str] = {}
        self._watches: dict[str, int] = {}
        self._added: dict[str, list[str]] = {}
        self._lost: set[str] = set()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._closer = weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, root: Path) -> FolderEvents | None:
        """Events for folders under `root`; None where they cannot be complete, or are off."""
        if os.environ.get(SWITCH, "").lower() in {"0", "off", "no", "false"}:
            return None
        if file_system_type(root) not in LOCAL_FILE_SYSTEMS:
            return None
        libc = _libc()
        if libc is None:
            return None
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            # Out of instances (a per-user limit): folders are listed instead.
            return None
        return cls(libc, fd)

    def close(self) -> None:
        self._closer()

    def watching(self, key: str) -> bool:
        """Whether `key` is watched and has lost nothing since it was last listed in full."""
        return key in self._watches and key not in self._lost

    def watch(self, key: str, path: str) -> bool:
        """Start watching; call it *before* listing the folder in full. False if it cannot be."""
        # What is queued is older than the listing to come, which covers it.
        self._drain()
        self._lost.discard(key)
        self._added.pop(key, None)
        if key in self._watches:
            return True
        wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), WATCHED)
        if wd < 0:
            return False
        self._keys[wd] = key
        self._watches[key] = wd
        return True

    def forget(self, key: str) -> None:
        wd = self._watches.pop(key, None)
        if wd is not None:
            self._libc.inotify_rm_watch(self._fd, wd)
            self._keys.pop(wd, None)
        self._added.pop(key, None)
        self._lost.discard(key)

    def pending(self) -> bool:
        """Whether anything happened in a watched folder since the last `take` read the queue."""
        return bool(self._poll.poll(0))

    def take(self, key: str) -> list[str] | None:
        """Names added to `key`'s folder since last taken (repeats possible); None if lost."""
        self._drain()
        if key in self._lost or key not in self._watches:
            return None
        return self._added.pop(key, [])

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                return
            self._parse(data)

    def _parse(self, data: bytes) -> None:
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            name = data[offset : offset + length].rstrip(b"\0")
            offset += length
            if mask & IN_Q_OVERFLOW:
                self._lost.update(self._watches)
                continue
            key = self._keys.get(wd)
            if key is None:
                continue
            if mask & IN_IGNORED:
                # The watch is gone with its folder: watched afresh when listed.
                del self._keys[wd]
                self._watches.pop(key, None)
            if mask & LOST:
                self._lost.add(key)
            elif mask & ADDED and name:
                self._added.setdefault(key, []).append(os.fsdecode(name))
