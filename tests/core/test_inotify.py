"""Names added to folders, from the kernel: what is reported, and when a folder must be listed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from outpack.inotify import LOCAL_FILE_SYSTEMS, SWITCH, FolderEvents, file_system_type


@pytest.fixture
def events(tmp_path: Path) -> Iterator[FolderEvents]:
    opened = FolderEvents.open(tmp_path)
    if opened is None:
        pytest.skip(f"no inotify for {tmp_path} ({file_system_type(tmp_path)}) on this machine")
    yield opened
    opened.close()


def test_the_temporary_folder_is_on_a_local_file_system(tmp_path: Path) -> None:
    assert file_system_type(tmp_path) in LOCAL_FILE_SYSTEMS
    assert file_system_type(Path("/proc")) == "proc"


def test_it_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SWITCH, "off")
    assert FolderEvents.open(tmp_path) is None


def test_names_created_linked_and_renamed_in_are_reported(
    tmp_path: Path, events: FolderEvents
) -> None:
    folder = tmp_path / "watched"
    folder.mkdir()
    assert events.watch("w", str(folder))
    assert events.watching("w")
    assert not events.pending()
    assert events.take("w") == []
    (folder / "written").write_bytes(b"{}")
    outside = tmp_path / "outside"
    outside.write_bytes(b"x")
    os.link(outside, folder / "linked")
    (tmp_path / "moved").write_bytes(b"y")
    os.rename(tmp_path / "moved", folder / "moved")
    assert events.pending(), "queued as soon as the writes returned"
    added = events.take("w")
    assert added is not None
    # Written in place: once created, once closed by its writer.
    assert sorted(set(added)) == ["linked", "moved", "written"]
    assert not events.pending()
    assert events.take("w") == []
    outside.write_bytes(b"not watched")
    assert not events.pending()


def test_a_removal_means_the_folder_must_be_listed_again(
    tmp_path: Path, events: FolderEvents
) -> None:
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "a").write_bytes(b"")
    events.watch("w", str(folder))
    (folder / "a").unlink()
    (folder / "b").write_bytes(b"")
    assert events.take("w") is None
    assert not events.watching("w")
    # Listed again in full: watched afresh, reporting from then on.
    assert events.watch("w", str(folder))
    assert events.watching("w")
    (folder / "c").write_bytes(b"")
    assert set(events.take("w") or []) == {"c"}


def test_a_folder_that_goes_is_no_longer_watched(tmp_path: Path, events: FolderEvents) -> None:
    folder = tmp_path / "watched"
    folder.mkdir()
    events.watch("w", str(folder))
    folder.rmdir()
    assert events.take("w") is None
    assert not events.watching("w")
    assert not events.watch("w", str(folder)), "nothing to watch"
    folder.mkdir()
    assert events.watch("w", str(folder))
    (folder / "new").write_bytes(b"")
    assert set(events.take("w") or []) == {"new"}


def test_an_overflowing_queue_loses_every_folder(tmp_path: Path, events: FolderEvents) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 50_000:
        pytest.skip(f"the kernel queues {limit} events: too many to overflow in a test")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    events.watch("one", str(one))
    events.watch("two", str(two))
    # Each name linked in is one event: more than the kernel will queue.
    source = tmp_path / "source"
    source.write_bytes(b"")
    for number in range(limit + 10):
        os.link(source, one / f"{number}")
    assert events.take("one") is None
    assert events.take("two") is None, "an overflow may have lost anyone's events"
    events.watch("one", str(one))
    (one / "after").write_bytes(b"")
    assert set(events.take("one") or []) == {"after"}


def test_forgotten_folders_report_nothing(tmp_path: Path, events: FolderEvents) -> None:
    folder = tmp_path / "watched"
    folder.mkdir()
    events.watch("w", str(folder))
    events.forget("w")
    (folder / "a").write_bytes(b"")
    assert events.take("w") is None
    assert not events.watching("w")
