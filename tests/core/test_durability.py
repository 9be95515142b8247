"""Concurrent writers and writers killed mid-write must leave a valid root."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import orjson

from outpack.catalog import Catalog
from outpack.hash import Hash, hash_bytes, hash_file
from outpack.ids import is_packet_id
from outpack.root import Root
from tests.support import PATIENCE_S

WRITER = textwrap.dedent(
    """
    import os, sys
    from outpack.root import Root
    from outpack.packet import create_packet
    root = Root.open(sys.argv[1])
    mode = sys.argv[2]
    if mode == "same":
        # Every process writes the same file and the same packet.
        from outpack.packet import build_metadata
        from outpack.hash import hash_bytes
        data = b"shared content\\n" * 1000
        meta = build_metadata(root, "same", {"f.txt": data},
                              packet_id="20200101-000000-00001111", start=1.0)
        for _ in range(20):
            root.store.put_bytes(hash_bytes("sha256", data), data)
            root.import_packet(meta, hash_bytes("sha256", meta))
        print("ok")
    else:
        n = 0
        while True:
            big = os.urandom(4 << 20)
            create_packet(root, "crash", {"big.bin": big, "small.txt": str(n).encode()},
                          parameters={"n": n})
            print("wrote", n, flush=True)
            n += 1
    """
)


def run_writer(root: Root, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root.path), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_root_valid(root: Root) -> int:
    """Every entry in metadata/ and location/*/ is complete and consistent."""
    for folder in [root.metadata_dir, *root.location_dir.iterdir()]:
        assert all(is_packet_id(name) for name in os.listdir(folder)), os.listdir(folder)
    for packet_id in root.location_packet_ids("local"):
        record = root.read_location_record("local", packet_id)
        data = root.read_metadata_bytes(packet_id)
        assert str(hash_bytes("sha256", data)) == record.hash
        for file in root.read_metadata(packet_id).files:
            assert hash_file("sha256", root.store.locate(Hash.parse(file.hash))) == Hash.parse(
                file.hash
            )
    for file_hash in root.store.iter_hashes():
        assert hash_file(file_hash.algorithm, root.store.path(file_hash)) == file_hash
    return len(root.location_packet_ids("local"))


def test_concurrent_writers_of_same_packet(new_root: Root) -> None:
    writers = [run_writer(new_root, "same") for _ in range(4)]
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert out.strip() == "ok"
    assert new_root.packet_ids() == ["20200101-000000-00001111"]
    assert assert_root_valid(new_root) == 1
    assert len(list(new_root.store.iter_hashes())) == 1
    assert os.listdir(new_root.tmp_dir) == []


def wait_for_packet_written(writer: subprocess.Popen[str]) -> None:
    """Wait until the writer reports a complete packet (failing only if it dies or hangs)."""
    assert writer.stdout is not None
    readable, _, _ = select.select([writer.stdout], [], [], PATIENCE_S)
    assert readable, f"the writer wrote no packet in {PATIENCE_S:.0f} s"
    assert writer.stdout.readline().startswith("wrote"), writer.stderr


def test_writer_killed_mid_write_leaves_valid_root(new_root: Root) -> None:
    # Each writer completes a packet first, so the test always proves something;
    # the delay then lands the kill at a different point of the next one.
    delays = [0.0, 0.02, 0.05, 0.1, 0.2, 0.3]
    for delay in delays:
        writer = run_writer(new_root, "crash")
        wait_for_packet_written(writer)
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=30)
        assert writer.returncode == -signal.SIGKILL
        assert_root_valid(new_root)
    count = assert_root_valid(new_root)
    assert count > 0, "the writer never completed a packet; the test proved nothing"
    # Metadata never appears without its location record surviving a later import.
    for packet_id in new_root.packet_ids():
        metadata = orjson.loads(new_root.read_metadata_bytes(packet_id))
        assert metadata["id"] == packet_id


def test_catalog_sees_other_writers(new_root: Root) -> None:
    catalog = Catalog(new_root)
    seen: list[str] = []
    catalog.subscribe(lambda metadata: seen.append(metadata.id))
    assert not catalog.refresh()
    writer = run_writer(new_root, "same")
    writer.communicate(timeout=120)
    changes = catalog.refresh()
    assert changes.packets == ["20200101-000000-00001111"]
    assert changes.records == [("local", "20200101-000000-00001111")]
    assert seen == ["20200101-000000-00001111"]
    assert catalog.ids == ["20200101-000000-00001111"]
    version = catalog.version
    assert not catalog.refresh()
    assert catalog.version == version
