"""How the server and `outpack search` grow with the size of the root.

    python -m benchmarks.scale_bench [--sizes 1000,10000,100000] [--roots-dir /tmp]
                                     [--custom small|orderly] [--soak 60]
                                     [--plot scale_bench.png]

For each size, a generated root (reused from `<roots-dir>/gen<size>` when it
holds exactly that many packets, else built with benchmarks/roots.py; with
`--custom orderly`, `gen<size>-orderly`, whose packets carry about 1 KB of
`custom` as orderly2 writes it) is served
twice: cold (no catalog snapshot in `.outpack/cache`) and warm (with the
snapshot the cold run left). Each start reports the time from process start
to the first `GET /` and to the first `/metadata/list` answer, the first and
later answers of each list route, a conditional (304) poll, and the resident
memory of the worker; the warm server then takes five pushes, and the list
answers after each are timed (the packets are removed afterwards). `outpack
search` is timed as a whole process, cold and warm, and each typical query
in-process once loaded. On the largest root a
server then serves mixed traffic for `--soak` seconds and its memory is
compared before and after.

Prints a table, with how each figure grows from one size to the next, and
saves a log-log plot (needs matplotlib: the `bench` extra).

Targets (issues 5 and 11): at 100,000 packets, server and search start under
2 s, a warm server's first complete `/metadata/list` under 1 s, the whole
server process tree under 300 MB (aim: 150 MB) after serving every list
route repeatedly, even with orderly2's `custom`, and flat under traffic; 304
polls near free.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.roots import CUSTOM_KINDS, generate_root
from benchmarks.scale_tools import (
    LISTS,
    QUERIES,
    ServerFigures,
    cli_search,
    drop_snapshot,
    in_process_search,
    measure_server,
    soak,
)

Row = tuple[str, str, list[float]]


def root_of(size: int, roots_dir: Path, custom: str = "small") -> Path:
    path = roots_dir / (f"gen{size}" if custom == "small" else f"gen{size}-{custom}")
    metadata = path / ".outpack" / "metadata"
    if metadata.is_dir() and sum(1 for _ in metadata.iterdir()) == size:
        return path
    if path.exists():
        raise SystemExit(f"{path} exists but does not hold {size} packets; remove it")
    print(f"generating {size} packets at {path} ...", flush=True)
    generate_root(path, size, custom=custom)
    return path


def measure(size: int, roots_dir: Path, work: Path, custom: str) -> dict[str, float]:
    root = root_of(size, roots_dir, custom)
    figures: dict[str, float] = {}
    drop_snapshot(root)
    cold = measure_server(root, work / f"cold-{size}.log")
    warm = measure_server(root, work / f"warm-{size}.log", pushes=5)
    for label, run in (("cold", cold), ("warm", warm)):
        figures[f"server {label}: first GET / (s)"] = run.ready_s
        figures[f"server {label}: first /metadata/list at (s)"] = run.first_list_at_s
    _lists(figures, warm)
    drop_snapshot(root)
    figures["search cold: process (s)"] = cli_search(root, QUERIES["name && param"])
    figures["search warm: process (s)"] = statistics.median(
        cli_search(root, query) for query in QUERIES.values()
    )
    for label, seconds in in_process_search(root).items():
        figures[f"query in-process: {label} (ms)"] = seconds * 1000
    return figures


def _lists(figures: dict[str, float], run: ServerFigures) -> None:
    for path in LISTS:
        figures[f"first {path} (ms)"] = run.first[path] * 1000
    for path in LISTS:
        figures[f"later {path} (ms)"] = run.later[path] * 1000
    for path, seconds in run.after_push.items():
        figures[f"{path} after a push (ms)"] = seconds * 1000
    figures["304 poll, any list (ms)"] = run.not_modified_ms
    figures["server RSS, worker (MB)"] = run.rss_mb
    figures["server RSS, with supervisor (MB)"] = run.rss_total_mb


def table(sizes: list[int], results: list[dict[str, float]]) -> str:
    header = ["measure", *(f"{size:,}" for size in sizes)]
    header += [f"x{sizes[i + 1] // sizes[i]} growth" for i in range(len(sizes) - 1)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in results[0]:
        values = [result[key] for result in results]
        cells = [key, *(f"{value:.3g}" for value in values)]
        cells += [
            f"{values[i + 1] / values[i]:.2f}" if values[i] > 0 else "-"
            for i in range(len(values) - 1)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(sizes: list[int], results: list[dict[str, float]], target: Path) -> None:
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        print("matplotlib is not installed (pip install '.[bench]'): no plot", file=sys.stderr)
        return
    figure, (times, memory) = plt.subplots(1, 2, figsize=(13, 5))
    for key in results[0]:
        values = [result[key] for result in results]
        if key.endswith("(MB)"):
            memory.plot(sizes, values, marker="o", label=key)
        elif key.endswith("(s)"):
            times.plot(sizes, [v * 1000 for v in values], marker="o", label=key)
        elif key.startswith(("first", "later", "304", "query", "/")):
            times.plot(sizes, values, marker=".", linestyle="--", label=key)
    for axes, label in ((times, "milliseconds"), (memory, "MB")):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("packets in the root")
        axes.set_ylabel(label)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=6)
    times.set_title("time")
    memory.set_title("resident memory")
    figure.tight_layout()
    figure.savefig(target, dpi=120)
    print(f"plot saved to {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--roots-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--custom", choices=CUSTOM_KINDS, default="small")
    parser.add_argument("--soak", type=float, default=60.0, help="seconds (0: skip)")
    parser.add_argument("--plot", type=Path, default=Path("scale_bench.png"))
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as work:
        results = []
        for size in sizes:
            print(f"measuring {size:,} packets ...", flush=True)
            results.append(measure(size, args.roots_dir, Path(work), args.custom))
        print()
        print(table(sizes, results))
        if args.soak > 0:
            largest = root_of(sizes[-1], args.roots_dir, args.custom)
            before, after, rounds = soak(largest, Path(work) / "soak.log", args.soak)
            print(
                f"\nmixed traffic on {sizes[-1]:,} packets for {args.soak:.0f} s "
                f"({rounds} rounds): worker RSS {before:.0f} -> {after:.0f} MB "
                f"({after - before:+.1f} MB)"
            )
        plot(sizes, results, args.plot)


if __name__ == "__main__":
    main()
