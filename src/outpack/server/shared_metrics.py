"""HTTP metrics that add up across worker processes.

With `--workers N` each scrape of `/metrics` is answered by one worker. If it
reported only its own counters, Prometheus would see them jump between
workers' values and read every drop as a counter reset. Instead each worker
writes its counters to a file of its own in a folder shared by the workers
of one server (`OUTPACK_SERVER_METRICS_DIR`, created by `outpack
start-server` and removed when it stops): every second while they change,
and before answering a scrape. The worker answering a scrape adds up every worker's
file, its own included, so each series is the sum over all workers and only
ever grows (a worker's file is only ever replaced by a later state; files of
workers that have exited are kept, so their counts are not lost).

Without the folder (the app hosted in one process), only the process's own
counters are reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from outpack.errors import OutpackError
from outpack.fsutil import write_atomic
from outpack.server.metrics import HttpMetrics

logger = logging.getLogger(__name__)

METRICS_DIR_ENV = "OUTPACK_SERVER_METRICS_DIR"
PUBLISH_EVERY_S = 1.0


class SharedMetrics:
    def __init__(self, metrics: HttpMetrics, folder: str | None) -> None:
        self.metrics = metrics
        self.folder = Path(folder) if folder else None

    @classmethod
    def from_environment(cls, metrics: HttpMetrics) -> SharedMetrics:
        return cls(metrics, os.environ.get(METRICS_DIR_ENV) or None)

    def _own_file(self) -> Path:
        assert self.folder is not None
        return self.folder / f"worker-{os.getpid()}.json"

    async def keep_published(self) -> None:
        """Publish this worker's counters every second while they change (a lifespan task)."""
        if self.folder is None:
            return
        published: dict[str, Any] | None = None
        while True:
            state = self.metrics.state()
            if state != published:
                await asyncio.to_thread(self.publish)
                published = orjson.loads(orjson.dumps(state))
            await asyncio.sleep(PUBLISH_EVERY_S)

    def publish(self) -> None:
        """Write this worker's counters (disk work: call it off the event loop)."""
        if self.folder is None:
            return
        data = orjson.dumps(self.metrics.state())
        try:
            write_atomic(self._own_file(), data, self.folder, replace=True)
        except OutpackError as err:
            logger.info("Could not share this worker's metrics: %s", err.message)

    def combined(self) -> HttpMetrics:
        """Every worker's counters added up (this one's published first)."""
        if self.folder is None:
            return self.metrics
        self.publish()
        states: list[dict[str, Any]] = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.folder):
                if entry.name.startswith("worker-") and entry.name.endswith(".json"):
                    with contextlib.suppress(OSError, orjson.JSONDecodeError):
                        states.append(orjson.loads(Path(entry.path).read_bytes()))
        return HttpMetrics.merged(states)
