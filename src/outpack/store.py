"""The content-addressed file store: `.outpack/files/<alg>/<hh>/<rest>`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from outpack.errors import FileNotFoundInStoreError
from outpack.fsutil import discard, new_temp_file, publish, storage_error, write_all
from outpack.hash import CHUNK_SIZE, Hash, Hasher, verify_hash
from outpack.staging import StagedWrites


class Upload:
    """One file on its way into the store, hashed as its chunks are written.

    Nothing is visible in the store until `commit` has checked the hash,
    fsynced the data and linked it into place; `abort` (or a failed commit)
    removes every trace. In a `staged` batch, `commit` checks the hash and
    hands the file to the batch, whose own commit makes it durable and visible.
    """

    def __init__(
        self, store: FileStore, expected: Hash, staged: StagedWrites | None = None
    ) -> None:
        self.expected = expected
        self._store = store
        self._staged = staged
        self._hasher = Hasher(expected.algorithm)
        self._fd, self._temp = new_temp_file(store.tmp_dir)
        self._open = True
        self._handed_over = False  # to the staged batch, which now owns the file
        self.size = 0

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self._hasher.update(chunk)
        try:
            write_all(self._fd, chunk)
        except OSError as err:
            self.abort()
            raise storage_error(err, f"storing {self.expected}") from err
        self.size += len(chunk)

    def commit(self) -> bool:
        """Check, fsync and publish; returns True if this call created the file.

        Staged, the file is only checked and handed to the batch (returns True).
        """
        try:
            verify_hash(self.expected, self._hasher.result())
            if self._staged is not None:
                os.close(self._fd)
                self._open = False
                self._staged.add(self._temp, self._store.path(self.expected))
                self._handed_over = True
                return True
            os.fsync(self._fd)
        except OSError as err:
            self.abort()
            raise storage_error(err, f"storing {self.expected}") from err
        except Exception:
            self.abort()
            raise
        os.close(self._fd)
        self._open = False
        return publish(self._temp, self._store.path(self.expected))

    def abort(self) -> None:
        if self._open:
            os.close(self._fd)
            self._open = False
        if not self._handed_over:
            discard(self._temp)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class FileStore:
    def __init__(self, files_dir: Path, tmp_dir: Path) -> None:
        self.files_dir = files_dir
        self.tmp_dir = tmp_dir

    def path(self, file_hash: Hash) -> Path:
        return self.files_dir / file_hash.algorithm / file_hash.digest[:2] / file_hash.digest[2:]

    def exists(self, file_hash: Hash) -> bool:
        return self.path(file_hash).is_file()

    def locate(self, file_hash: Hash) -> Path:
        """The path of a stored file, or FileNotFoundInStoreError."""
        path = self.path(file_hash)
        if not path.is_file():
            raise FileNotFoundInStoreError(str(file_hash))
        return path

    def begin(self, expected: Hash, staged: StagedWrites | None = None) -> Upload:
        return Upload(self, expected, staged)

    def put_chunks(self, expected: Hash, chunks: Iterable[bytes]) -> bool:
        with self.begin(expected) as upload:
            for chunk in chunks:
                upload.write(chunk)
            return upload.commit()

    def put_stream(self, expected: Hash, stream: BinaryIO) -> bool:
        return self.put_chunks(expected, iter(lambda: stream.read(CHUNK_SIZE), b""))

    def put_bytes(self, expected: Hash, data: bytes) -> bool:
        return self.put_chunks(expected, [data])

    def iter_hashes(self) -> Iterable[Hash]:
        """Every hash in the store (entries that are not well-formed are skipped)."""
        if not self.files_dir.is_dir():
            return
        for algorithm_dir in sorted(self.files_dir.iterdir()):
            for prefix_dir in sorted(algorithm_dir.iterdir()) if algorithm_dir.is_dir() else []:
                for entry in sorted(os.listdir(prefix_dir)):
                    text = f"{algorithm_dir.name}:{prefix_dir.name}{entry}"
                    try:
                        yield Hash.parse(text)
                    except Exception:
                        continue
