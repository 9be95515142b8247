"""Memory of a server under mixed traffic, including pushes, for a long time.

    python -m benchmarks.soak --root /tmp/gen100000 --minutes 60
    python -m benchmarks.roots /tmp/gen100000-orderly 100000 --custom orderly  # ~1 KB custom
    python -m benchmarks.soak --root /tmp/gen100000-orderly --minutes 30

Serves the root (a benchmark root: packets are pushed into it), then loops over
rounds of: a push of a new packet (file + metadata) when `--push-every`
seconds have passed since the last (default 3, "a push every few seconds" as
in issue 11; 0 pushes every round), the three list routes with and without
`If-None-Match`, metadata and file reads, and `/packets/missing`.
Prints the resident memory of the worker and of the whole process tree
(supervisor and worker) each minute and, at the end, the growth
after a warm-up (5 minutes), also per packet pushed since then (a server holding
more packets needs a little more memory: about 2 KiB each). `--no-push`
leaves out the pushes, so any growth at all would be a leak. The target
(issue 5) is under 300 MB on 100,000 packets and no growth; with pushes
(issue 11), under 2 KiB of growth per packet pushed after the warm-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from benchmarks.scale_tools import LISTS, push
from benchmarks.server_tools import OutpackServer
from outpack.root import Root


@dataclass
class Client:
    """The soak's client: the server it talks to, the packets and ETags it has seen."""

    session: requests.Session
    url: str
    ids: list[str]
    tags: dict[str, str] = field(default_factory=dict)


def one_round(client: Client, number: int, *, push_to: Root | None) -> bool:
    """One round of requests, with a push first if `push_to`; True if it pushed."""
    session, url, ids, tags = client.session, client.url, client.ids, client.tags
    if push_to is not None:
        ids.append(push(session, url, push_to, number).packet_id)
    for path in LISTS:
        headers = {"If-None-Match": tags[path]} if number % 2 and path in tags else {}
        response = session.get(url + path, headers=headers, timeout=600)
        if response.status_code == 200:
            tags[path] = response.headers["etag"]
    for packet_id in ids[number % len(ids) :: max(1, len(ids) // 10)][:10]:
        session.get(f"{url}/metadata/{packet_id}/json", timeout=60).raise_for_status()
    session.post(
        f"{url}/packets/missing", json={"ids": ids[-100:], "unpacked": True}, timeout=60
    ).raise_for_status()
    return push_to is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--no-push", action="store_true", help="only read: no new packets")
    parser.add_argument(
        "--push-every",
        type=float,
        default=3.0,
        help="seconds between pushes, reads going on in between (0: a push every round)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="minutes before growth is counted (caches fill: metadata keeps up to 1 MiB)",
    )
    args = parser.parse_args()
    session = requests.Session()
    with tempfile.TemporaryDirectory() as work:
        log = Path(work) / "server.log"
        with OutpackServer(args.root, log, "--no-access-log") as server:
            listing = session.get(server.url + "/metadata/list", timeout=600).json()["data"]
            client = Client(session, server.url, [entry["packet"] for entry in listing])
            push_to = None if args.no_push else Root.open(args.root)
            began = time.monotonic()
            samples: list[tuple[float, float, int]] = []
            next_sample = began
            rounds = pushed = 0
            next_push = began
            while time.monotonic() - began < args.minutes * 60:
                due = push_to is not None and time.monotonic() >= next_push
                if one_round(client, rounds, push_to=push_to if due else None):
                    pushed += 1
                    next_push = max(next_push + args.push_every, time.monotonic() - 1.0)
                rounds += 1
                if time.monotonic() >= next_sample:
                    minutes = (time.monotonic() - began) / 60
                    worker, tree = (value / 2**20 for value in server.rss())
                    rss = worker
                    samples.append((minutes, rss, pushed))
                    print(
                        f"{minutes:6.1f} min  rounds {rounds:7d}  pushed {pushed:6d}"
                        f"  worker RSS {rss:7.1f} MiB"
                        f"  process tree {tree:7.1f} MiB",
                        flush=True,
                    )
                    next_sample += 60
            final = server.rss()[0] / 2**20
    after = [(rss, done) for minutes, rss, done in samples if minutes >= args.warmup]
    after = after or [(final, pushed)]
    growth = final - after[0][0]
    print(
        f"{rounds} rounds ({pushed} packets pushed) in {args.minutes:.0f} min; worker RSS "
        f"after {args.warmup:g} min {after[0][0]:.1f} MiB, end {final:.1f} MiB, "
        f"max {max(rss for rss, _ in after):.1f} MiB, growth {growth:+.1f} MiB"
    )
    if pushed > after[0][1]:
        per_packet = growth * 1024 / (pushed - after[0][1])
        print(f"growth per packet pushed after {args.warmup:g} min: {per_packet:.1f} KiB")


if __name__ == "__main__":
    main()
