"""Helpers for the client tests: roots with dependency chains, servers, running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from outpack.config import CoreConfig, init_root
from outpack.packet import Dependency, create_packet
from outpack.root import Root
from tests.server.conftest import ServerProcess, start_server

__all__ = ["ServerProcess", "start_server"]


@dataclass
class Run:
    code: int
    out: str
    err: str


def outpack(*args: str | Path, check: bool = True, env: dict[str, str] | None = None) -> Run:
    """The real `outpack` command in a subprocess (with `env` added to the environment)."""
    done = subprocess.run(
        [sys.executable, "-m", "outpack", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error", **(env or {})},
    )
    run = Run(done.returncode, done.stdout, done.stderr)
    if check:
        assert run.code == 0, run
    return run


def new_root(path: Path, **core: object) -> Root:
    settings = {"use_file_store": True, "require_complete_tree": True, **core}
    init_root(path, CoreConfig(**settings))  # type: ignore[arg-type]
    return Root.open(path)


def chain_root(path: Path, big: int = 0) -> list[str]:
    """Four packets: a -> b -> c (each depends on the one before), and d alone.

    Shared and empty files, and with `big`, one file of that many bytes in d.
    """
    root = new_root(path)
    shared = b"id,value\n1,10\n2,20\n"
    a = create_packet(root, "data", {"data.csv": shared, "empty.txt": b""}, start=1.7e9)
    b = create_packet(
        root,
        "clean",
        {"clean.csv": shared + b"3,30\n"},
        depends=[Dependency(a, 'latest(name == "data")', {"in.csv": "data.csv"})],
        start=1.7e9 + 10,
    )
    c = create_packet(
        root,
        "report",
        {"report.md": "# Résumé\n".encode(), "sub/dir/x.bin": bytes(range(256)) * 8},
        depends=[Dependency(b, 'latest(name == "clean")', {"in.csv": "clean.csv"})],
        start=1.7e9 + 20,
    )
    d = create_packet(
        root, "other", {"blob.bin": os.urandom(big) if big else b"small"}, start=1.7e9 + 30
    )
    return [a, b, c, d]


def tree(path: Path) -> dict[str, bytes]:
    """Every file under .outpack (but tmp and the server's cache) by relative path."""
    base = path / ".outpack"
    return {
        str(p.relative_to(base)): p.read_bytes()
        for p in base.rglob("*")
        if p.is_file() and p.relative_to(base).parts[0] not in ("tmp", "cache")
    }


def part(path: Path, folder: str) -> dict[str, bytes]:
    return {k: v for k, v in tree(path).items() if k.startswith(folder + "/")}


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "source"
    return path, chain_root(path)
