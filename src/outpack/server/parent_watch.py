"""Workers leave when the server's main process dies.

Granian runs the app in worker processes forked by a supervisor. If the
supervisor dies without stopping them (SIGKILL, the OOM killer), nothing
else would: orphaned workers would keep serving the port, and a restarted
server would find it taken by stale code.

Each worker therefore watches its parent. A daemon thread compares
`os.getppid()` with the supervisor's pid every POLL_SECONDS; once the worker
has been re-parented, it asks itself to stop gracefully (SIGTERM, which
granian's worker handles by closing its listener and finishing requests in
flight) and, GRACE_SECONDS later, leaves regardless.

Why not `prctl(PR_SET_PDEATHSIG)`: the kernel sends that signal when the
*thread* that forked the worker exits, not the process, so a supervisor that
ever forks from a short-lived thread would have its healthy workers stopped.
A parent pid only changes when the parent process is gone, and polling it
costs one cheap system call a tenth of a second.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

logger = logging.getLogger("outpack.server")

# Set by `outpack start-server` in the supervisor; inherited by its workers.
SUPERVISOR_PID_ENV = "OUTPACK_SERVER_SUPERVISOR_PID"
POLL_SECONDS = 0.1
GRACE_SECONDS = 1.0


def supervisor_environment() -> dict[str, str]:
    """The variables that tell this process's future workers whom to watch."""
    return {SUPERVISOR_PID_ENV: str(os.getpid())}


def watch_supervisor_from_environment() -> threading.Thread | None:
    """In a worker of `outpack start-server`, start watching the supervisor.

    Does nothing in the supervisor itself, or when the app was started some
    other way (no supervisor pid in the environment).
    """
    raw = os.environ.get(SUPERVISOR_PID_ENV, "")
    if not raw.isdigit() or int(raw) == os.getpid():
        return None
    return watch_parent(int(raw))


def watch_parent(parent: int) -> threading.Thread:
    """Stop this process soon after `parent` stops being its parent."""
    thread = threading.Thread(
        target=_watch, args=(parent,), name="outpack-parent-watch", daemon=True
    )
    thread.start()
    return thread


def _watch(parent: int) -> None:
    # Checked at once too: the parent may have died before this worker started.
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    logger.warning(
        "The server's main process (pid %d) is gone: worker %d stops", parent, os.getpid()
    )
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    # Requests still running after the grace period are abandoned: an upload
    # leaves at most a temporary file in `.outpack/tmp`, never a partial file
    # in the store (the server removes stale temporary files when it starts).
    logger.warning("Worker %d still running %gs later: exiting now", os.getpid(), GRACE_SECONDS)
    os._exit(1)
