"""Retries: connection errors and 5xx answers are retried with backoff; 4xx never are."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from outpack.client.drivers.http import HttpDriver
from outpack.client.drivers.session import Session
from outpack.errors import RemoteAuthError, RemoteError

LIST = b'{"status":"success","data":[],"errors":null}'


@contextmanager
def scripted_server(answers: list[tuple[int, bytes]]) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 answering from `answers` in turn (the last repeats)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.path)
            status, body = answers[min(len(seen), len(answers)) - 1]
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def failure(detail: str) -> bytes:
    return b'{"status":"failure","data":null,"errors":[{"error":"x","detail":"%s"}]}' % (
        detail.encode()
    )


def driver(url: str) -> HttpDriver:
    return HttpDriver(Session(url, f"location 'srv' ({url})", auth_hint="Check $TOKEN."))


def test_5xx_is_retried_until_it_succeeds() -> None:
    answers = [(503, failure("busy")), (500, failure("oops")), (200, LIST)]
    with scripted_server(answers) as (url, seen):
        assert driver(url).list_packets() == []
    assert seen == ["/metadata/list"] * 3


def test_persistent_5xx_gives_up_with_the_detail() -> None:
    expected = r"location 'srv' .* answered 502: bad gateway"
    with (
        scripted_server([(502, failure("bad gateway"))]) as (url, seen),
        pytest.raises(RemoteError, match=expected),
    ):
        driver(url).list_packets()
    assert len(seen) == 6  # the first try and five retries


@pytest.mark.parametrize("status", [400, 404])
def test_4xx_is_never_retried(status: int) -> None:
    answers = [(status, failure("no such thing"))]
    with (
        scripted_server(answers) as (url, seen),
        pytest.raises(RemoteError, match=f"answered {status}: no such thing"),
    ):
        driver(url).list_packets()
    assert len(seen) == 1


def test_401_and_403_say_what_to_do() -> None:
    answers = [(403, failure("Token 'ci' may only read"))]
    expected = r"refused access .*may only read.*Check \$TOKEN"
    with scripted_server(answers) as (url, seen), pytest.raises(RemoteAuthError, match=expected):
        driver(url).list_packets()
    assert len(seen) == 1
