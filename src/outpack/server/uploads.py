"""Request bodies: small JSON documents read whole (with a limit), files streamed.

A file upload is never held in memory. Chunks are gathered into batches of
about a megabyte; each batch is hashed and written to the temporary file by
a worker thread (hashlib and os.write release the GIL) while the event loop
already receives the next one. The check, fsync and rename into the store
happen only after the last byte, so a truncated, mismatched or abandoned
upload leaves nothing in the store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar

from outpack.errors import InvalidInputError
from outpack.hash import Hash, Hasher, verify_hash
from outpack.server.errors import (
    IncompleteBodyError,
    PayloadTooLargeError,
    RequestTimeoutError,
)
from outpack.server.routing import Request
from outpack.store import FileStore, Upload

BATCH_BYTES = 1 << 20
IO_THREADS = 8
_EXECUTOR: concurrent.futures.ThreadPoolExecutor | None = None
T = TypeVar("T")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) anything over `limit` bytes."""
    declared = request.content_length()
    if declared is not None and declared > limit:
        raise PayloadTooLargeError(limit)
    parts: list[bytes] = []
    size = 0
    more = True
    while more:
        chunk, more = await request.receive_chunk()
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(limit)
            parts.append(chunk)
    _check_length(declared, size)
    return b"".join(parts)


async def drain_body(request: Request, limit: int) -> None:
    """Read and drop an unread body, so the client gets to read our error reply."""
    if request.body_consumed:
        return
    declared = request.content_length()
    if declared is not None and declared > limit:
        return
    if not declared and request.header(b"transfer-encoding") is None:
        return  # no body (most GETs): nothing to wait for
    size = 0
    more = True
    try:
        while more and size <= limit:
            chunk, more = await request.receive_chunk()
            size += len(chunk)
    except (IncompleteBodyError, RequestTimeoutError):
        # Gone or stalled: the error reply goes out regardless, and the
        # connection is not reused (the body was not read to its end).
        return


def _check_length(declared: int | None, received: int) -> None:
    if declared is not None and declared != received:
        raise InvalidInputError(
            f"Request body truncated: expected {declared} bytes but received {received}"
        )


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    # Created on first use, inside the worker process: a pool inherited
    # across fork would have no threads behind it.
    global _EXECUTOR  # noqa: PLW0603
    if _EXECUTOR is None:
        _EXECUTOR = concurrent.futures.ThreadPoolExecutor(
            max_workers=IO_THREADS, thread_name_prefix="outpack-io"
        )
    return _EXECUTOR


def _settle(future: concurrent.futures.Future[object] | None) -> None:
    """Wait for a thread still using the temporary file before it is removed.

    Only reached on error or cancellation, and a batch takes milliseconds, so
    blocking here briefly is preferable to a thread writing to a closed (and
    possibly reused) file descriptor.
    """
    if future is not None and not future.done():
        concurrent.futures.wait([future])


async def _pump(request: Request, consume: Callable[[list[bytes]], None]) -> int:
    """Feed the body to `consume` in batches, each in a worker thread.

    At most one batch is being consumed while the next is received: memory
    stays bounded by two batches whatever the body size.
    """
    executor = _executor()
    pending: concurrent.futures.Future[object] | None = None
    batch: list[bytes] = []
    batch_size = 0
    total = 0
    try:
        more = True
        while more:
            chunk, more = await request.receive_chunk()
            if chunk:
                batch.append(chunk)
                batch_size += len(chunk)
                total += len(chunk)
            if batch and (batch_size >= BATCH_BYTES or not more):
                if pending is not None:
                    await asyncio.wrap_future(pending)
                pending = executor.submit(consume, batch)
                batch, batch_size = [], 0
        if pending is not None:
            await asyncio.wrap_future(pending)
    finally:
        _settle(pending)
    return total


def _writer(upload: Upload) -> Callable[[list[bytes]], None]:
    def consume(batch: list[bytes]) -> None:
        for chunk in batch:
            upload.write(chunk)

    return consume


def _hasher(hasher: Hasher) -> Callable[[list[bytes]], None]:
    def consume(batch: list[bytes]) -> None:
        for chunk in batch:
            hasher.update(chunk)

    return consume


async def receive_file(request: Request, store: FileStore, expected: Hash) -> bool:
    """Stream the body into the store under `expected`; True if this call added it."""
    declared = request.content_length()
    if store.exists(expected):
        # Idempotent: the body is still checked, but nothing is written.
        hasher = Hasher(expected.algorithm)
        received = await _pump(request, _hasher(hasher))
        _check_length(declared, received)
        verify_hash(expected, hasher.result())
        return False
    upload = store.begin(expected)
    committing = False
    try:
        received = await _pump(request, _writer(upload))
        _check_length(declared, received)
        # fsync can take a while on a large file: keep the event loop serving.
        # Once started, commit cleans up after itself whatever happens to us.
        commit = _executor().submit(upload.commit)
        committing = True
        return await asyncio.wrap_future(commit)
    finally:
        if not committing:
            upload.abort()


async def run_blocking(function: Callable[[], T]) -> T:
    """Run file-system work (fsync, imports) off the event loop."""
    return await asyncio.wrap_future(_executor().submit(function))
