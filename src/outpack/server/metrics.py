"""Prometheus metrics in the text exposition format (version 0.0.4).

The names are the reference server's: `http_requests_total`,
`http_requests_duration_seconds` and `http_requests_in_flight` labelled by
`endpoint` (the route pattern, never the raw path, so cardinality stays
bounded), `method` and `status`; repository gauges under `outpack_server_`;
and the usual `process_` metrics. Each worker process counts its own
requests; `shared_metrics` adds up the workers' counts for a scrape.
"""

from __future__ import annotations

import bisect
import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from outpack.catalog import root_clock
from outpack.freshness import FolderWatch
from outpack.root import Root

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Methods outside this set are counted as OTHER: a client must not be able to
# create new time series by inventing methods.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "OTHER"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}"


def _number(value: float) -> str:
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


@dataclass(slots=True)
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(DURATION_BUCKETS, value)] += 1
        self.total += value
        self.count += 1


class HttpMetrics:
    LABELS = ("endpoint", "method", "status")
    FLIGHT_LABELS = ("endpoint", "method")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.durations: dict[tuple[str, str, str], _Histogram] = {}
        self.in_flight: dict[tuple[str, str], int] = {}

    def begin(self, endpoint: str, method: str) -> None:
        key = (endpoint, method)
        self.in_flight[key] = self.in_flight.get(key, 0) + 1

    def end(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.in_flight[(endpoint, method)] -= 1
        key = (endpoint, method, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.durations.get(key)
        if histogram is None:
            histogram = self.durations[key] = _Histogram()
        histogram.observe(seconds)

    def state(self) -> dict[str, Any]:
        """Everything counted so far, as JSON-ready lists (see shared_metrics)."""
        return {
            "requests": [[*key, value] for key, value in self.requests.items()],
            "durations": [
                [*key, histogram.counts, histogram.total, histogram.count]
                for key, histogram in self.durations.items()
            ],
            "in_flight": [[*key, value] for key, value in self.in_flight.items()],
        }

    @classmethod
    def merged(cls, states: Iterable[dict[str, Any]]) -> HttpMetrics:
        """The sum of several workers' `state()`s."""
        total = cls()
        for state in states:
            for endpoint, method, status, value in state.get("requests", []):
                key = (endpoint, method, status)
                total.requests[key] = total.requests.get(key, 0) + value
            for endpoint, method, status, counts, seconds, count in state.get("durations", []):
                key = (endpoint, method, status)
                histogram = total.durations.setdefault(key, _Histogram())
                histogram.counts = [a + b for a, b in zip(histogram.counts, counts, strict=True)]
                histogram.total += seconds
                histogram.count += count
            for endpoint, method, value in state.get("in_flight", []):
                flight = (endpoint, method)
                total.in_flight[flight] = total.in_flight.get(flight, 0) + value
        return total

    def render(self) -> list[str]:
        lines = [
            "# HELP http_requests_total Total number of HTTP requests",
            "# TYPE http_requests_total counter",
        ]
        for key, value in sorted(self.requests.items()):
            lines.append(f"http_requests_total{_labels(self.LABELS, key)} {value}")
        lines += [
            "# HELP http_requests_duration_seconds HTTP request duration in seconds for all "
            "requests",
            "# TYPE http_requests_duration_seconds histogram",
        ]
        for key, histogram in sorted(self.durations.items()):
            cumulative = 0
            for bound, count in zip((*DURATION_BUCKETS, None), histogram.counts, strict=True):
                cumulative += count
                le = 'le="+Inf"' if bound is None else f'le="{_number(bound)}"'
                lines.append(
                    f"http_requests_duration_seconds_bucket{_labels(self.LABELS, key, le)} "
                    f"{cumulative}"
                )
            labels = _labels(self.LABELS, key)
            lines.append(f"http_requests_duration_seconds_sum{labels} {histogram.total!r}")
            lines.append(f"http_requests_duration_seconds_count{labels} {histogram.count}")
        lines += [
            "# HELP http_requests_in_flight Number of HTTP requests currently in-flight",
            "# TYPE http_requests_in_flight gauge",
        ]
        for flight_key, value in sorted(self.in_flight.items()):
            labels = _labels(self.FLIGHT_LABELS, flight_key)
            lines.append(f"http_requests_in_flight{labels} {value}")
        return lines


@dataclass(slots=True)
class _PrefixDir:
    files: int
    size: int


class StoreStats:
    """File count and total size of the store, re-reading only folders the watch says changed."""

    def __init__(self, root: Root) -> None:
        self.files_dir = root.outpack_dir / "files"
        self._watch = FolderWatch(root_clock(root))
        self._dirs: dict[str, _PrefixDir] = {}

    def totals(self) -> tuple[int, int]:
        seen: dict[str, _PrefixDir] = {}
        for prefix in self._prefix_dirs():
            cached = self._dirs.get(prefix)
            changed = self._watch.changed(prefix, prefix)
            if changed is None:
                continue
            if cached is None or changed:
                cached = self._scan(prefix)
            seen[prefix] = cached
        self._watch.forget(self._dirs.keys() - seen.keys())
        self._dirs = seen
        return sum(d.files for d in seen.values()), sum(d.size for d in seen.values())

    def _prefix_dirs(self) -> Iterable[str]:
        try:
            algorithms = [e.path for e in os.scandir(self.files_dir) if e.is_dir()]
        except FileNotFoundError:
            return
        for algorithm in algorithms:
            try:
                yield from (e.path for e in os.scandir(algorithm) if e.is_dir())
            except FileNotFoundError:
                continue

    @staticmethod
    def _scan(prefix: str) -> _PrefixDir:
        files = size = 0
        try:
            for entry in os.scandir(prefix):
                try:
                    if entry.is_file(follow_symlinks=False):
                        size += entry.stat(follow_symlinks=False).st_size
                        files += 1
                except FileNotFoundError:
                    continue
        except FileNotFoundError:
            pass
        return _PrefixDir(files, size)


def repository_lines(metadata: int, packets: int, files: int, size: int, damaged: int) -> list[str]:
    gauges = (
        ("metadata_total", "Number of packet metadata in the repository", metadata),
        ("packets_total", "Number of packets contained in the repository", packets),
        ("files_total", "Number of files in the repository", files),
        ("file_size_bytes_total", "Total file size of the repository, in bytes", size),
        (
            "damaged_metadata",
            "Damaged metadata files and location records, left out of every list",
            damaged,
        ),
    )
    lines = []
    for name, help_text, value in gauges:
        lines += [
            f"# HELP outpack_server_{name} {help_text}",
            f"# TYPE outpack_server_{name} gauge",
            f"outpack_server_{name} {value}",
        ]
    return lines


def _process_start_time() -> float | None:
    try:
        with open("/proc/self/stat", "rb") as stream:
            # Field 22 (starttime), counted after the parenthesised command name.
            fields = stream.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as stream:
            boot = next(float(line.split()[1]) for line in stream if line.startswith(b"btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, IndexError, ValueError):
        return None


_START_TIME = _process_start_time()


def process_lines() -> list[str]:
    times = os.times()
    values: list[tuple[str, str, str, float]] = [
        (
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            times.user + times.system,
        ),
    ]
    try:
        with open("/proc/self/statm", "rb") as stream:
            virtual, resident = (int(v) for v in stream.read().split()[:2])
        page = os.sysconf("SC_PAGE_SIZE")
        values.append(
            (
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                virtual * page,
            )
        )
        values.append(
            (
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                resident * page,
            )
        )
        values.append(
            (
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                len(os.listdir("/proc/self/fd")),
            )
        )
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY:
        values.append(
            ("process_max_fds", "gauge", "Maximum number of open file descriptors.", soft)
        )
    if _START_TIME is not None:
        values.append(
            (
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                _START_TIME,
            )
        )
    lines = []
    for name, kind, help_text, value in values:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {_number(value)}"]
    return lines


def exposition(sections: Iterable[list[str]]) -> bytes:
    return ("\n".join(line for section in sections for line in section) + "\n").encode("utf-8")
