"""The server's freshness layer: work off the event loop, shared body files, one snapshot saver."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from outpack.inotify import SWITCH
from outpack.packet import create_packet
from outpack.root import Root
from outpack.server.app import create_app
from outpack.server.bodies import lists_dir
from outpack.server.settings import ServerSettings
from outpack.server.state import ServerState, SnapshotSaver, View
from outpack.snapshot import load_snapshot
from tests.server.conftest import AsgiClient, SampleRoot, ServerProcess, check_success

StartServer = Callable[..., ServerProcess]


def test_requests_are_answered_while_disk_work_is_pending(sample: SampleRoot) -> None:
    """While the state's worker thread is busy, GET / is answered; the list then completes."""
    app = create_app(ServerSettings(root=str(sample.path), access_log=False))
    client = AsgiClient(app)
    state = app.handlers.state

    async def scenario() -> list[str]:
        order: list[str] = []
        lock = state._lock()
        await lock.acquire()  # as a long refresh would hold it

        async def listing() -> None:
            await client._request("GET", "/metadata/list", b"", [], False)
            order.append("list")

        pending = asyncio.create_task(listing())
        await asyncio.sleep(0.05)
        index = await client._request("GET", "/", b"", [], False)
        assert index.status == 200
        order.append("index")
        assert not pending.done()
        lock.release()
        await pending
        return order

    assert asyncio.run(scenario()) == ["index", "list"]


def test_only_the_lock_holder_saves_the_snapshot(sample: SampleRoot) -> None:
    root = Root.open(sample.path)
    one, two = SnapshotSaver(root), SnapshotSaver(root)
    assert one.holder()
    assert not two.holder(), "the lock is held by the first"
    one.release()
    assert two.holder(), "the next one takes over once the holder is gone"
    two.release()


def test_the_snapshot_is_saved_at_shutdown(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path)
    assert len(check_success(server.get("/metadata/list").content)) == 3
    # Written straight into the root, seen by the next request; the snapshot
    # was saved moments ago, so it is not saved again until shutdown.
    added = create_packet(sample.root, "direct", {"d.txt": b"d"})
    listed = check_success(server.get("/metadata/list").content)
    assert added in [entry["packet"] for entry in listed]
    server.stop()
    snapshot = load_snapshot(sample.root)
    assert snapshot is not None
    assert sorted(snapshot.packet_ids) == sorted([*sample.ids, added])


@pytest.mark.parametrize("inotify", ["on", "off"])
def test_direct_writes_and_removals_are_seen_on_the_next_request(
    sample: SampleRoot, start_server: StartServer, monkeypatch: pytest.MonkeyPatch, inotify: str
) -> None:
    """With inotify (local file systems) and without it (network ones), as clients expect."""
    monkeypatch.setenv(SWITCH, inotify)
    server = start_server(sample.path, "--workers", "2")

    def listed() -> list[str]:
        return [entry["packet"] for entry in check_success(server.get("/metadata/list").content)]

    expected = list(sample.ids)
    for number in range(4):
        expected.append(create_packet(sample.root, "direct", {"d.txt": f"{number}".encode()}))
        # Either worker may answer: each must have seen it.
        assert sorted(listed()) == sorted(expected)
        assert sorted(listed()) == sorted(expected)
        packit = check_success(server.get("/packit/metadata").content)
        assert sorted(entry["id"] for entry in packit) == sorted(expected)
    gone = expected.pop(0)
    os.unlink(sample.path / ".outpack" / "location" / "local" / gone)
    os.unlink(sample.path / ".outpack" / "metadata" / gone)
    assert sorted(listed()) == sorted(expected)
    assert sorted(listed()) == sorted(expected)
    packit = check_success(server.get("/packit/metadata").content)
    assert sorted(entry["id"] for entry in packit) == sorted(expected)


def _get(client: AsgiClient, target: str) -> Any:
    response = client.get(target)
    assert response.status == 200
    return response


def test_body_files_are_shared_and_unused_ones_removed(sample: SampleRoot) -> None:
    def client() -> AsgiClient:
        return AsgiClient(create_app(ServerSettings(root=str(sample.path), access_log=False)))

    first, second = client(), client()
    tag = _get(first, "/packit/metadata").header("etag")
    first.app.handlers.state.background_done()
    folder = lists_dir(sample.root)
    published = [name for name in os.listdir(folder) if name.startswith("packit-")]
    assert len(published) == 1
    # The second process finds the first one's body under its shared name.
    assert _get(second, "/packit/metadata").header("etag") == tag
    assert second.app.handlers.state.view.packit is not None
    assert second.app.handlers.state.view.packit.path == str(folder / published[0])
    # Once superseded for a minute, bodies go when the next one is written.
    old = time.time() - 120
    for name in os.listdir(folder):
        os.utime(folder / name, (old, old))
    # One that sorts first: a new body is written (a later one would be spliced on).
    create_packet(sample.root, "more", {"m.txt": b"m"}, packet_id="20000101-000000-00000000")
    body = _get(first, "/packit/metadata")
    first.app.handlers.state.background_done()
    assert len(check_success(body.body)) == 4
    assert not (folder / published[0]).exists()
    current = first.app.handlers.state.view.packit
    assert current is not None
    assert sorted(os.listdir(folder)) == sorted({Path(current.path).name, current.name})


def test_a_state_refreshes_once_for_requests_that_noticed_together(sample: SampleRoot) -> None:
    """Requests that see the same change share one refresh (and all see the change)."""
    state = ServerState(Root.open(sample.path))

    async def scenario() -> list[int]:
        await state.fresh()
        before = state._refreshes
        added = create_packet(sample.root, "burst", {"b.txt": b"b"})
        views = await asyncio.gather(*(state.fresh() for _ in range(5)))
        assert all(added in view.ids for view in views)
        return [before, state._refreshes]

    before, after = asyncio.run(scenario())
    # One refresh, or two when some noticed only once the first had begun
    # (it may have listed the folder before the change they saw): never five.
    assert 1 <= after - before <= 2


def test_requests_share_one_refresh_while_the_root_keeps_changing(
    sample: SampleRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests that noticed a change while a refresh ran share the next refresh.

    Packets keep landing (one during every refresh, after it listed the
    folders), so each waiter would find the folders changed again once the
    one before it had refreshed: they must not refresh one after another.
    """
    state = ServerState(Root.open(sample.path))
    refresh = state._refresh
    landed: list[str] = []

    def refresh_while_landing() -> None:
        refresh()
        landed.append(create_packet(sample.root, "landing", {"l.txt": str(landed).encode()}))

    async def scenario() -> tuple[str, list[View], int]:
        await state.fresh()
        monkeypatch.setattr(state, "_refresh", refresh_while_landing)
        lock = state._lock()
        await lock.acquire()  # as a running refresh would hold it
        added = create_packet(sample.root, "burst", {"b.txt": b"b"})
        waiters = [asyncio.create_task(state.fresh()) for _ in range(5)]
        await asyncio.sleep(0)  # each notices the change and queues for the lock
        before = state._refreshes
        lock.release()
        views = await asyncio.gather(*waiters)
        return added, views, state._refreshes - before

    added, views, refreshes = asyncio.run(scenario())
    assert refreshes == 1
    assert all(added in view.ids for view in views)


def test_a_change_noticed_during_a_refresh_waits_for_the_next(sample: SampleRoot) -> None:
    """Read-your-writes: a refresh that began before a request noticed a change is not enough."""
    state = ServerState(Root.open(sample.path))

    async def scenario() -> tuple[str, View]:
        await state.fresh()
        lock = state._lock()
        await lock.acquire()
        state._started += 1  # a refresh has begun and listed the folders...
        added = create_packet(sample.root, "late", {"l.txt": b"l"})  # ...before this landed
        waiter = asyncio.create_task(state.fresh())
        await asyncio.sleep(0)
        state._completed = state._started  # it completes without the packet
        lock.release()
        return added, await waiter

    added, view = asyncio.run(scenario())
    assert added in view.ids


def test_no_temporary_files_are_left(sample: SampleRoot) -> None:
    client = AsgiClient(create_app(ServerSettings(root=str(sample.path), access_log=False)))
    for target in ("/metadata/list", "/packit/metadata", "/checksum"):
        _get(client, target)
    # The snapshot is serialised and written in the background: once it is done.
    client.app.handlers.state.background_done()
    tmp = Path(sample.path) / ".outpack" / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


def test_lists_are_served_when_the_cache_cannot_be_written(sample: SampleRoot) -> None:
    """A root whose cache folder cannot hold bodies (here: a file in its way) still lists."""
    cache = Path(sample.path) / ".outpack" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "lists").write_bytes(b"not a folder")
    client = AsgiClient(create_app(ServerSettings(root=str(sample.path), access_log=False)))
    listed = check_success(_get(client, "/metadata/list").body)
    assert sorted(entry["packet"] for entry in listed) == sample.ids
    packit = check_success(_get(client, "/packit/metadata").body)
    assert [entry["id"] for entry in packit] == sample.ids
    added = create_packet(sample.root, "later", {"l.txt": b"l"})
    packit = check_success(_get(client, "/packit/metadata").body)
    assert [entry["id"] for entry in packit] == sorted([*sample.ids, added])
    client.app.handlers.state.background_done()
