"""Benchmark of `outpack start-server` against baselines measured in the same run.

    python benchmarks/server_bench.py [--workdir DIR] [--quick]

Prints, for this machine:

1. download of a 1 GiB stored file (MB/s), ours vs nginx with sendfile;
2. upload of a 1 GiB file (MB/s) vs the limit of hashing and fsynced writing;
3. requests/s and p99 latency with 64 connections (wrk) for the small routes
   on a root of 10,000 packets, vs nginx serving a static file of the same size;
4. time to first response and resident memory on a root of 100,000 packets.

It installs nginx, wrk and curl with apt-get when they are missing, starts
and stops every server itself, and listens on 127.0.0.1 only. Not a test:
nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.roots import generate_root  # noqa: E402
from benchmarks.server_tools import (  # noqa: E402
    LoadResult,
    Nginx,
    OutpackServer,
    curl_download,
    curl_upload,
    ensure_tools,
    median,
    wrk,
)
from outpack.config import CoreConfig, init_root  # noqa: E402

GIB = 1 << 30
MB = 1_000_000
CHUNK = 1 << 20


def report(line: str) -> None:
    print(line, flush=True)


def random_file(path: Path, size: int, seed: int) -> str:
    """Write `size` random bytes to `path`; returns their sha256 hex digest."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with open(path, "wb") as stream:
        remaining = size
        while remaining:
            block = rng.randbytes(min(4 * CHUNK, remaining))
            digest.update(block)
            stream.write(block)
            remaining -= len(block)
    return digest.hexdigest()


def store_path(root: Path, digest: str) -> Path:
    return root / ".outpack" / "files" / "sha256" / digest[:2] / digest[2:]


def warm(path: Path) -> None:
    with open(path, "rb") as stream:
        while stream.read(8 * CHUNK):
            pass


# -- 1. download ---------------------------------------------------------------


def bench_download(workdir: Path, runs: int) -> None:
    report("\n== 1. Download of a 1 GiB stored file (curl to /dev/null, MB/s)")
    root = workdir / "transfer-root"
    init_root(root, CoreConfig(use_file_store=True, require_complete_tree=True))
    source = workdir / "download.bin"
    digest = random_file(source, GIB, seed=1)
    stored = store_path(root, digest)
    stored.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, stored)
    www = workdir / "www-download"
    www.mkdir(exist_ok=True)
    served = www / "file.bin"
    if not served.exists():
        os.link(stored, served)  # one inode: both servers read the same cached pages
    warm(stored)
    ours_rates: list[float] = []
    nginx_rates: list[float] = []
    with Nginx(workdir, www) as nginx, OutpackServer(root, workdir / "server.log") as ours:
        nginx_url, ours_url = f"{nginx.url}/file.bin", f"{ours.url}/file/sha256:{digest}"
        curl_download(nginx_url)  # a first download of each, not counted
        curl_download(ours_url)
        for _ in range(runs):  # alternated, so both see the same machine
            nginx_rates.append(curl_download(nginx_url))
            ours_rates.append(curl_download(ours_url))
    ours_mb, nginx_mb = median(ours_rates) / MB, median(nginx_rates) / MB
    report(f"   nginx (sendfile)  median {nginx_mb:8.0f}   best {max(nginx_rates) / MB:8.0f}")
    report(f"   outpack           median {ours_mb:8.0f}   best {max(ours_rates) / MB:8.0f}")
    report(f"   ratio (medians)   {ours_mb / nginx_mb:.2f}x   (target >= 0.7x)")


# -- 2. upload -----------------------------------------------------------------


def limit_of_hash_and_write(directory: Path, size: int) -> tuple[float, float, float]:
    """MB/s of: sha256 alone; write + fsync alone; both in one pass (the limit)."""
    block = random.Random(3).randbytes(CHUNK)
    count = size // CHUNK

    def timed(action: Callable[[], None]) -> float:
        began = time.perf_counter()
        action()
        return size / (time.perf_counter() - began) / MB

    def hash_only() -> None:
        digest = hashlib.sha256()
        for _ in range(count):
            digest.update(block)

    def write(with_hash: bool) -> None:
        digest = hashlib.sha256()
        target = directory / "limit.bin"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(count):
                if with_hash:
                    digest.update(block)
                os.write(fd, block)
            os.fsync(fd)
        finally:
            os.close(fd)
            target.unlink()

    hashing = timed(hash_only)
    writing = timed(lambda: write(False))
    both = timed(lambda: write(True))
    return hashing, writing, both


def bench_upload(workdir: Path, runs: int) -> None:
    report("\n== 2. Upload of a 1 GiB file (curl -T, streamed POST /file/<hash>, MB/s)")
    root = workdir / "transfer-root"
    source = workdir / "upload.bin"
    digest = random_file(source, GIB, seed=2)
    warm(source)
    tmp = root / ".outpack" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    rates: list[float] = []
    limits: list[tuple[float, float, float]] = []
    with OutpackServer(root, workdir / "server.log") as ours:
        for _ in range(runs):
            store_path(root, digest).unlink(missing_ok=True)
            os.sync()
            rates.append(curl_upload(f"{ours.url}/file/sha256:{digest}", source))
            if not store_path(root, digest).is_file():
                raise RuntimeError("upload did not arrive in the store")
            os.sync()
            limits.append(limit_of_hash_and_write(tmp, GIB))
    hashing = median([item[0] for item in limits])
    writing = median([item[1] for item in limits])
    limit = median([item[2] for item in limits])
    ours_mb = median(rates) / MB
    report(f"   sha256 alone                 {hashing:8.0f}")
    report(f"   write + fsync alone          {writing:8.0f}")
    report(f"   limit: hash + write + fsync  {limit:8.0f}   (one pass, same file system)")
    report(f"   outpack upload        median {ours_mb:8.0f}   best {max(rates) / MB:8.0f}")
    report(f"   ratio to the limit    {ours_mb / limit:.2f}x   (target >= 0.5x)")
    store_path(root, digest).unlink(missing_ok=True)
    source.unlink()


# -- 3. small routes under load ------------------------------------------------


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
        return body


def bench_load(workdir: Path, seconds: int, runs: int) -> None:
    report(
        f"\n== 3. Load: wrk, 2 threads, 64 connections, {seconds} s x {runs} runs each, "
        "root of 10,000 packets"
    )
    root = workdir / "root-10k"
    if not (root / ".outpack").is_dir():
        began = time.perf_counter()
        ids = generate_root(root, 10_000)
        report(f"   (generated the root in {time.perf_counter() - began:.0f} s)")
    else:
        ids = sorted(os.listdir(root / ".outpack" / "metadata"))
    packet = ids[len(ids) // 2]
    routes = {
        "GET /": "/",
        "GET /metadata/<id>/json": f"/metadata/{packet}/json",
        "GET /metadata/<id>/text": f"/metadata/{packet}/text",
        "GET /checksum": "/checksum",
        "GET /metadata/list": "/metadata/list",
    }
    www = workdir / "www-load"
    www.mkdir(exist_ok=True)
    log = workdir / "server.log"
    results: dict[str, tuple[list[LoadResult], list[LoadResult]]] = {}
    with OutpackServer(root, log, "--no-access-log") as ours:
        for name, path in routes.items():
            body = fetch(ours.url + path)
            (www / f"{slug(name)}.bin").write_bytes(body)
        with Nginx(workdir, www) as nginx:
            for name, path in routes.items():
                static = f"{nginx.url}/{slug(name)}.bin"
                wrk(static, 1)  # warm both before measuring
                wrk(ours.url + path, 1)
                pair: tuple[list[LoadResult], list[LoadResult]] = ([], [])
                for _ in range(runs):
                    pair[0].append(wrk(static, seconds))
                    pair[1].append(wrk(ours.url + path, seconds))
                results[name] = pair
    with OutpackServer(root, log) as logged:
        logged_root = [wrk(logged.url + "/", seconds) for _ in range(runs)]
    report(
        f"   {'route':<24} {'size':>9}  {'nginx req/s':>11} {'p99 ms':>7}"
        f"  {'ours req/s':>10} {'p99 ms':>7}  {'ratio':>6}"
    )
    for name, (nginx_runs, ours_runs) in results.items():
        size = (www / f"{slug(name)}.bin").stat().st_size
        nginx_rate = median([r.requests_per_second for r in nginx_runs])
        ours_rate = median([r.requests_per_second for r in ours_runs])
        report(
            f"   {name:<24} {size:>9}  {nginx_rate:>11.0f} "
            f"{median([r.p99_ms for r in nginx_runs]):>7.2f}  {ours_rate:>10.0f} "
            f"{median([r.p99_ms for r in ours_runs]):>7.2f}  {ours_rate / nginx_rate:>5.2f}x"
        )
    rate = median([r.requests_per_second for r in logged_root])
    p99 = median([r.p99_ms for r in logged_root])
    report(f"   {'GET / (access log on)':<24} {'':>9}  {'':>11} {'':>7}  {rate:>10.0f} {p99:>7.2f}")
    report("   (target >= 0.3x of nginx for the small routes; medians of the runs)")


# -- 4. a large root -----------------------------------------------------------


def bench_large_root(workdir: Path, count: int) -> None:
    report(f"\n== 4. Root of {count:,} packets: time to first response, resident memory")
    root = workdir / f"root-{count}"
    if not (root / ".outpack").is_dir():
        began = time.perf_counter()
        generate_root(root, count)
        report(f"   (generated the root in {time.perf_counter() - began:.0f} s)")
    os.sync()
    with OutpackServer(root, workdir / "server.log") as ours:
        workers, total = ours.rss()
        report(
            f"   start to first GET /          {ours.ready_after:7.2f} s   "
            f"RSS worker {workers / MB:6.1f} MB, with supervisor {total / MB:6.1f} MB"
        )
        for label, path in (
            ("first GET /metadata/list", "/metadata/list"),
            ("next GET /metadata/list", "/metadata/list"),
            ("first GET /checksum", "/checksum"),
            ("first GET /packit/metadata", "/packit/metadata"),
            ("next GET /packit/metadata", "/packit/metadata"),
        ):
            began = time.perf_counter()
            size = len(fetch(ours.url + path))
            elapsed = time.perf_counter() - began
            workers, total = ours.rss()
            report(
                f"   {label:<29} {elapsed:7.2f} s   RSS worker {workers / MB:6.1f} MB, "
                f"with supervisor {total / MB:6.1f} MB   ({size / MB:.1f} MB body)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="keep roots and files here (reused)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    args = parser.parse_args()
    ensure_tools()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="outpack-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    # nginx's workers drop root privileges: they must be able to read the files.
    workdir.chmod(0o755)
    runs = 2 if args.quick else 7
    report(f"outpack server benchmark: {os.cpu_count()} CPUs, work folder {workdir}")
    began = time.perf_counter()
    try:
        bench_download(workdir, runs)
        bench_upload(workdir, 2 if args.quick else 3)
        bench_load(workdir, 3 if args.quick else 5, 2 if args.quick else 3)
        bench_large_root(workdir, 100_000)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report(f"\n(total {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
