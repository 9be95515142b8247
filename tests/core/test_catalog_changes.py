"""The catalog sees every change to the root, whether it lists folders or hears from inotify."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from outpack.catalog import Catalog
from outpack.inotify import FolderEvents
from outpack.packet import create_packet
from outpack.root import Root


@pytest.fixture(params=[True, False], ids=["inotify", "listing"])
def catalog(request: pytest.FixtureRequest, new_root: Root) -> Iterator[Catalog]:
    notify: bool = request.param
    if notify and FolderEvents.open(new_root.path) is None:
        pytest.skip("no inotify for this root on this machine")
    opened = Catalog(Root.open(new_root.path), notify=notify)
    opened.refresh()
    yield opened
    opened.close()


def test_packets_written_directly_are_seen(
    new_root: Root, catalog: Catalog, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.id == "inotify":
        # (A listing made in the tick the root was created in is looked at again.)
        assert not catalog.may_have_changed()
    first = create_packet(new_root, "a", {"a.txt": b"1"})
    assert catalog.may_have_changed()
    changes = catalog.refresh()
    assert changes.packets == [first]
    assert catalog.packet_ids() == [first]
    assert list(catalog.unpacked_ids()) == [first]
    more = [create_packet(new_root, "b", {"b.txt": f"{n}".encode()}) for n in range(5)]
    catalog.refresh()
    assert catalog.packet_ids() == sorted([first, *more])
    # Caught up: nothing to find until the next change (not even a second look).
    catalog.refresh()
    assert catalog.packet_ids() == sorted([first, *more])


def test_removed_packets_and_records_go(new_root: Root, catalog: Catalog) -> None:
    ids = [create_packet(new_root, "a", {"a.txt": f"{n}".encode()}) for n in range(3)]
    catalog.refresh()
    os.unlink(new_root.metadata_dir / ids[1])
    os.unlink(new_root.location_dir / "local" / ids[2])
    assert catalog.may_have_changed()
    changes = catalog.refresh()
    assert changes.removed == 2
    assert catalog.packet_ids() == [ids[0], ids[2]]
    assert sorted(catalog.unpacked_ids()) == [ids[0], ids[1]]
    # Watched again after the full listing: the next packet is still seen.
    later = create_packet(new_root, "a", {"a.txt": b"later"})
    catalog.refresh()
    assert catalog.packet_ids() == [ids[0], ids[2], later]


def test_locations_that_appear_and_go_are_seen(new_root: Root, catalog: Catalog) -> None:
    packet_id = create_packet(new_root, "a", {"a.txt": b"1"})
    catalog.refresh()
    other = new_root.location_dir / "other"
    other.mkdir()
    shutil.copyfile(new_root.location_dir / "local" / packet_id, other / packet_id)
    assert catalog.may_have_changed()
    catalog.refresh()
    assert list(catalog.records("other")) == [packet_id]
    shutil.rmtree(other)
    catalog.refresh()
    assert list(catalog.records("other")) == []


def test_metadata_written_in_two_steps_is_read_once_complete(
    new_root: Root, catalog: Catalog, request: pytest.FixtureRequest
) -> None:
    """orderly2 writes metadata in place; a refresh between its writes finds half a file."""
    source = create_packet(new_root, "a", {"a.txt": b"1"})
    catalog.refresh()
    text = (new_root.metadata_dir / source).read_bytes()
    packet_id = source[:-8] + "ffffffff"
    half = len(text) // 2
    with open(new_root.metadata_dir / packet_id, "wb") as writer:
        writer.write(text[:half].replace(source.encode(), packet_id.encode()))
        writer.flush()
        catalog.refresh()
        assert packet_id in catalog.damaged_packets()
        writer.write(text[half:].replace(source.encode(), packet_id.encode()))
    catalog.refresh()
    if request.node.callspec.id == "listing":
        # A listing cannot tell that a known name was written again.
        assert packet_id in catalog.damaged_packets()
        return
    assert packet_id not in catalog.damaged_packets()
    assert catalog.packet_ids() == sorted([source, packet_id])


def test_damaged_records_written_again_are_read_again(
    new_root: Root, catalog: Catalog, request: pytest.FixtureRequest
) -> None:
    packet_id = create_packet(new_root, "a", {"a.txt": b"1"})
    record = new_root.location_dir / "local" / packet_id
    text = record.read_bytes()
    catalog.refresh()
    other = new_root.location_dir / "other"
    other.mkdir()
    (other / packet_id).write_bytes(b"{")
    catalog.refresh()
    assert "location/other/" + packet_id in catalog.damaged()
    (other / packet_id).write_bytes(text)
    catalog.refresh()
    if request.node.callspec.id == "listing":
        assert "location/other/" + packet_id in catalog.damaged()
        return
    assert list(catalog.records("other")) == [packet_id]
    assert catalog.damaged() == {}
