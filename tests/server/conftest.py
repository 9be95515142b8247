"""Helpers for the server tests: sample roots, an in-process ASGI client, real
server processes, and validation of every body against ../shared/schema/server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
import requests

from outpack.config import CoreConfig, init_root
from outpack.hash import hash_bytes
from outpack.location import LocationRecord
from outpack.packet import Dependency, create_packet
from outpack.root import Root
from outpack.server.access_log import AccessLog
from outpack.server.app import OutpackApp, create_app
from outpack.server.settings import ServerSettings
from tests.support import (
    PATIENCE_S,
    SHARED,
    load_schema_validator,
    wait_for,  # noqa: F401  # re-exported: server tests import it here
)

JSON = "application/json"
SCHEMA_DIR = SHARED / "schema" / "server"

# -- schema validation -------------------------------------------------------


def _validator(name: str) -> Any:
    return load_schema_validator("server", name)


def check_success(body: bytes, data_schema: str | None = None) -> Any:
    """Validate a success envelope (and its data against `data_schema`); returns data."""
    document = orjson.loads(body)
    assert document["status"] == "success", document
    assert document["errors"] is None
    assert set(document) == {"status", "data", "errors"}
    if SCHEMA_DIR.is_dir():
        _validator("response-success.json").validate(document)
        if data_schema is not None:
            _validator(data_schema).validate(document["data"])
    return document["data"]


def check_failure(body: bytes) -> dict[str, Any]:
    """Validate a failure envelope with exactly one error; returns that error."""
    document = orjson.loads(body)
    assert document["status"] == "failure", document
    assert document["data"] is None
    assert isinstance(document["errors"], list) and len(document["errors"]) == 1
    if SCHEMA_DIR.is_dir():
        _validator("response-failure.json").validate(document)
    error: dict[str, Any] = document["errors"][0]
    assert isinstance(error["error"], str) and isinstance(error["detail"], str)
    assert "Traceback" not in error["detail"]
    return error


def check_envelope(status: int, content_type: str | None, body: bytes, target: str) -> None:
    """Validate any JSON answer (other than the OpenAPI document) as an envelope."""
    if status == 304:
        # Not Modified is the one answer with neither body nor envelope.
        assert body == b""
        return
    if content_type != JSON or target.partition("?")[0] == "/openapi.json":
        return
    if status == 200:
        check_success(body)
    else:
        check_failure(body)


# -- sample roots ------------------------------------------------------------

SAMPLE_START = 1_700_000_000.0


@dataclass
class SampleRoot:
    path: Path
    ids: list[str]
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def root(self) -> Root:
        return Root.open(self.path)

    def metadata(self, packet_id: str) -> bytes:
        return (self.path / ".outpack" / "metadata" / packet_id).read_bytes()


def make_sample_root(path: Path) -> SampleRoot:
    """Three packets: parameters of every type, a chain, a shared file, an empty file."""
    init_root(path, CoreConfig(use_file_store=True, require_complete_tree=True))
    root = Root.open(path)
    shared = b"id,value\n1,10\n2,20\n"
    files_a = {"data.csv": shared, "empty.txt": b""}
    files_b = {"input.csv": shared, "fit.txt": b"slope=2\n"}
    files_c = {"report.md": "# Résumé\n".encode(), "blob.bin": bytes(range(256)) * 64}
    a = create_packet(
        root,
        "data",
        files_a,
        packet_id="20231114-221320-0000aaaa",
        parameters={"n": 2, "x": 0.5, "label": "café", "flag": True},
        start=SAMPLE_START,
        custom={"orderly": {"description": {"display": "Data"}}},
    )
    b = create_packet(
        root,
        "model",
        files_b,
        packet_id="20231114-221420-0000bbbb",
        depends=[Dependency(a, 'latest(name == "data")', {"input.csv": "data.csv"})],
        start=SAMPLE_START + 60,
    )
    c = create_packet(
        root,
        "report",
        files_c,
        packet_id="20231114-221520-0000cccc",
        depends=[Dependency(b, 'latest(name == "model")', {})],
        start=SAMPLE_START + 120,
    )
    files = {
        str(hash_bytes("sha256", data)): data
        for data in [*files_a.values(), *files_b.values(), *files_c.values()]
    }
    return SampleRoot(path, [a, b, c], files)


def add_location(path: Path, name: str, records: Sequence[LocationRecord]) -> None:
    """Configure a location after the existing ones and write its records."""
    config_path = path / ".outpack" / "config.json"
    config = orjson.loads(config_path.read_bytes())
    config["location"].append({"name": name, "type": "path", "args": {"path": "/elsewhere"}})
    config_path.write_bytes(orjson.dumps(config))
    write_records(path, name, records)


def write_records(path: Path, location: str, records: Sequence[LocationRecord]) -> None:
    root = Root.open(path)
    for record in records:
        root.add_location_record(location, record)


def outpack_files(path: Path) -> dict[str, bytes]:
    """Every file under .outpack except temporary ones, with contents."""
    outpack_dir = path / ".outpack"
    return {
        str(item.relative_to(outpack_dir)): item.read_bytes()
        for item in sorted(outpack_dir.rglob("*"))
        if item.is_file() and "tmp" not in item.relative_to(outpack_dir).parts[:1]
    }


def temp_files(path: Path) -> list[Path]:
    tmp = path / ".outpack" / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


@pytest.fixture
def sample(tmp_path: Path) -> SampleRoot:
    return make_sample_root(tmp_path / "sample")


# -- in-process ASGI client --------------------------------------------------


@dataclass
class AsgiResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v.decode("latin-1") for k, v in self.headers if k.decode() == name.lower()]
        assert len(values) <= 1, f"duplicate header {name}: {values}"
        return values[0] if values else None

    def json(self) -> Any:
        return orjson.loads(self.body)


class AsgiClient:
    """Calls the app directly, as a server would, without a socket."""

    def __init__(
        self, app: OutpackApp, *, pathsend: bool = True, log: list[bytes] | None = None
    ) -> None:
        self.app = app
        self.pathsend = pathsend
        self.log = log if log is not None else []

    def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes | Sequence[bytes] = b"",
        headers: Sequence[tuple[bytes, bytes]] = (),
        disconnect: bool = False,
    ) -> AsgiResponse:
        """`target` is the raw request target (path and query, percent-encoded)."""
        return asyncio.run(self._request(method, target, body, headers, disconnect))

    def get(self, target: str, **options: Any) -> AsgiResponse:
        return self.request("GET", target, **options)

    def post(self, target: str, **options: Any) -> AsgiResponse:
        return self.request("POST", target, **options)

    async def _request(
        self,
        method: str,
        target: str,
        body: bytes | Sequence[bytes],
        headers: Sequence[tuple[bytes, bytes]],
        disconnect: bool,
    ) -> AsgiResponse:
        raw_path, _, query = target.partition("?")
        chunks = [body] if isinstance(body, bytes) else list(body)
        if isinstance(body, bytes):
            headers = [(b"content-length", str(len(body)).encode()), *headers]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"testserver"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "extensions": {"http.response.pathsend": {}} if self.pathsend else {},
        }
        incoming: list[dict[str, Any]] = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
        if disconnect:
            incoming[-1]["more_body"] = True
            incoming.append({"type": "http.disconnect"})

        async def receive() -> dict[str, Any]:
            if incoming:
                return incoming.pop(0)
            await asyncio.sleep(3600)
            raise AssertionError("the app read past the end of the request")

        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                assert not start, "response started twice"
                start.update(message)
            elif message["type"] == "http.response.body":
                assert start, "body before start"
                parts.append(message.get("body", b""))
            elif message["type"] == "http.response.pathsend":
                assert self.pathsend, "pathsend used without the extension"
                parts.append(Path(message["path"]).read_bytes())
            else:
                raise AssertionError(f"unexpected message {message['type']}")

        await self.app(scope, receive, send)
        if not start:
            return AsgiResponse(0, [], b"")
        response = AsgiResponse(start["status"], list(start["headers"]), b"".join(parts))
        # Every JSON body any test receives is checked against the schemas.
        check_envelope(response.status, response.header("content-type"), response.body, target)
        return response


@pytest.fixture
def make_client() -> Callable[..., AsgiClient]:
    def make(path: Path, *, pathsend: bool = True, **settings: Any) -> AsgiClient:
        logged: list[bytes] = []

        def collect(data: bytes) -> None:
            logged.extend(data.splitlines(keepends=True))

        app = create_app(ServerSettings(root=str(path), **settings), AccessLog(collect))
        return AsgiClient(app, pathsend=pathsend, log=logged)

    return make


# -- real server processes ---------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(root: Path, port: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "outpack",
        "start-server",
        "--root",
        str(root),
        "--listen",
        f"127.0.0.1:{port}",
        *extra,
    ]


class ServerProcess:
    """`outpack start-server` in a subprocess, on 127.0.0.1 and a free port."""

    def __init__(self, root: Path, log_dir: Path, *extra: str, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = log_dir / f"server-{self.port}.out"
        self.stderr_path = log_dir / f"server-{self.port}.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                server_command(root, self.port, *extra), stdout=out, stderr=err
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = PATIENCE_S) -> None:
        # How fast it starts is measured by benchmarks/lifecycle_bench.py, not here.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                response = requests.get(self.url + "/", timeout=2)
                if response.status_code == 200:
                    return
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise AssertionError(f"server not ready after {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )

    def access_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.stderr_path.read_bytes().splitlines():
            if line.startswith(b"{"):
                lines.append(orjson.loads(line))
        return lines

    def get(self, path: str, **options: Any) -> requests.Response:
        return self._checked(path, requests.get(self.url + path, timeout=60, **options))

    def post(self, path: str, **options: Any) -> requests.Response:
        return self._checked(path, requests.post(self.url + path, timeout=60, **options))

    @staticmethod
    def _checked(path: str, response: requests.Response) -> requests.Response:
        # Every JSON body any test receives is checked against the schemas.
        check_envelope(
            response.status_code, response.headers.get("content-type"), response.content, path
        )
        return response

    def stop(self, sig: int = signal.SIGTERM, timeout: float = PATIENCE_S) -> None:
        """Signal the server and wait for it to exit; fails if it has not after `timeout`."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in path.read_text().split()]
        return []


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(root: Path, *extra: str, port: int | None = None) -> ServerProcess:
        server = ServerProcess(root, tmp_path / "logs", *extra, port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        worker_pids = server.children()
        server.stop()
        for pid in worker_pids:
            # A worker outliving its server would hold the port and the root.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 0)
                raise AssertionError(f"worker {pid} of server {server.process.pid} still runs")
