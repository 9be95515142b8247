"""When a folder listing is complete, judged by the file system's own clock.

Processes notice each other's writes by a folder's modification time. A
listing taken in the same clock tick as the folder's last change may miss a
second change in that tick, which would leave the mtime unchanged: such a
listing must be taken again. To know whether the tick has passed, the
catalog asks the file system rather than the local clock: it touches a probe
file and reads back its mtime. Every later change gets a time no earlier than
the probe's, so once the probe is later than the folder's mtime, the next
change is bound to move it. This needs no agreement between the clocks of
hosts sharing a root over a network file system, and on a local file system
a listing is settled a few milliseconds after the change, not seconds.

Where the probe cannot be written (a read-only root), the local clock stands
in, with a window wide enough for file systems with one-second timestamps.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Used only without a probe: a folder changed less than this long before it
# was listed may change again without its mtime moving.
LOCAL_CLOCK_WINDOW_NS = 2_000_000_000
PROBE_NAME = "clock"


class FileSystemClock:
    def __init__(self, probe: Path) -> None:
        self._probe = probe
        self._writable = True

    def passed(self, mtime_ns: int) -> bool:
        """True if a change made from now on will give a folder a later mtime than `mtime_ns`.

        Call it after reading the mtime and *before* listing the folder, so
        that a change made while listing cannot hide behind the same mtime.
        """
        now = self._now()
        if now is None:
            return time.time_ns() - mtime_ns > LOCAL_CLOCK_WINDOW_NS
        return now > mtime_ns

    def _now(self) -> int | None:
        """The file system's current time, from the probe; None if it cannot be touched."""
        if not self._writable:
            return None
        try:
            try:
                os.utime(self._probe)
            except FileNotFoundError:
                self._probe.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(self._probe, os.O_WRONLY | os.O_CREAT, 0o644))
            return os.stat(self._probe).st_mtime_ns
        except OSError:
            self._writable = False
            return None
