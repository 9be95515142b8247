"""Running transfers: a bounded thread pool, and progress reporting.

Progress is drawn with rich on a terminal (files done/total, bytes, speed,
time left, and a line per finished step) and is silent otherwise or when quiet; the API takes any
`Progress` so callers can plug in their own.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from rich import progress as rp
from rich.console import Console
from rich.text import Text

T = TypeVar("T")
DEFAULT_JOBS = 8


class Task(Protocol):
    def advance(self, count: int = 1, size: int = 0) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int, total_bytes: int = 0) -> Task: ...

    def done(self, description: str) -> None: ...


class _Silent:
    def advance(self, count: int = 1, size: int = 0) -> None:
        pass


class SilentProgress:
    def task(self, description: str, total: int, total_bytes: int = 0) -> Task:
        return _Silent()

    def done(self, description: str) -> None:
        pass


class _RichTask:
    def __init__(self, bars: rp.Progress, task_id: rp.TaskID, by_bytes: bool) -> None:
        self._bars = bars
        self._id = task_id
        self._by_bytes = by_bytes
        self._count = 0
        self._lock = threading.Lock()

    def advance(self, count: int = 1, size: int = 0) -> None:
        with self._lock:  # threads report; rich's own lock guards the display
            self._count += count
            step = size if self._by_bytes else count
            self._bars.update(self._id, advance=step, count=self._count)


class _Amount(rp.ProgressColumn):
    """`n/N` items, and for byte-counted tasks the bytes and the speed too."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = rp.DownloadColumn()
        self._speed = rp.TransferSpeedColumn()

    def render(self, task: rp.Task) -> Text:
        items = Text(f"{task.fields.get('count', 0)}/{task.fields.get('items', 0)}")
        if not task.fields.get("by_bytes"):
            return items
        return Text.assemble(items, " files  ", self._bytes.render(task), "  ",
                             self._speed.render(task))  # fmt: skip


class RichProgress:
    """rich progress bars: files done/total, bytes, speed and time left; a line per step."""

    def __init__(self, console: Console | None = None) -> None:
        self._bars = rp.Progress(
            rp.TextColumn("{task.description}"),
            rp.BarColumn(),
            rp.TaskProgressColumn(),
            _Amount(),
            rp.TimeRemainingColumn(),
            console=console or Console(stderr=True),
        )

    def task(self, description: str, total: int, total_bytes: int = 0) -> Task:
        if not self._bars.live.is_started:
            self._bars.start()
        by_bytes = bool(total_bytes)
        task_id = self._bars.add_task(
            description, total=total_bytes or total, items=total, count=0, by_bytes=by_bytes
        )
        return _RichTask(self._bars, task_id, by_bytes)

    def done(self, description: str) -> None:
        if self._bars.live.is_started:
            self._bars.stop()
            for task_id in list(self._bars.task_ids):
                self._bars.remove_task(task_id)
        self._bars.console.print(description, highlight=False)


@dataclass(frozen=True)
class Options:
    """How to transfer: parallelism and progress, and pull's choices."""

    jobs: int = DEFAULT_JOBS
    progress: Progress = field(default_factory=SilentProgress)
    recursive: bool = True  # pull dependencies too
    fetch_first: bool = True  # pull: fetch the locations' metadata first
    keep_times: bool = False  # record pulled packets at the location's times


def make_progress(quiet: bool) -> Progress:
    if quiet:
        return SilentProgress()
    return RichProgress() if sys.stderr.isatty() else SilentProgress()


@contextmanager
def _pool(jobs: int) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max(1, jobs), thread_name_prefix="outpack-transfer")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_parallel(action: Callable[[T], object], items: Iterable[T], jobs: int) -> None:
    """`action` on every item, `jobs` at a time, with a bounded queue (constant memory).

    The first failure stops submitting, waits for what is running, and is
    raised (so a failed transfer never leaves threads writing behind us).
    """
    if jobs <= 1:
        for item in items:
            action(item)
        return
    with _pool(jobs) as pool:
        pending: set[Future[object]] = set()
        for item in items:
            if len(pending) >= jobs * 4:
                pending = _settle(pending, FIRST_COMPLETED)
            pending.add(pool.submit(action, item))
        _settle(pending, ALL_COMPLETED)


def _settle(futures: set[Future[object]], until: str) -> set[Future[object]]:
    """Wait (for one, or all); raise the first failure; return those still running."""
    done, running = wait(futures, return_when=until)
    for future in done:
        error = future.exception()
        if error is not None:
            for other in running:
                other.cancel()
            raise error
    return running
