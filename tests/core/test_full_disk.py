from __future__ import annotations

import os
from pathlib import Path

import pytest

from outpack.config import CoreConfig, init_root
from outpack.errors import StorageError
from outpack.hash import hash_bytes
from outpack.packet import build_metadata
from outpack.root import Root
from tests.support_fs import small_filesystem


def test_full_disk_gives_clean_error_and_no_partial_file(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", "2M") as disk:
        path, _ = init_root(disk / "root", CoreConfig(require_complete_tree=True))
        root = Root.open(path)
        small = b"fits"
        root.store.put_bytes(hash_bytes("sha256", small), small)
        big = os.urandom(3 << 20)
        with pytest.raises(StorageError, match="No space left on device"):
            root.store.put_bytes(hash_bytes("sha256", big), big)
        assert not root.store.exists(hash_bytes("sha256", big))
        assert os.listdir(root.tmp_dir) == []
        assert list(root.store.iter_hashes()) == [hash_bytes("sha256", small)]
        # Once space is free again, writes work: nothing was left half-done.
        metadata = build_metadata(root, "a", {"f": small})
        assert root.import_packet(metadata, hash_bytes("sha256", metadata)).name == "a"
