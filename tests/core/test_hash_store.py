from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from outpack.errors import HashMismatchError, InvalidHashError, UnknownAlgorithmError
from outpack.hash import (
    HASH_ALGORITHMS,
    Hash,
    hash_bytes,
    hash_chunks,
    hash_file,
    hash_stream,
    parse_lookup_hash,
)
from outpack.root import Root


@pytest.mark.parametrize("algorithm", HASH_ALGORITHMS)
def test_hashes_match_hashlib(tmp_path: Path, algorithm: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    expected = hashlib.new(algorithm, data).hexdigest()
    path = tmp_path / "f"
    path.write_bytes(data)
    assert hash_bytes(algorithm, data) == Hash(algorithm, expected)
    assert hash_file(algorithm, path) == Hash(algorithm, expected)
    assert hash_stream(algorithm, io.BytesIO(data)) == Hash(algorithm, expected)
    assert str(hash_file(algorithm, path)) == f"{algorithm}:{expected}"


def test_hashing_streams_without_holding_content() -> None:
    # 2 GiB of zeros produced lazily: hashing must consume it chunk by chunk.
    def chunks() -> Iterator[bytes]:
        block = bytes(1 << 20)
        for _ in range(2048):
            yield block

    reference = hashlib.sha256()
    block = bytes(1 << 20)
    for _ in range(2048):
        reference.update(block)
    assert hash_chunks("sha256", chunks()).digest == reference.hexdigest()


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("sha256", InvalidHashError, "Invalid hash format 'sha256'"),
        ("sha256:", InvalidHashError, "Invalid hash format"),
        ("sha256:xyz", InvalidHashError, "Invalid hash format"),
        ("sha256:abcd", InvalidHashError, "Invalid hash format"),
        ("sha256:../../etc/passwd", InvalidHashError, "Invalid hash format"),
        ("crc32:" + "a" * 8, UnknownAlgorithmError, "Invalid hash algorithm 'crc32'"),
        (":" + "a" * 64, UnknownAlgorithmError, "Invalid hash algorithm ''"),
    ],
)
def test_malformed_hashes(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        Hash.parse(text)


def test_lookup_hashes_are_read_as_loosely_as_the_reference() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert parse_lookup_hash(f" sha256:{digest.upper()}\t") == Hash("sha256", digest)
    # Well-formed, but no stored file can have this name.
    for absent in ("md5:abc123", "sha256:0", f"sha256:{digest}0", f"sha1:{digest}"):
        assert parse_lookup_hash(absent) is None
    for malformed in ("sha256", "sha256:", "sha256:xyz", "sha256:ab/cd", "sha-1:00", " :00"):
        with pytest.raises(InvalidHashError, match="Invalid hash format"):
            parse_lookup_hash(malformed)
    with pytest.raises(UnknownAlgorithmError, match="Invalid hash algorithm 'md6'"):
        parse_lookup_hash("md6:abc")


def test_upper_case_hex_is_normalised() -> None:
    digest = hashlib.md5(b"x").hexdigest()
    assert Hash.parse("md5:" + digest.upper()) == Hash("md5", digest)


def test_store_put_and_layout(new_root: Root) -> None:
    data = b"hello\n"
    file_hash = hash_bytes("sha256", data)
    assert new_root.store.put_stream(file_hash, io.BytesIO(data)) is True
    path = new_root.outpack_dir / "files" / "sha256" / file_hash.digest[:2] / file_hash.digest[2:]
    assert path.read_bytes() == data
    # Putting the same content again is accepted and changes nothing.
    inode = path.stat().st_ino
    assert new_root.store.put_bytes(file_hash, data) is False
    assert path.stat().st_ino == inode
    assert list(new_root.store.iter_hashes()) == [file_hash]


def test_store_rejects_mismatch_and_leaves_nothing(new_root: Root) -> None:
    claimed = hash_bytes("sha256", b"what was promised")
    with pytest.raises(HashMismatchError, match="Expected hash 'sha256:"):
        new_root.store.put_bytes(claimed, b"something else")
    assert not new_root.store.exists(claimed)
    assert list(new_root.store.iter_hashes()) == []
    assert os.listdir(new_root.tmp_dir) == []


def test_store_verifies_with_the_requested_algorithm(new_root: Root) -> None:
    data = b"abc"
    file_hash = hash_bytes("md5", data)
    new_root.store.put_bytes(file_hash, data)
    assert new_root.store.exists(file_hash)
    assert new_root.store.path(file_hash).parent.parent.name == "md5"


def test_upload_abort_leaves_nothing(new_root: Root) -> None:
    data = b"x" * 100_000
    upload = new_root.store.begin(hash_bytes("sha256", data))
    upload.write(data[:5000])
    upload.abort()
    assert not new_root.store.exists(hash_bytes("sha256", data))
    assert os.listdir(new_root.tmp_dir) == []
