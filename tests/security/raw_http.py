"""HTTP over a bare socket, so the request target reaches the server exactly as written.

`requests` and `http.client` normalise or refuse unusual targets (dot
segments, control characters), which is precisely what the attacks need.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_http(
    port: int,
    method: str,
    target: bytes | str,
    body: bytes = b"",
    *,
    headers: tuple[tuple[str, str], ...] = (),
) -> RawResponse:
    path = target.encode("latin-1") if isinstance(target, str) else target
    head = [method.encode("ascii") + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1"]
    head += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    head += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    with socket.create_connection(("127.0.0.1", port), timeout=30.0) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        return parse_response(read_all(sock))


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def parse_response(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return RawResponse(status, headers, body)
