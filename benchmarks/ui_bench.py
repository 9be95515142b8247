"""How fast the packet browser's pages answer on a large root.

    python -m benchmarks.ui_bench [--size 100000] [--roots-dir /tmp] [--repeat 15]

Serves the generated root (`<roots-dir>/gen<size>`, built by
benchmarks/roots.py when missing) and times each page over HTTP, after one
warm-up request: the median and the slowest of `--repeat` requests, and the
ratio of the median to `GET /metadata/<id>/json` measured in the same run
(one metadata read: the cheapest request that touches a packet).

Targets (issue 12): home and search under 200 ms, a packet page under 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

from benchmarks.scale_bench import root_of
from benchmarks.server_tools import OutpackServer
from outpack.root import Root

TARGET_MS = {"home": 200.0, "search": 200.0, "packet": 50.0, "file": 50.0}


def pages(root: Path) -> list[tuple[str, str, str]]:
    """(label, kind, path) of the pages timed, for packets typical of the root."""
    opened = Root.open(root)
    ids = opened.packet_ids()
    middle = ids[len(ids) // 2]
    metadata = opened.read_metadata(middle)
    file = metadata.files[0].path
    query = quote('latest(name == "model_fit" && parameter:region == "north")')
    many = quote('name == "report" && parameter:year > 2010')
    return [
        ("GET /metadata/<id>/json (baseline)", "baseline", f"/metadata/{middle}/json"),
        ("home /ui/", "home", "/ui/"),
        ("search: every packet, page 1", "search", "/ui/search?q="),
        ("search: every packet, page 1000", "search", "/ui/search?q=&page=1000"),
        ("search: latest(...)", "search", f"/ui/search?q={query}"),
        ("search: ~5,000 matches", "search", f"/ui/search?q={many}"),
        ("search: plain words", "search", "/ui/search?q=forecast%20run%2012"),
        ("search: bad query", "search", "/ui/search?q=name%20%3D%3D"),
        ("JSON /search, 50 per page", "search", f"/search?query={many}"),
        ("packet page", "packet", f"/ui/packet/{middle}"),
        ("packet page, oldest (most used)", "packet", f"/ui/packet/{ids[0]}"),
        ("file page", "file", f"/ui/packet/{middle}/file/{quote(file, safe='')}"),
    ]


def time_page(session: requests.Session, url: str, repeat: int) -> tuple[float, float, float]:
    """(first, median, slowest) in milliseconds."""
    times = []
    for _ in range(repeat + 1):
        began = time.perf_counter()
        response = session.get(url, timeout=600)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code not in (200, 400):
            raise RuntimeError(f"{url} answered {response.status_code}")
    return times[0], statistics.median(times[1:]), max(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--roots-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    root = root_of(args.size, args.roots_dir)
    timed = pages(root)
    session = requests.Session()
    with (
        tempfile.TemporaryDirectory() as work,
        OutpackServer(root, Path(work) / "server.log", "--no-access-log") as server,
    ):
        results = [
            (label, kind, *time_page(session, server.url + path, args.repeat))
            for label, kind, path in timed
        ]
    baseline = next(median for _, kind, _, median, _ in results if kind == "baseline")
    print(f"\npacket browser on {args.size:,} packets (ms; x = median / baseline)")
    print(f"{'page':38} {'first':>8} {'median':>8} {'max':>8} {'x':>7}  target")
    for label, kind, first, median, slowest in results:
        target = TARGET_MS.get(kind)
        met = "ok" if target is not None and median < target else "MISSED"
        verdict = "" if target is None else f"< {target:.0f} {met}"
        print(
            f"{label:38} {first:8.1f} {median:8.1f} {slowest:8.1f} "
            f"{median / baseline:7.1f}  {verdict}"
        )


if __name__ == "__main__":
    main()
