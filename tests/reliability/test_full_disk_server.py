"""A full disk under a running server: a clean error envelope, nothing half-written."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from outpack.config import CoreConfig, init_root
from outpack.hash import hash_bytes
from outpack.root import Root
from outpack.validate import validate_root
from tests.reliability.traffic import new_packet
from tests.server.conftest import ServerProcess, check_failure, outpack_files, temp_files
from tests.support_fs import small_filesystem

StartServer = Callable[..., ServerProcess]


def chunks(data: bytes, size: int = 64 << 10) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


@pytest.mark.parametrize("chunked", [False, True])
def test_upload_larger_than_free_space(
    tmp_path: Path, start_server: StartServer, chunked: bool
) -> None:
    with small_filesystem(tmp_path / "disk", "4M") as disk:
        path, _ = init_root(
            disk / "root", CoreConfig(use_file_store=True, require_complete_tree=True)
        )
        server = start_server(path)
        server.get("/metadata/list")
        before = outpack_files(path)
        big = os.urandom(6 << 20)
        big_hash = hash_bytes("sha256", big)
        response = server.post(f"/file/{big_hash}", data=chunks(big) if chunked else big)
        assert response.status_code == 500
        error = check_failure(response.content)
        assert error["error"] == "STORAGE_ERROR"
        assert "No space left on device" in error["detail"]
        assert str(disk) not in error["detail"]  # no server paths in answers
        assert outpack_files(path) == before
        assert temp_files(path) == []
        assert not Root.open(path).store.exists(big_hash)

        # The server carries on, and the space the failed upload took is free again.
        assert server.get("/").status_code == 200
        builder = Root.open(path)
        packet = new_packet(builder, "after", random.Random(1), 1 << 20, None)
        for file_hash, data in packet.files.items():
            assert server.post(f"/file/{file_hash}", data=data).status_code == 200
        assert server.post(f"/packet/{packet.hash}", data=packet.metadata).status_code == 200
        report = validate_root(Root.open(path))
        assert report.ok and report.packets == 1
        server.stop()
