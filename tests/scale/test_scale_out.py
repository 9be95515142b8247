"""Several servers (one with two workers) over one root behind nginx, round robin."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import requests

from outpack.root import Root
from outpack.validate import validate_root
from tests.scale.conftest import Balancer, push_packet
from tests.server.conftest import SampleRoot, ServerProcess, check_success

StartServer = Callable[..., ServerProcess]


def _listed(url: str) -> list[str]:
    response = requests.get(url + "/metadata/list", timeout=30)
    assert response.status_code == 200
    return [entry["packet"] for entry in check_success(response.content)]


def _packit_ids(url: str) -> list[str]:
    response = requests.get(url + "/packit/metadata", timeout=30)
    assert response.status_code == 200
    return [entry["id"] for entry in check_success(response.content)]


def _cluster(
    sample: SampleRoot,
    start_server: StartServer,
    balancer: Callable[[Sequence[str]], Balancer],
) -> tuple[list[str], Balancer]:
    multi = start_server(sample.path, "--workers", "2", "--no-access-log")
    single = start_server(sample.path, "--no-access-log")
    proxy = balancer([f"127.0.0.1:{multi.port}", f"127.0.0.1:{single.port}"])
    return [multi.url, single.url], proxy


def test_a_push_through_one_server_is_seen_through_all(
    sample: SampleRoot,
    start_server: StartServer,
    balancer: Callable[[Sequence[str]], Balancer],
) -> None:
    backends, proxy = _cluster(sample, start_server, balancer)
    everyone = [*backends, proxy.url]
    root = sample.root
    expected = list(sample.ids)
    tags: dict[str, str] = {}
    # Warm every process's caches (several requests reach both workers).
    for url in everyone * 3:
        assert _listed(url) == expected
        tags[url] = requests.get(url + "/packit/metadata", timeout=30).headers["etag"]
    assert len(set(tags.values())) == 1

    for number, through in enumerate([backends[0], backends[1], proxy.url]):
        packet_id = f"20240401-00000{number}-0000abc{number}"
        files = {"out.txt": f"pushed through {through}".encode()}
        response = push_packet(through, root, "pushed", packet_id, files)
        assert response.status_code == 200, response.text
        expected.append(packet_id)
        before = dict(tags)
        for url in everyone * 3:
            # The very next request, through any process, sees the packet...
            assert _listed(url) == expected, url
            assert _packit_ids(url) == expected, url
            # ...and a poller's old tag no longer matches.
            stale = requests.get(
                url + "/packit/metadata", headers={"If-None-Match": before[url]}, timeout=30
            )
            assert stale.status_code == 200
            tags[url] = stale.headers["etag"]
        assert len(set(tags.values())) == 1
    assert validate_root(Root.open(sample.path)).ok


def test_concurrent_overlapping_pushes_lose_and_duplicate_nothing(
    sample: SampleRoot,
    start_server: StartServer,
    balancer: Callable[[Sequence[str]], Balancer],
    tmp_path: Path,
) -> None:
    backends, proxy = _cluster(sample, start_server, balancer)
    targets = [*backends, proxy.url]
    root = sample.root
    # Every packet is pushed by two threads through different front doors,
    # and the files are shared between packets too.
    shared = {"common.csv": b"a,b\n1,2\n"}
    packets = {
        f"20240501-0000{n:02d}-0000{n:04x}": {**shared, "own.txt": f"packet {n}".encode()}
        for n in range(12)
    }
    plan = [
        (targets[(n + offset) % len(targets)], packet_id, files)
        for n, (packet_id, files) in enumerate(packets.items())
        for offset in (0, 1)
    ]
    failures: list[str] = []

    def push(jobs: list[tuple[str, str, dict[str, bytes]]]) -> None:
        for url, packet_id, files in jobs:
            try:
                response = push_packet(url, root, "overlap", packet_id, files)
                if response.status_code != 200:
                    failures.append(f"{url} {packet_id}: {response.status_code} {response.text}")
            except (AssertionError, OSError) as err:
                failures.append(f"{url} {packet_id}: {err}")

    threads = [threading.Thread(target=push, args=(plan[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    expected = sorted([*sample.ids, *packets])
    for url in [*targets, proxy.url, *targets]:
        listed = _listed(url)
        assert listed == expected, url  # nothing lost, nothing twice
        assert _packit_ids(url) == expected
    checksums = {requests.get(url + "/checksum", timeout=30).text for url in targets * 2}
    assert len(checksums) == 1
    reopened = Root.open(sample.path)
    assert sorted(reopened.metadata_dir.iterdir()) == sorted(
        reopened.metadata_dir / packet_id for packet_id in expected
    )
    assert sorted(p.name for p in (reopened.location_dir / "local").iterdir()) == expected
    report = validate_root(reopened)
    assert report.ok, report
