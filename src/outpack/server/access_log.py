"""One structured (JSON) line per request: method, route, status, duration, id.

Lines finished in the same turn of the event loop are written together, by
one `os.write` at the end of that turn (so a line is never held back longer
than the work already queued), in batches of whole lines no larger than
PIPE_BUF: such writes are atomic, so the lines of several worker processes
sharing one stderr pipe never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import sys
from collections.abc import Callable
from datetime import datetime, timezone

import orjson

LineSink = Callable[[bytes], None]
ATOMIC_WRITE = getattr(select, "PIPE_BUF", 4096)


def fd_sink(fd: int) -> LineSink:
    def write(data: bytes) -> None:
        # A closed or broken log stream must never fail a request.
        with contextlib.suppress(OSError):
            os.write(fd, data)

    return write


class AccessLog:
    def __init__(self, sink: LineSink | None = None) -> None:
        self._sink = sink if sink is not None else fd_sink(sys.stderr.fileno())
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._scheduled = False

    def record(  # noqa: PLR0913  # TODO(merge): complexity rules back on (issue 11); server/ is being rewritten
        self,
        *,
        method: str,
        route: str,
        path: str,
        status: int,
        duration: float,
        request_id: str,
        sent: int,
        client: str | None,
    ) -> None:
        line = orjson.dumps(
            {
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "level": "info",
                "event": "request",
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
                "request_id": request_id,
                "bytes": sent,
                "client": client,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        if self._pending_size + len(line) > ATOMIC_WRITE:
            self.flush()
        self._pending.append(line)
        self._pending_size += len(line)
        if not self._scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
                self._scheduled = True
            except RuntimeError:  # no event loop: write at once
                self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self._sink(data)
