"""The persistent catalog: a shortcut that is never required for correctness."""

from __future__ import annotations

import os

import orjson

from outpack.catalog import Catalog
from outpack.packet import create_packet
from outpack.root import Root
from outpack.snapshot import load_snapshot, snapshot_path
from outpack.summary import PacketSummary


def build(root: Root, count: int) -> list[str]:
    return [
        create_packet(root, f"n{i % 3}", {"f.txt": f"{i}".encode()}, parameters={"i": i})
        for i in range(count)
    ]


def fresh(root: Root) -> Catalog:
    catalog = Catalog(Root.open(root.path), persistent=True)
    catalog.refresh()
    catalog.save()
    return catalog


def summaries(catalog: Catalog) -> dict[str, PacketSummary]:
    return {summary.id: summary for summary in catalog.summaries()}


def records(catalog: Catalog) -> dict[str, dict[str, object]]:
    return {name: dict(catalog.records(name)) for name in catalog.location_names()}


def test_snapshot_written_and_reused(new_root: Root) -> None:
    ids = build(new_root, 5)
    first = fresh(new_root)
    assert first.packet_ids() == ids
    assert snapshot_path(new_root).is_file()
    snapshot = load_snapshot(new_root)
    assert snapshot is not None and sorted(snapshot.summaries) == ids
    # A later catalog starts from the snapshot, with equal contents.
    second = Catalog(Root.open(new_root.path), persistent=True)
    assert second.packet_ids() == ids
    assert summaries(second) == summaries(first)
    second.refresh()
    assert records(second) == records(first)
    summary = second.summary(ids[2])
    assert isinstance(summary, PacketSummary)
    assert summary.parameters == {"i": 2} and summary.name == "n2"


def test_stale_snapshot_is_reconciled(new_root: Root) -> None:
    ids = build(new_root, 3)
    fresh(new_root)
    more = build(new_root, 2)
    os.unlink(new_root.location_dir / "local" / ids[0])
    os.unlink(new_root.metadata_dir / ids[0])
    catalog = fresh(new_root)
    assert catalog.packet_ids() == ids[1:] + more
    assert sorted(summaries(catalog)) == ids[1:] + more
    assert sorted(catalog.unpacked_ids()) == ids[1:] + more


def test_corrupt_or_foreign_snapshot_is_rebuilt(new_root: Root) -> None:
    ids = build(new_root, 3)
    fresh(new_root)
    path = snapshot_path(new_root)
    for junk in (b"", b"{truncated", b'{"format": "something else"}', orjson.dumps([1, 2])):
        path.write_bytes(junk)
        assert load_snapshot(new_root) is None
        catalog = fresh(new_root)
        assert catalog.packet_ids() == ids and sorted(summaries(catalog)) == ids
        assert load_snapshot(new_root) is not None


def test_snapshot_with_wrong_columns_is_ignored(new_root: Root) -> None:
    build(new_root, 2)
    fresh(new_root)
    path = snapshot_path(new_root)
    good = orjson.loads(path.read_bytes())
    damaged: list[tuple[str, object]] = [
        ("name", ["only-one"]),
        ("parameters", [1, 2]),
        ("depends", 7),
    ]
    for column, value in damaged:
        document = orjson.loads(orjson.dumps(good))
        document["packets"][column] = value
        path.write_bytes(orjson.dumps(document))
        assert load_snapshot(new_root) is None, column
    document = orjson.loads(orjson.dumps(good))
    document["packets"]["id"][1] = document["packets"]["id"][0]
    path.write_bytes(orjson.dumps(document))
    assert load_snapshot(new_root) is None


def test_snapshot_shared_by_processes_stays_consistent(new_root: Root) -> None:
    """Two catalogs over one root, each writing the snapshot: neither loses packets."""
    ids = build(new_root, 2)
    one, two = fresh(new_root), fresh(new_root)
    more = build(new_root, 2)
    one.refresh()
    one.save()
    extra = build(new_root, 1)
    two.refresh()
    two.save()
    # The last writer's snapshot lacks nothing either of them saw...
    snapshot = load_snapshot(new_root)
    assert snapshot is not None and sorted(snapshot.summaries) == ids + more + extra
    # ...and a stale one is reconciled with the folders on open.
    final = build(new_root, 1)
    assert fresh(new_root).packet_ids() == ids + more + extra + final


def test_old_snapshot_format_is_replaced(new_root: Root) -> None:
    ids = build(new_root, 2)
    old = snapshot_path(new_root).with_name("catalog-v1.json")
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b'{"format": "outpack-python-catalog/1", "packets": []}')
    assert fresh(new_root).packet_ids() == ids
    assert snapshot_path(new_root).is_file() and not old.exists()


def test_damaged_packets_are_left_out_and_remembered(new_root: Root) -> None:
    ids = build(new_root, 2)
    broken = "20200101-000000-0000dead"
    (new_root.metadata_dir / broken).write_bytes(b'{"id": "20200101-000000-0000dead"}')
    (new_root.location_dir / "local" / broken).write_bytes(b"{}")
    catalog = fresh(new_root)
    assert catalog.packet_ids() == ids
    assert broken not in summaries(catalog)
    assert broken not in catalog.records("local")
    damaged = catalog.damaged()
    assert set(damaged) == {f"metadata/{broken}", f"location/local/{broken}"}
    assert "required fields missing" in damaged[f"metadata/{broken}"]
    assert catalog.damaged_count() == 2
    # The snapshot remembers them, so a later process neither reads nor counts them again.
    again = fresh(new_root)
    assert again.damaged() == damaged and again.packet_ids() == ids
    # Removing the damaged files forgets them.
    (new_root.metadata_dir / broken).unlink()
    (new_root.location_dir / "local" / broken).unlink()
    catalog.refresh()
    assert catalog.damaged() == {} and catalog.packet_ids() == ids
