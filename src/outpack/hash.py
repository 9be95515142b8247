"""Content hashes written `<algorithm>:<lowercase hex>`, computed in streaming fashion."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from outpack.errors import HashMismatchError, InvalidHashError, UnknownAlgorithmError

HASH_ALGORITHMS: tuple[str, ...] = ("md5", "sha1", "sha256", "sha384", "sha512")
DIGEST_HEX_LENGTH = {"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}
CHUNK_SIZE = 1 << 20
_HEX = frozenset("0123456789abcdefABCDEF")
# What the reference server accepts as a hash to look up: surrounding
# whitespace, any algorithm-like name, any number of hex digits.
_WELL_FORMED = re.compile(r"\s*([0-9A-Za-z]+):([0-9A-Fa-f]+)\s*", re.ASCII)


def validate_algorithm(name: str) -> str:
    if name not in DIGEST_HEX_LENGTH:
        raise UnknownAlgorithmError(name)
    return name


@dataclass(frozen=True, slots=True)
class Hash:
    algorithm: str
    digest: str

    @classmethod
    def parse(cls, text: str) -> Hash:
        """Parse `<alg>:<hex>`; upper-case hex is accepted and normalised to lower case."""
        algorithm, sep, digest = text.partition(":")
        if not sep or not digest or not _HEX.issuperset(digest):
            raise InvalidHashError(f"Invalid hash format '{text}'")
        validate_algorithm(algorithm)
        if len(digest) != DIGEST_HEX_LENGTH[algorithm]:
            raise InvalidHashError(f"Invalid hash format '{text}'")
        return cls(algorithm, digest.lower())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.digest}"


def parse_lookup_hash(text: str) -> Hash | None:
    """Parse a hash that is only looked up, as loosely as the reference does.

    Raises InvalidHashError unless `text` matches `^\\s*[[:alnum:]]+:[[:xdigit:]]+\\s*$`,
    and UnknownAlgorithmError for an algorithm outside HASH_ALGORITHMS. A
    well-formed hash whose digest has the wrong length cannot name a stored
    file: it is returned as None (simply absent), without any path built from it.
    """
    match = _WELL_FORMED.fullmatch(text)
    if match is None:
        raise InvalidHashError(f"Invalid hash format '{text}'")
    algorithm, digest = match.groups()
    validate_algorithm(algorithm)
    if len(digest) != DIGEST_HEX_LENGTH[algorithm]:
        return None
    return Hash(algorithm, digest.lower())


class Hasher:
    """Incremental hashing, so large content is hashed as it streams past."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = validate_algorithm(algorithm)
        self._state = hashlib.new(algorithm)

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._state.update(chunk)

    def result(self) -> Hash:
        return Hash(self.algorithm, self._state.hexdigest())


def hash_bytes(algorithm: str, data: bytes | bytearray | memoryview) -> Hash:
    hasher = Hasher(algorithm)
    hasher.update(data)
    return hasher.result()


def hash_chunks(algorithm: str, chunks: Iterable[bytes]) -> Hash:
    hasher = Hasher(algorithm)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.result()


def hash_stream(algorithm: str, stream: BinaryIO) -> Hash:
    return hash_chunks(algorithm, iter(lambda: stream.read(CHUNK_SIZE), b""))


def hash_file(algorithm: str, path: str | os.PathLike[str]) -> Hash:
    with open(path, "rb") as stream:
        return hash_stream(algorithm, stream)


def verify_hash(expected: Hash, actual: Hash) -> None:
    """Raise HashMismatchError unless the two hashes are equal."""
    if expected != actual:
        raise HashMismatchError(str(expected), str(actual))
