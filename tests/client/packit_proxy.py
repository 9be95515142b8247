"""A stand-in for Packit's front: a real HTTP proxy serving an outpack server under
`/api/outpack/`, passing the Authorization header and bodies through (as Packit does)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3

PREFIX = "/api/outpack"
# Our bulk routes, which neither Packit nor the Rust server behind it have.
BULK_ROUTES = ("/metadata/texts", "/files/contents")


# What the Rust server answers for a route it does not have.
UNKNOWN_ROUTE = (
    b'{"status":"failure","data":null,'
    b'"errors":[{"error":"NOT_FOUND","detail":"This route does not exist"}]}'
)


def _handler(
    upstream: str,
    pool: urllib3.PoolManager,
    prefix: str,
    hidden: frozenset[str],
    cut: set[str],
) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            if not self.path.startswith(prefix + "/"):
                self._answer(404, b"not packit", "text/plain")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("authorization", "content-type")
            }
            path = self.path[len(prefix) :].partition("?")[0]  # Packit drops query strings
            if path in hidden:
                self._answer(404, UNKNOWN_ROUTE, "application/json")
                return
            answer = pool.request(
                self.command, upstream + path, body=body, headers=headers, retries=False
            )
            content_type = answer.headers.get("Content-Type", "")
            if path in cut:
                cut.discard(path)
                self._answer(answer.status, answer.data, content_type, cut_off=True)
                return
            self._answer(answer.status, answer.data, content_type)

        def _answer(
            self, status: int, body: bytes, content_type: str, *, cut_off: bool = False
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if cut_off:  # half the body promised, then the connection drops
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        do_GET = do_POST = _forward  # noqa: N815

    return Proxy


@contextmanager
def packit_proxy(
    upstream: str,
    *,
    prefix: str = PREFIX,
    hidden: tuple[str, ...] = BULK_ROUTES,
    cut: tuple[str, ...] = (),
) -> Iterator[str]:
    """Serve `upstream` under `<url><prefix>/`; yields `<url>`.

    Routes in `hidden` answer 404 as the Rust server does for routes it lacks.
    The first answer of each route in `cut` is cut off half-way.
    """
    pool = urllib3.PoolManager()
    handler = _handler(upstream, pool, prefix, frozenset(hidden), set(cut))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
