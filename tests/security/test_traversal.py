"""Path-traversal and encoding attacks on every route that takes an id or a hash.

Each attack goes over a bare socket, so the server sees the request target
exactly as written. Whatever the attack, the answer is 400 or 404 in a valid
failure envelope, no response carries a byte of a file outside the root, and
nothing inside or beside the root changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import orjson
import pytest

from tests.security.raw_http import RawResponse, raw_http
from tests.server.conftest import (
    SampleRoot,
    ServerProcess,
    check_envelope,
    check_failure,
    check_success,
    make_sample_root,
    temp_files,
)

StartServer = Callable[..., ServerProcess]
SECRET = b"SENTINEL-must-never-be-served-6b1f0e"
HEX = "0123456789abcdef" * 4
UP = "..%2F" * 8

# Each is sent as one path segment, as written (already percent-encoded).
ATTACKS = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2E",
    f"{UP}secret",
    f"{UP}sample%2F.outpack%2Fconfig.json",
    "..%252F..%252F..%252Fsecret",
    "%252e%252e%252fsecret",
    "..\\..\\..\\secret",
    "..%5c..%5c..%5csecret",
    "%2Fetc%2Fpasswd",
    "%2Ftmp",
    "C:%5CWindows",
    "%00",
    "20231114-221320-0000aaaa%00",
    "20231114-221320-0000aaaa%00.json",
    "%c0%ae%c0%ae%c0%afsecret",
    "%e0%80%ae%e0%80%ae",
    "%ef%bc%8e%ef%bc%8e%ef%bc%8fsecret",  # fullwidth dots and solidus
    "..%e2%88%95..%e2%88%95secret",  # division slash
    "20231114-221320-0000aaa%d0%b0",  # Cyrillic a
    "%ff%fe",
    "a" * 20_000,
    "20231114-221320-0000aaaa" * 500,
    f"sha256:{HEX.upper()}",
    f"sha256:{HEX}{HEX}",
    f"sha256:{HEX[:-1]}",
    f"sha256:{HEX[:-2]}%2F..",
    "sha256:..%2F..%2Fx",
    "sha256:../../x",
    f"sha256:{UP}secret",
    f"sha256%3A{HEX}%00",
    f"md5:{HEX[:32]}",
    f"..:{HEX}",
    f"sha256:{HEX}%20",
    "20231114-221320-0000aaaa%2F..%2F20231114-221420-0000bbbb",
]

# Whole targets: dot segments and doubled slashes around the parameter.
RAW_TARGETS = [
    "/metadata/../../secret/json",
    "/metadata/./20231114-221320-0000aaaa/json",
    "/metadata//etc/passwd/text",
    "/file/../../../secret",
    "/file//etc/passwd",
    f"/file/sha256:{HEX}/../../../secret",
    "/file/sha256:../../../../secret",
    "/packet/../../secret",
]


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ServerProcess]]:
    """A root beside a secret, served; its parent is what the tests watch."""
    parent = tmp_path_factory.mktemp("attacked")
    (parent / "secret").write_bytes(SECRET)
    sample = make_sample_root(parent / "sample")
    (sample.path / "secret").write_bytes(SECRET)
    server = ServerProcess(sample.path, tmp_path_factory.mktemp("logs"), "--no-access-log")
    yield parent, server
    server.stop()


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry with its mode, and each file's mtime and digest.

    Folder mtimes are left out: refused uploads create and remove temporary
    files in `.outpack/tmp`, which is expected and checked separately. So is
    `.outpack/cache/`, what the server derives from the root after reads (in
    the background): it may be rebuilt or deleted at any time.
    """
    return {
        str(path.relative_to(folder)): (
            path.stat().st_mode,
            path.stat().st_mtime_ns if path.is_file() else 0,
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "",
        )
        for path in sorted(folder.rglob("*"))
        if ".outpack/cache" not in path.as_posix()
    }


def requests_for(segment: str, sample_metadata: bytes) -> list[tuple[str, str, bytes]]:
    value = unquote(segment, errors="surrogateescape")
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return [
        ("GET", f"/metadata/{segment}/json", b""),
        ("GET", f"/metadata/{segment}/text", b""),
        ("GET", f"/file/{segment}", b""),
        ("POST", f"/file/{segment}", SECRET),
        ("POST", f"/packet/{segment}", sample_metadata),
        ("POST", "/packets/missing", orjson.dumps({"ids": [text], "unpacked": True})),
        ("POST", "/files/missing", orjson.dumps({"hashes": [text]})),
    ]


def check_refused(method: str, target: str, response: RawResponse, asked: bytes = b"") -> None:
    where = f"{method} {target[:200]}"
    assert SECRET not in response.body, where
    if response.status == 200 and target.endswith("/missing"):
        # A well-formed hash that is merely upper case is a fair question,
        # and the only fair answer is that it is missing.
        data = check_success(response.body)
        assert data == next(iter(orjson.loads(asked).values())), where
        return
    assert response.status in (400, 404), (where, response.status, response.body[:300])
    assert response.headers.get("content-type") == "application/json", where
    check_envelope(response.status, "application/json", response.body, target)
    check_failure(response.body)


def test_attacks_are_refused_and_touch_nothing(attacked: tuple[Path, ServerProcess]) -> None:
    parent, server = attacked
    sample = SampleRoot(parent / "sample", [])
    metadata = sample.metadata("20231114-221320-0000aaaa")
    # Reads may build the catalogue cache: let that happen before the snapshot.
    assert raw_http(server.port, "GET", "/metadata/list").status == 200
    before = snapshot(parent)
    sent = 0
    for segment in ATTACKS:
        for method, target, body in requests_for(segment, metadata):
            check_refused(method, target, raw_http(server.port, method, target, body), body)
            sent += 1
    for target in RAW_TARGETS:
        for method in ("GET", "POST"):
            check_refused(method, target, raw_http(server.port, method, target, SECRET))
            sent += 1
    assert sent > 250
    assert snapshot(parent) == before
    assert temp_files(parent / "sample") == []
    assert raw_http(server.port, "GET", "/").status == 200


def test_valid_requests_still_work(attacked: tuple[Path, ServerProcess]) -> None:
    """The corpus is refused for what it is, not because everything is refused."""
    parent, server = attacked
    response = raw_http(server.port, "GET", "/metadata/20231114-221320-0000aaaa/json")
    assert response.status == 200
    config = (parent / "sample" / ".outpack" / "config.json").read_bytes()
    assert config not in response.body
