from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from outpack.errors import ConfigError
from outpack.server.auth import AccessDenied, AccessPolicy, load_token_file, parse_token_file

READER = "reader-token-0123456789"
WRITER = "writer-token-0123456789"
HASHED = "hashed-token-0123456789"


def policy(**options: bool) -> AccessPolicy:
    text = f"""
    # name   rights      token
    packit   read        {READER}
    alice    read-write  {WRITER}   # a comment
    bob      read-write  sha256:{hashlib.sha256(HASHED.encode()).hexdigest()}
    """
    return AccessPolicy(tokens=tuple(parse_token_file(text)), **options)


def auth(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


def denied(p: AccessPolicy, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    with pytest.raises(AccessDenied) as caught:
        p.check(method, path, headers)
    assert READER not in caught.value.detail and WRITER not in caught.value.detail
    return caught.value.status


def test_off_by_default() -> None:
    open_policy = AccessPolicy()
    assert not open_policy.enabled
    assert open_policy.check("POST", "/file/sha256:00", []) is None


def test_read_only_refuses_writes() -> None:
    p = AccessPolicy(read_only=True)
    assert p.check("GET", "/metadata/list", []) is None
    assert denied(p, "POST", "/packet/sha256:00", []) == 403
    assert denied(p, "POST", "/packets/missing", []) == 403


def test_tokens_grant_rights() -> None:
    p = policy()
    assert p.check("GET", "/metadata/list", auth(READER)) == "packit"
    assert p.check("POST", "/file/x", auth(WRITER)) == "alice"
    assert p.check("POST", "/file/x", auth(HASHED)) == "bob"
    assert p.check("GET", "/", []) is None  # readiness probes need no token
    assert denied(p, "GET", "/metadata/list", []) == 401
    assert denied(p, "GET", "/metadata/list", auth("wrong-token-0123456789")) == 401
    assert denied(p, "GET", "/metadata/list", [(b"authorization", b"Basic abc")]) == 401
    assert denied(p, "POST", "/file/x", auth(READER)) == 403


def test_read_only_applies_to_writers_too() -> None:
    p = policy(read_only=True)
    assert denied(p, "POST", "/file/x", auth(WRITER)) == 403


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no tokens"),
        ("alice read-write", "expected '<name> <rights> <token>'"),
        ("alice admin 0123456789abcdef0", "rights must be"),
        ("alice read short", "too short"),
        ("alice read sha256:abc", "64 hex digits"),
        (f"a read {READER}\na read {WRITER}", "used twice"),
    ],
)
def test_bad_token_files(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_token_file(text)


def test_missing_token_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read token file"):
        load_token_file(tmp_path / "absent")
