"""The real server process: startup, preflight, signals, port reuse, workers, logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import requests

from outpack.config import CoreConfig, init_root
from outpack.hash import hash_bytes
from outpack.packet import build_metadata, create_packet
from outpack.root import Root
from tests.server.conftest import (
    SampleRoot,
    ServerProcess,
    check_failure,
    check_success,
    free_port,
    outpack_files,
    server_command,
    temp_files,
)
from tests.support import wait_for

StartServer = Callable[..., ServerProcess]


def test_ready_and_stops_cleanly_on_sigterm(sample: SampleRoot, start_server: StartServer) -> None:
    # How fast (the contract: ready within a second on a small root, as pyorderly
    # waits 2 s; stopped within 3 s) is measured by `benchmarks/lifecycle_bench.py`.
    for _ in range(3):
        server = start_server(sample.path)
        workers = server.children()
        assert workers, "granian runs the app in a worker process"
        server.stop(signal.SIGTERM)
        assert server.process.returncode == 0


def test_stops_promptly_on_sigint_with_an_idle_keep_alive_connection(
    sample: SampleRoot, start_server: StartServer
) -> None:
    server = start_server(sample.path)
    with requests.Session() as session:
        response = session.get(server.url + "/metadata/list", timeout=5)
        check_success(response.content, "locations.json")
        # The connection stays open: the server must not wait for the client to close it.
        server.stop(signal.SIGINT)
    assert server.process.returncode == 0


def test_shutdown_cuts_off_a_stalled_upload(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path, "--shutdown-timeout", "1")
    before = outpack_files(sample.path)
    head = f"POST /file/sha256:{'0' * 64} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head.encode() + b"x" * 3_000_000)  # and then nothing more
        wait_for(lambda: temp_files(sample.path) != [])
        # The upload never ends: the server exits only if it cuts it off.
        server.stop()
        assert server.process.returncode == 0
    assert outpack_files(sample.path) == before


def test_stale_temporary_files_are_removed_at_startup(
    sample: SampleRoot, start_server: StartServer
) -> None:
    tmp = sample.path / ".outpack" / "tmp"
    tmp.mkdir(exist_ok=True)
    stale, fresh, other = tmp / "tmp-stale", tmp / "tmp-fresh", tmp / "keep-me"
    for path in (stale, fresh, other):
        path.write_bytes(b"partial")
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    start_server(sample.path)
    # (The server may meanwhile be writing its snapshot through a temporary file.)
    left = {p.name for p in tmp.iterdir()}
    assert "tmp-stale" not in left and {"keep-me", "tmp-fresh"} <= left


def test_port_can_be_reused_at_once(sample: SampleRoot, start_server: StartServer) -> None:
    first = start_server(sample.path)
    port = first.port
    for _ in range(5):  # leave connections in TIME_WAIT on the server side
        with requests.Session() as session:
            check_success(session.get(first.url + "/", timeout=5).content, "root.json")
    first.stop()
    second = start_server(sample.path, port=port)
    assert second.get("/").status_code == 200


@pytest.mark.parametrize(
    ("core", "message"),
    [
        (
            CoreConfig(use_file_store=False, path_archive="archive", require_complete_tree=True),
            "Outpack must be configured to use a file store",
        ),
        (
            CoreConfig(use_file_store=True, require_complete_tree=False),
            "Outpack must be configured to require a complete tree",
        ),
        (
            CoreConfig(use_file_store=True, require_complete_tree=True, hash_algorithm="md5"),
            "Outpack must be configured to use hash algorithm 'sha256', but you are using 'md5'",
        ),
        (
            CoreConfig(use_file_store=True, require_complete_tree=True, path_archive="archive"),
            "Outpack must be configured to *not* use an archive, but your path_archive is "
            "'archive'",
        ),
    ],
)
def test_preflight_refuses_unsuitable_roots(tmp_path: Path, core: CoreConfig, message: str) -> None:
    init_root(tmp_path / "root", core)
    result = run_cli(tmp_path / "root")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_preflight_refuses_a_missing_root(tmp_path: Path) -> None:
    missing = tmp_path / "nothing here"
    result = run_cli(missing)
    assert result.returncode != 0
    assert f"Outpack root not found at '{missing}'" in result.stderr


def test_bad_listen_address(sample: SampleRoot) -> None:
    result = run_cli(sample.path, "--listen", "127.0.0.1:notaport")
    assert result.returncode == 2
    assert "Invalid listen address '127.0.0.1:notaport'" in result.stderr


def run_cli(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = server_command(root, free_port(), *extra)
    if "--listen" in extra:
        listen = command.index("--listen")
        del command[listen : listen + 2]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_help_lists_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "outpack", "start-server", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    options = (
        "--root",
        "--listen",
        "--workers",
        "--max-body-size",
        "--shutdown-timeout",
        "--read-only",
        "--token-file",
        "--body-timeout",
        "--header-timeout",
    )
    for option in options:
        assert option in result.stdout


def test_workers_see_each_others_writes(
    sample: SampleRoot, start_server: StartServer, tmp_path: Path
) -> None:
    multi = start_server(sample.path, "--workers", "3")
    other = start_server(sample.path)  # a second server on the same root
    assert len(multi.children()) == 3
    root = sample.root
    # Warm every worker's caches first, so that staleness would show.
    for _ in range(12):
        check_success(multi.get("/metadata/list").content)
        check_success(multi.get("/checksum").content)
    check_success(other.get("/packit/metadata").content)

    data = b"pushed through one worker"
    assert multi.post(f"/file/{hash_bytes('sha256', data)}", data=data).status_code == 200
    metadata = build_metadata(root, "pushed", {"p.txt": data}, packet_id="20240301-000000-0000abcd")
    assert multi.post(f"/packet/{hash_bytes('sha256', metadata)}", data=metadata).ok
    direct = create_packet(root, "direct", {"d.txt": b"written to the root directly"})
    expected = {*sample.ids, "20240301-000000-0000abcd", direct}
    joined = "".join(sorted(expected)).encode()
    for server in (multi, other):
        for _ in range(12):  # new connections land on different workers
            listed = check_success(server.get("/metadata/list").content, "locations.json")
            assert {entry["packet"] for entry in listed} == expected
            assert check_success(server.get("/checksum").content) == str(
                hash_bytes("sha256", joined)
            )
        packit = check_success(server.get("/packit/metadata").content, "list.json")
        assert [entry["id"] for entry in packit] == sorted(expected)
        assert server.get(f"/file/{hash_bytes('sha256', data)}").content == data


def test_access_log_and_request_ids(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path)
    response = server.get("/metadata/list", headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    missing = server.get("/metadata/20991231-000000-00000000/json")
    assert missing.status_code == 404
    generated = missing.headers["x-request-id"]
    not_found = server.get("/no/such/route")
    assert not_found.status_code == 404
    assert check_failure(not_found.content)["detail"] == "This route does not exist"

    def logged() -> list[dict[str, object]]:
        return [line for line in server.access_lines() if line["route"] != "/"]

    wait_for(lambda: len(logged()) >= 3, what="three access log lines")
    lines = logged()
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("GET", "/metadata/list", 200),
        ("GET", "/metadata/{id}/json", 404),
        ("GET", "unmatched", 404),
    ]
    assert lines[0]["request_id"] == "abc-123"
    assert lines[1]["request_id"] == generated
    assert all(isinstance(line["duration_ms"], float) for line in lines)


def test_metrics_over_http(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path)
    for _ in range(3):
        server.get("/checksum")
    response = server.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4"
    text = response.text
    assert 'http_requests_total{endpoint="/checksum",method="GET",status="200"} 3' in text
    for name in (
        "http_requests_duration_seconds",
        "http_requests_in_flight",
        "outpack_server_metadata_total",
        "outpack_server_packets_total",
        "outpack_server_files_total",
        "outpack_server_file_size_bytes_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
    ):
        assert f"# TYPE {name} " in text


def test_server_survives_concurrent_clients(sample: SampleRoot, start_server: StartServer) -> None:
    server = start_server(sample.path, "--workers", "2")
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            with requests.Session() as session:
                for _ in range(25):
                    for path in ("/", "/metadata/list", "/checksum", "/packit/metadata"):
                        body = session.get(server.url + path, timeout=10).content
                        check_success(body)
        except BaseException as err:  # collected and re-raised on the main thread
            errors.append(err)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    metrics = server.get("/metrics").text
    assert "http_requests_in_flight" in metrics


def test_demo_root_is_servable(tmp_path: Path, start_server: StartServer) -> None:
    demo = tmp_path / "demo"
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "outpack.demo", str(demo)],
            capture_output=True,
            text=True,
            check=True,
        )
    assert "already has all 5 packets" in result.stdout
    root = Root.open(demo)
    assert len(root.packet_ids()) == 5 and len(root.unpacked_ids()) == 5
    server = start_server(demo)
    listed = check_success(server.get("/metadata/list").content, "locations.json")
    assert len(listed) == 5
    packit = check_success(server.get("/packit/metadata").content, "list.json")
    assert {entry["name"] for entry in packit} == {"data", "model", "report"}
    for packet_id in root.packet_ids():
        metadata = orjson.loads(server.get(f"/metadata/{packet_id}/text").content)
        for file in metadata["files"]:
            assert len(server.get(f"/file/{file['hash']}").content) == file["size"]


def _checksum_count(text: str) -> int:
    key = 'http_requests_total{endpoint="/checksum",method="GET",status="200"} '
    lines = [line for line in text.splitlines() if line.startswith(key)]
    return int(lines[0].removeprefix(key)) if lines else 0


def test_metrics_add_up_across_workers(sample: SampleRoot, start_server: StartServer) -> None:
    """Whichever worker answers a scrape, counters are the sum over all workers, never less."""
    server = start_server(sample.path, "--workers", "2")
    total = 60
    for _ in range(total):
        # A new connection each time, so that both workers get some.
        response = requests.get(
            server.url + "/checksum", headers={"Connection": "close"}, timeout=30
        )
        assert response.status_code == 200
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while (not seen or seen[-1] < total) and time.monotonic() < deadline:
        response = requests.get(
            server.url + "/metrics", headers={"Connection": "close"}, timeout=30
        )
        seen.append(_checksum_count(response.text))
        time.sleep(0.1)
    assert seen[-1] == total, seen
    assert seen == sorted(seen), "a counter never goes backwards between scrapes"
