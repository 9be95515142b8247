"""Helpers for server_bench.py: external tools, nginx, our server, wrk and curl runs.

Everything listens on 127.0.0.1 only and every process started here is
stopped by the same object that started it (they are context managers).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

TOOLS = {"nginx": "nginx", "wrk": "wrk", "curl": "curl"}


def ensure_tools() -> None:
    """Install nginx, wrk and curl from Debian's archive if any is missing."""
    missing = [package for binary, package in TOOLS.items() if shutil.which(binary) is None]
    if not missing:
        return
    print(f"installing {', '.join(missing)} with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> float:
    """Poll `url` until it answers 200; returns the (monotonic) time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic()
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{url} answered {err.code}") from err
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def rss_bytes(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Managed:
    """A subprocess stopped (SIGTERM, then SIGKILL) when the context exits."""

    process: subprocess.Popen[bytes]

    def __enter__(self) -> Managed:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _started(self, wait: Callable[[], float]) -> float:
        """Wait for readiness; a process that never gets ready is stopped, not leaked."""
        try:
            return wait()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Nginx(Managed):
    """Debian's nginx serving `www` with sendfile, one worker, no access log."""

    def __init__(self, workdir: Path, www: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf_dir = workdir / "nginx"
        temp = conf_dir / "temp"
        temp.mkdir(parents=True, exist_ok=True)
        config = f"""
worker_processes {workers};
daemon off;
pid {conf_dir}/nginx.pid;
error_log {conf_dir}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    client_body_temp_path {temp};
    proxy_temp_path {temp};
    fastcgi_temp_path {temp};
    uwsgi_temp_path {temp};
    scgi_temp_path {temp};
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.port};
        root {www};
    }}
}}
"""
        (conf_dir / "nginx.conf").write_text(config)
        self.process = subprocess.Popen(
            ["nginx", "-c", str(conf_dir / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = www / "__ready"
        probe.write_text("ok")
        self._started(lambda: wait_ready(f"{self.url}/__ready", self.process))


class OutpackServer(Managed):
    """`outpack start-server` on 127.0.0.1, logs to a file in the work folder."""

    def __init__(self, root: Path, log: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "outpack",
            "start-server",
            "--root",
            str(root),
            "--listen",
            f"127.0.0.1:{self.port}",
            *extra,
        ]
        started = time.monotonic()
        with open(log, "ab") as stream:
            self.process = subprocess.Popen(command, stdout=stream, stderr=stream)
        ready = self._started(lambda: wait_ready(self.url + "/", self.process))
        self.ready_after = ready - started

    def rss(self) -> tuple[int, int]:
        """Resident memory of (the workers, everything including the supervisor)."""
        workers = sum(rss_bytes(pid) for pid in children(self.process.pid))
        return workers, workers + rss_bytes(self.process.pid)


@dataclass
class LoadResult:
    requests_per_second: float
    p99_ms: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, connections: int = 64, threads: int = 2) -> LoadResult:
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if rate is None or p99 is None:
        raise RuntimeError(f"cannot parse wrk output:\n{output}")
    if errors is not None:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses under load")
    return LoadResult(float(rate.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)])


def curl_download(url: str) -> float:
    """Bytes per second of one download to /dev/null."""
    output = subprocess.run(
        ["curl", "-s", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    size, seconds = int(output[0]), float(output[1])
    return size / seconds


def curl_upload(url: str, source: Path) -> float:
    """Bytes per second of one streamed POST of `source` (the answer must be 200)."""
    output = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "-T",
            str(source),
            "-H",
            "Expect:",
            "-H",
            "Content-Type: application/octet-stream",
            "-w",
            "%{http_code} %{size_upload} %{time_total}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if output[0] != "200":
        raise RuntimeError(f"upload answered {output[0]}")
    return int(output[1]) / float(output[2])


def median(values: list[float]) -> float:
    return statistics.median(values)
