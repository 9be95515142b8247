"""How fast `outpack start-server` starts and stops, on the demo root.

    python -m benchmarks.lifecycle_bench [--runs 5]

The tests check that the server starts, answers and stops on SIGTERM and on
SIGINT (with an idle keep-alive connection open); these are the figures, with
the contract's targets: ready within 1 s on a small root (pyorderly waits 2 s),
stopped within 3 s. The baseline, measured in the same run, is a bare Python
start that imports the server (`python -c "import outpack.server.app"`), the
part of a start that no server code can avoid. Not a test: nothing here runs
under pytest.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.server_tools import OutpackServer
from outpack.demo import create_demo_root


def import_time(runs: int) -> float:
    """Median time of a Python start that imports the server's app."""
    times = []
    for _ in range(runs):
        began = time.monotonic()
        subprocess.run([sys.executable, "-c", "import outpack.server.app"], check=True)
        times.append(time.monotonic() - began)
    return statistics.median(times)


def stop_time(server: OutpackServer, sig: int) -> float:
    began = time.monotonic()
    server.process.send_signal(sig)
    server.process.wait(60)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="outpack-lifecycle-") as work:
        root = Path(work) / "root"
        create_demo_root(root)
        log = Path(work) / "server.log"
        baseline = import_time(args.runs)
        ready, sigterm, sigint = [], [], []
        for _ in range(args.runs):
            with OutpackServer(root, log) as server:
                ready.append(server.ready_after)
                sigterm.append(stop_time(server, signal.SIGTERM))
            with OutpackServer(root, log) as server, requests.Session() as session:
                session.get(server.url + "/metadata/list", timeout=60).raise_for_status()
                sigint.append(stop_time(server, signal.SIGINT))  # keep-alive still open
    print(f"== Server start and stop on the demo root (median of {args.runs})")
    print(f"   python + import outpack.server.app  {baseline:6.2f} s   (baseline)")
    rows = (
        ("start to first GET /", ready, 1.0),
        ("SIGTERM to exit", sigterm, 3.0),
        ("SIGINT to exit, keep-alive open", sigint, 3.0),
    )
    for label, values, target in rows:
        value = statistics.median(values)
        print(
            f"   {label:<35} {value:6.2f} s   {value / baseline:5.1f}x baseline   "
            f"(max {max(values):.2f} s; target < {target:g} s)"
        )


if __name__ == "__main__":
    main()
