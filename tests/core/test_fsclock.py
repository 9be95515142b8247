"""Folder listings are trusted only once the file system's clock has passed the folder's mtime."""

from __future__ import annotations

import os
import time
from pathlib import Path

from outpack.catalog import Catalog
from outpack.fsclock import LOCAL_CLOCK_WINDOW_NS, FileSystemClock
from outpack.packet import create_packet
from outpack.root import Root


def test_probe_reads_the_file_systems_time(tmp_path: Path) -> None:
    probe = tmp_path / "cache" / "clock"
    clock = FileSystemClock(probe)
    assert clock.passed(time.time_ns() - 10**9)
    assert probe.is_file(), "the probe is created on first use"
    # A folder stamped ahead of the file system's clock (a coarse tick not yet over).
    assert not clock.passed(time.time_ns() + 5 * 10**9)
    earlier = probe.stat().st_mtime_ns - 10**9
    os.utime(probe, ns=(earlier, earlier))
    clock.passed(0)
    assert probe.stat().st_mtime_ns > earlier, "each question touches the probe again"


def test_without_a_writable_probe_the_local_clock_decides(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    clock = FileSystemClock(blocker / "clock")  # cannot exist: its parent is a file
    now = time.time_ns()
    assert not clock.passed(now)
    assert not clock.passed(now - LOCAL_CLOCK_WINDOW_NS // 2)
    assert clock.passed(now - 2 * LOCAL_CLOCK_WINDOW_NS)


def _stamp(folder: Path, mtime_ns: int) -> None:
    os.utime(folder, ns=(mtime_ns, mtime_ns))


def test_a_second_change_in_the_same_tick_is_seen(new_root: Root) -> None:
    """A coarse file system: both packets arrive in one tick, so the mtime stays the same."""
    metadata = new_root.metadata_dir
    catalog = Catalog(Root.open(new_root.path))
    first = create_packet(new_root, "a", {"a.txt": b"1"})
    tick = time.time_ns() + 3 * 10**9  # the tick the file system has not yet left
    _stamp(metadata, tick)
    catalog.refresh()
    assert catalog.ids == [first]
    second = create_packet(new_root, "b", {"b.txt": b"2"})
    _stamp(metadata, tick)
    catalog.refresh()
    assert catalog.ids == [first, second]


def test_a_settled_folder_is_not_listed_again(new_root: Root) -> None:
    metadata = new_root.metadata_dir
    catalog = Catalog(Root.open(new_root.path))
    first = create_packet(new_root, "a", {"a.txt": b"1"})
    past = time.time_ns() - 10**9
    _stamp(metadata, past)
    catalog.refresh()
    # Smuggled in behind an unchanged mtime, which no real change can do once
    # the clock has moved on: the catalog trusts its listing and does not look.
    hidden = create_packet(new_root, "b", {"b.txt": b"2"})
    _stamp(metadata, past)
    catalog.refresh()
    assert catalog.ids == [first]
    # Any real change moves the mtime, and both packets are then seen.
    third = create_packet(new_root, "c", {"c.txt": b"3"})
    catalog.refresh()
    assert catalog.ids == sorted([first, hidden, third])
