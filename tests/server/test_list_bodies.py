"""What a long-running server keeps: list bodies extended by difference, a bounded metadata cache.

A server keeps `/metadata/list` and `/packit/metadata` and only appends the
newcomers after a push; these tests drive one server through random changes
(packets that sort last or earlier, records at earlier and later locations,
records removed by hand) and compare every answer with the list computed
directly from the files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outpack.config import CoreConfig, init_root
from outpack.hash import hash_bytes
from outpack.location import LocationRecord
from outpack.packet import create_packet
from outpack.root import Root
from outpack.server.app import create_app
from outpack.server.bodies import (
    BodyFile,
    BodyWriter,
    entry_lines,
    existing,
    lists_dir,
    remove_retired,
)
from outpack.server.responses import success_body, success_body_raw
from outpack.server.settings import ServerSettings
from outpack.server.state import _entry_size, _MetadataCache, _MetadataEntry
from tests.server.conftest import AsgiClient, add_location, check_success

LOCATIONS = ("local", "remote", "unconfigured")
OTHER_HASH = str(hash_bytes("sha256", b"elsewhere"))


def expected_metadata_list(root: Root) -> list[dict[str, Any]]:
    seen: set[str] = set()
    entries = []
    for location in root.location_names():
        for packet_id, record in sorted(root.location_records(location).items()):
            if packet_id not in seen:
                seen.add(packet_id)
                entries.append({"packet": packet_id, "time": record.time, "hash": record.hash})
    return entries


def expected_packit_ids(root: Root) -> list[str]:
    return sorted(root.packet_ids())


def packet_id(second: int, serial: int) -> str:
    return f"20240101-{second // 60:04d}{second % 60:02d}-{serial:08x}"


operation = st.one_of(
    st.tuples(st.just("packet"), st.integers(0, 40)),
    st.tuples(st.just("pull"), st.integers(0, 40)),
    st.tuples(st.just("record"), st.sampled_from(LOCATIONS[1:]), st.integers(0, 40)),
    st.tuples(st.just("forget"), st.sampled_from(LOCATIONS[1:]), st.integers(0, 40)),
)


def apply(path: Path, step: tuple[Any, ...], serial: int, made: list[str]) -> None:
    root = Root.open(path)
    if step[0] in ("packet", "pull"):
        # A new packet, or one that other locations may already list.
        wanted = packet_id(step[1], serial if step[0] == "packet" else 0)
        if not root.has_metadata(wanted):
            made.append(create_packet(root, "p", {"a.txt": b"%d" % serial}, packet_id=wanted))
    elif step[0] == "record":
        # Sometimes a packet this root has, sometimes one it only knows of.
        target = made[step[2] % len(made)] if made and step[2] % 2 else packet_id(step[2], 0)
        root.add_location_record(step[1], LocationRecord(target, float(serial), OTHER_HASH))
    else:
        records = path / ".outpack" / "location" / step[1]
        present = sorted(records.iterdir()) if records.exists() else []
        if present:
            present[step[2] % len(present)].unlink()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=st.lists(operation, min_size=1, max_size=12))
def test_lists_stay_equal_to_the_disk(steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "root"
        init_root(path, CoreConfig(use_file_store=True, require_complete_tree=False))
        add_location(path, "remote", [])
        client = AsgiClient(create_app(ServerSettings(root=str(path), access_log=False)))
        made: list[str] = []
        for serial, step in enumerate(steps, start=1):
            apply(path, step, serial, made)
            root = Root.open(path)
            listed = check_success(client.get("/metadata/list").body)
            assert listed == expected_metadata_list(root), steps[:serial]
            packit = check_success(client.get("/packit/metadata").body)
            assert [entry["id"] for entry in packit] == expected_packit_ids(root)
        client.app.handlers.state.background_done()


def _written(root: Root, name: str, entries: list[bytes], previous: BodyFile | None) -> BodyFile:
    with BodyWriter(root) as writer:
        if previous is not None:
            writer.copy_entries(previous)
        writer.add(entries)
        body, publish = writer.finish(name)
    publish()
    return body


def test_body_files_extend_by_copying_the_previous_entries(new_root: Root) -> None:
    empty = _written(new_root, "t-empty.json", [], None)
    assert Path(empty.path).read_bytes() == success_body_raw(b"[\n]")
    assert orjson.loads(Path(empty.path).read_bytes()) == orjson.loads(success_body([]))
    one = _written(new_root, "t-one.json", [b"1"], empty)
    assert orjson.loads(Path(one.path).read_bytes()) == orjson.loads(success_body([1]))
    three = _written(new_root, "t-three.json", [b"2", b'{"a":3}'], one)
    assert orjson.loads(Path(three.path).read_bytes()) == orjson.loads(
        success_body([1, 2, {"a": 3}])
    )
    assert three.count == 3 and three.size == Path(three.path).stat().st_size
    assert list(entry_lines(three)) == [b"1", b"2", b'{"a":3}']
    # Made directly, the same entries give the same bytes: names and tags can be shared.
    direct = _written(new_root, "t-direct.json", [b"1", b"2", b'{"a":3}'], None)
    assert Path(direct.path).read_bytes() == Path(three.path).read_bytes()
    unchanged = _written(new_root, "t-same.json", [], three)
    assert Path(unchanged.path).read_bytes() == Path(three.path).read_bytes()
    # Published under their names, for other processes to find.
    assert (lists_dir(new_root) / "t-three.json").read_bytes() == Path(three.path).read_bytes()
    assert existing(new_root, "t-three.json", 3) is not None
    assert existing(new_root, "t-absent.json", 3) is None


def test_spliced_bodies_append_without_touching_the_file(new_root: Root) -> None:
    base = _written(new_root, "t-base.json", [b"1", b"2"], None)
    before = Path(base.path).read_bytes()
    one = base.spliced([b"3"], "t-one.json")
    two = one.spliced([b'{"a":4}', b"5"], "t-two.json")
    assert Path(base.path).read_bytes() == before
    assert two.path == base.path and two.count == 5
    whole = before[: two.file_end] + two.tail.read()
    assert len(whole) == two.size
    assert orjson.loads(whole) == orjson.loads(success_body([1, 2, 3, {"a": 4}, 5]))
    assert list(entry_lines(two)) == [b"1", b"2", b"3", b'{"a":4}', b"5"]
    # Written out, a spliced body gives the bytes a direct build gives.
    copied = _written(new_root, "t-copied.json", [b"6"], two)
    direct = _written(new_root, "t-direct6.json", [b"1", b"2", b"3", b'{"a":4}', b"5", b"6"], None)
    assert Path(copied.path).read_bytes() == Path(direct.path).read_bytes()
    # Splicing onto an empty body.
    empty = _written(new_root, "t-empty0.json", [], None)
    spliced = empty.spliced([b"7"], "t-seven.json")
    whole = Path(empty.path).read_bytes()[: spliced.file_end] + spliced.tail.read()
    assert orjson.loads(whole) == orjson.loads(success_body([7]))


def test_spliced_tails_live_on_disk_and_earlier_bodies_stay_whole(new_root: Root) -> None:
    """Splices share one tail file on disk; each body sends the part written when it was made."""
    base = _written(new_root, "t-tbase.json", [b"1"], None)
    one = base.spliced([b"2"], "t-tone.json")
    two = one.spliced([b"3"], "t-ttwo.json")
    assert one.tail.path and one.tail.path == two.tail.path
    assert list(entry_lines(one)) == [b"1", b"2"]
    assert list(entry_lines(two)) == [b"1", b"2", b"3"]
    # Splicing onto the older body again cannot reuse the shared file: a new tail file.
    other = one.spliced([b"4"], "t-tother.json")
    assert other.tail.path != two.tail.path
    assert list(entry_lines(other)) == [b"1", b"2", b"4"]
    assert list(entry_lines(two)) == [b"1", b"2", b"3"]
    before = Path(base.path).read_bytes()
    for body, expected in ((one, [1, 2]), (two, [1, 2, 3]), (other, [1, 2, 4])):
        whole = before[: body.file_end] + body.tail.read()
        assert len(whole) == body.size
        assert orjson.loads(whole) == orjson.loads(success_body(expected))
    # A tail file goes with the last body that used it.
    remove_retired(new_root, [one, two], [other])
    assert not os.path.exists(two.tail.path) and os.path.exists(other.tail.path)


def test_a_spliced_list_is_sent_whole(new_root: Root) -> None:
    """/packit/metadata after a push: the previous file plus the new entries, as one body."""
    client = AsgiClient(create_app(ServerSettings(root=str(new_root.path), access_log=False)))
    first = create_packet(new_root, "a", {"a.txt": b"a"})
    assert [e["id"] for e in check_success(client.get("/packit/metadata").body)] == [first]
    second = create_packet(new_root, "b", {"b.txt": b"b"})
    for pathsend in (True, False):
        client.pathsend = pathsend
        listed = check_success(client.get("/packit/metadata").body)
        assert [entry["id"] for entry in listed] == [first, second]
    packit = client.app.handlers.state.view.packit
    assert packit is not None and packit.tail, "the second answer was spliced"
    client.app.handlers.state.background_done()


def test_a_packet_that_sorts_among_the_new_ones_rewrites_only_the_tail(new_root: Root) -> None:
    """Listed while packets land, a folder may show a later packet before an earlier one.

    The earlier one, found next time, sorts among the entries spliced after
    the body's file: the lists take it in their tails, and keep their files.
    """
    client = AsgiClient(create_app(ServerSettings(root=str(new_root.path), access_log=False)))
    state = client.app.handlers.state
    create_packet(new_root, "a", {"a.txt": b"a"}, packet_id=packet_id(10, 1))

    def lists() -> tuple[BodyFile, BodyFile]:
        listed = check_success(client.get("/metadata/list").body)
        assert listed == expected_metadata_list(new_root)
        packit = check_success(client.get("/packit/metadata").body)
        assert [entry["id"] for entry in packit] == expected_packit_ids(new_root)
        assert state.view.metadata_list is not None and state.view.packit is not None
        return state.view.metadata_list, state.view.packit

    files = lists()
    for second in (30, 40, 20, 35, 50, 21):
        create_packet(new_root, "b", {"b.txt": b"%d" % second}, packet_id=packet_id(second, 1))
        bodies = lists()
        assert [body.path for body in bodies] == [body.path for body in files]
        assert all(body.tail for body in bodies)
    # One that sorts before the file's last entry: the lists are made anew.
    create_packet(new_root, "c", {"c.txt": b"c"}, packet_id=packet_id(5, 1))
    assert all(not body.tail for body in lists())
    state.background_done()


def test_metadata_cache_keeps_the_recently_used_within_its_budget() -> None:
    budget = 20 * _entry_size(_MetadataEntry(b"x" * 100))
    cache = _MetadataCache(budget)
    for number in range(100):
        cache.put(f"p{number}", _MetadataEntry(b"x" * 100))
        if number >= 1:
            assert cache.get("p0") is not None, "read each time, so always recent"
    kept = [f"p{number}" for number in range(100) if cache.get(f"p{number}") is not None]
    assert len(kept) == 20
    assert kept[0] == "p0" and kept[1:] == [f"p{number}" for number in range(81, 100)]
    # An entry larger than the per-entry limit is served but never kept.
    cache.put("huge", _MetadataEntry(b"x" * (2 << 20)))
    assert cache.get("huge") is None
