"""Starting the server: granian, in one or more worker processes.

Each worker builds its own app through `app_from_environment`, so the
settings travel as environment variables. Granian binds the socket with
SO_REUSEADDR (a restarted server can listen again at once), and stops on
SIGTERM or SIGINT: requests in flight get `shutdown_timeout` seconds to
finish before their worker is killed. An upload cut short that way leaves at
most a temporary file in `.outpack/tmp`, never a partial file in the store.
If this process is killed outright (SIGKILL, the OOM killer), each worker
notices within a second or two and exits on its own (see parent_watch).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LOGGING_CONFIG, LogLevels
from granian.server import Server

# Imported here so that forked workers inherit it already loaded.
import outpack.server.app  # noqa: F401
from outpack.server.parent_watch import supervisor_environment
from outpack.server.settings import DEFAULT_HOST, DEFAULT_PORT, ServerSettings

APP_FACTORY = "outpack.server.app:app_from_environment"


@dataclass(frozen=True)
class RunOptions:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    log_level: str = "info"
    shutdown_timeout: int = 5
    # Granian closes a connection whose request headers take longer than this.
    header_timeout: float = 30.0


def _logging_config(level: str) -> dict[str, object]:
    # Granian applies this in every worker; it replaces the default `loggers`
    # table, so granian's own entries are kept and ours added.
    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["stderr"] = {  # type: ignore[index]
        "formatter": "generic",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["outpack"] = {  # type: ignore[index]
        "handlers": ["stderr"],
        "level": level.upper(),
        "propagate": False,
    }
    config["formatters"]["generic"]["fmt"] = (  # type: ignore[index]
        "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
    )
    return config


def serve(settings: ServerSettings, options: RunOptions) -> None:
    """Serve until SIGTERM or SIGINT."""
    os.environ.update(settings.to_environment())
    # Workers exit if this process dies without stopping them (parent_watch).
    os.environ.update(supervisor_environment())
    server = Server(
        APP_FACTORY,
        address=options.host,
        port=options.port,
        interface=Interfaces.ASGINL,
        workers=max(1, options.workers),
        factory=True,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1, int(options.header_timeout * 1000))
        ),
        websockets=False,
        log_level=LogLevels(options.log_level),
        log_dictconfig=_logging_config(options.log_level),
        workers_kill_timeout=max(1, options.shutdown_timeout),
    )
    server.serve()
