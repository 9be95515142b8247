"""Fixtures for the scale tests: real servers over one root, and nginx in front of them."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import requests

from outpack.hash import hash_bytes
from outpack.packet import build_metadata
from outpack.root import Root
from tests.server.conftest import free_port, make_client, sample, start_server
from tests.support import PATIENCE_S

__all__ = ["Balancer", "make_client", "push_packet", "sample", "start_server"]


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").is_file():
        found = "/usr/sbin/nginx"
    return found


class Balancer:
    """nginx on 127.0.0.1, round robin over `backends`, everything in `workdir`."""

    def __init__(self, nginx: str, workdir: Path, backends: Sequence[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        temp = workdir / "temp"
        temp.mkdir(exist_ok=True)
        upstream = "\n".join(f"        server {backend};" for backend in backends)
        config = f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp};
    proxy_temp_path {temp};
    fastcgi_temp_path {temp};
    uwsgi_temp_path {temp};
    scgi_temp_path {temp};
    upstream outpack {{
{upstream}
    }}
    server {{
        listen 127.0.0.1:{self.port};
        client_max_body_size 0;
        proxy_request_buffering off;
        proxy_buffering off;
        location / {{
            proxy_pass http://outpack;
            proxy_set_header X-Request-Id $request_id;
        }}
    }}
}}
"""
        conf = workdir / "nginx.conf"
        conf.write_text(config)
        self.error_log = workdir / "error.log"
        self.process = subprocess.Popen(
            [nginx, "-p", str(workdir), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = PATIENCE_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url + "/", timeout=2).status_code == 200:
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        log = self.error_log.read_text() if self.error_log.exists() else ""
        raise AssertionError(f"nginx did not start:\n{log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[Callable[[Sequence[str]], Balancer]]:
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx); needed as the load balancer")
    started: list[Balancer] = []

    def start(backends: Sequence[str]) -> Balancer:
        proxy = Balancer(nginx, tmp_path / f"nginx-{len(started)}", backends)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def push_packet(
    url: str, root: Root, name: str, packet_id: str, files: dict[str, bytes]
) -> requests.Response:
    """Push a packet over HTTP as orderly2 does: its files first, then its metadata."""
    for data in files.values():
        response = requests.post(f"{url}/file/{hash_bytes('sha256', data)}", data=data, timeout=60)
        assert response.status_code == 200, response.text
    # A fixed start time: the same packet pushed twice must be the same bytes.
    metadata = build_metadata(root, name, files, packet_id=packet_id, start=1_700_000_000.0)
    return requests.post(
        f"{url}/packet/{hash_bytes('sha256', metadata)}", data=metadata, timeout=60
    )
