"""Server settings, and how they travel from the command line to worker processes.

Workers are separate processes started by granian, which builds the app by
calling a factory; the factory reads these environment variables. The same
variables let any ASGI server host the app (see docs/server.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ROOT_ENV = "OUTPACK_SERVER_ROOT"
MAX_BODY_ENV = "OUTPACK_SERVER_MAX_BODY_SIZE"
ACCESS_LOG_ENV = "OUTPACK_SERVER_ACCESS_LOG"
READ_ONLY_ENV = "OUTPACK_SERVER_READ_ONLY"
# The path of the token file, never the tokens: a process's environment is
# readable by anyone who can inspect it, the file can be kept private.
TOKEN_FILE_ENV = "OUTPACK_SERVER_TOKEN_FILE"
BODY_TIMEOUT_ENV = "OUTPACK_SERVER_BODY_TIMEOUT"
UI_ENV = "OUTPACK_SERVER_UI"

# Metadata and JSON request bodies are read whole; a metadata document
# listing tens of thousands of files stays far below this.
DEFAULT_MAX_BODY_SIZE = 64 << 20
# A client that stops sending its body for this long is cut off, so that a
# stalled upload releases its temporary file and its slot.
DEFAULT_BODY_TIMEOUT = 60.0
DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 8000


@dataclass(frozen=True)
class ServerSettings:
    root: str
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    access_log: bool = True
    read_only: bool = False
    token_file: str | None = None
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    # The packet browser under /ui/.
    ui: bool = True

    def to_environment(self) -> dict[str, str]:
        return {
            ROOT_ENV: self.root,
            MAX_BODY_ENV: str(self.max_body_size),
            ACCESS_LOG_ENV: "1" if self.access_log else "0",
            READ_ONLY_ENV: "1" if self.read_only else "0",
            TOKEN_FILE_ENV: self.token_file or "",
            BODY_TIMEOUT_ENV: repr(self.body_timeout),
            UI_ENV: "1" if self.ui else "0",
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if environ is None else environ
        root = env.get(ROOT_ENV)
        if not root:
            raise RuntimeError(f"{ROOT_ENV} must name the outpack root to serve")
        return cls(
            root=root,
            max_body_size=int(env.get(MAX_BODY_ENV, DEFAULT_MAX_BODY_SIZE)),
            access_log=env.get(ACCESS_LOG_ENV, "1") != "0",
            read_only=env.get(READ_ONLY_ENV, "0") == "1",
            token_file=env.get(TOKEN_FILE_ENV) or None,
            body_timeout=float(env.get(BODY_TIMEOUT_ENV, DEFAULT_BODY_TIMEOUT)),
            ui=env.get(UI_ENV, "1") != "0",
        )


def parse_listen(text: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, `:port` or `port` (the host defaults to 0.0.0.0)."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"Invalid listen address '{text}': expected host:port") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"Invalid port {port} in listen address '{text}'")
    return host, port
