"""Running transfers: a bounded thread pool, and progress reporting.

Progress is drawn with rich on a terminal (files done/total, bytes, speed,
time left, and a line per finished step) and is silent otherwise or when quiet; the API takes any
`Progress` so callers can plug in their own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from rich import progress as rp

T = TypeVar("T")
R = TypeVar("R")
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
    def __init__(self, progress: object, task_id: object, by_bytes: bool) -> None:
        self._progress = progress
        self._id = task_id
        self._by_bytes = by_bytes

    def advance(self, count: int = 1, size: int = 0) -> None:
        # Threads call this; rich's Progress takes its own lock.
        self._progress.advance(  # type: ignore[attr-defined]
            self._id, size if self._by_bytes else count
        )


class RichProgress:
    """rich progress bars on stderr: by bytes when the size is known, else by items."""

    def __init__(self) -> None:
        self._bars = rp.Progress(
            rp.TextColumn("{task.description}"),
            rp.BarColumn(),
            rp.TaskProgressColumn(),
            rp.DownloadColumn(),
            rp.TransferSpeedColumn(),
            rp.TimeRemainingColumn(),
            transient=False,
        )
        self._items = rp.Progress(
            rp.TextColumn("{task.description}"),
            rp.BarColumn(),
            rp.MofNCompleteColumn(),
            rp.TimeRemainingColumn(),
        )

    def task(self, description: str, total: int, total_bytes: int = 0) -> Task:
        bars = self._bars if total_bytes else self._items
        if not bars.live.is_started:
            bars.start()
        task_id = bars.add_task(description, total=total_bytes or total)
        return _RichTask(bars, task_id, bool(total_bytes))

    def done(self, description: str) -> None:
        for bars in (self._bars, self._items):
            if bars.live.is_started:
                bars.stop()
        print(description, file=sys.stderr)


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


def run_parallel(action: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    """`action` on every item, `jobs` at a time; results in order.

    The first failure cancels what has not started, waits for what has, and
    is raised (so a failed transfer never leaves threads writing behind us).
    """
    work = list(items)
    if jobs <= 1 or len(work) <= 1:
        return [action(item) for item in work]
    with _pool(jobs) as pool:
        futures: list[Future[R]] = [pool.submit(action, item) for item in work]
        finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in finished:
            error = future.exception()
            if error is not None:
                for other in futures:
                    other.cancel()
                raise error
        return [future.result() for future in futures]
