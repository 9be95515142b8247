"""The access log: one JSON line per request, written in atomic batches."""

from __future__ import annotations

import asyncio

import orjson

from outpack.server.access_log import ATOMIC_WRITE, AccessLog


def record(log: AccessLog, index: int, path: str = "/") -> None:
    log.record(
        method="GET",
        route="/",
        path=path,
        status=200,
        duration=0.001 * index,
        request_id=f"id-{index}",
        sent=68,
        client="127.0.0.1",
    )


def test_lines_of_one_loop_turn_are_batched_atomically() -> None:
    writes: list[bytes] = []
    log = AccessLog(writes.append)

    async def burst() -> int:
        for index in range(200):
            record(log, index)
        written_during_burst = len(writes)
        await asyncio.sleep(0)  # the end of the turn flushes the rest
        return written_during_burst

    during = asyncio.run(burst())
    assert 0 < during < len(writes) < 200
    assert all(len(chunk) <= ATOMIC_WRITE and chunk.endswith(b"\n") for chunk in writes)
    lines = b"".join(writes).splitlines()
    assert [orjson.loads(line)["request_id"] for line in lines] == [f"id-{i}" for i in range(200)]


def test_a_line_longer_than_pipe_buf_is_written_alone() -> None:
    writes: list[bytes] = []
    log = AccessLog(writes.append)

    async def run() -> None:
        record(log, 1)
        record(log, 2, path="/" + "x" * (ATOMIC_WRITE + 10))
        record(log, 3)
        await asyncio.sleep(0)

    asyncio.run(run())
    assert [len(chunk.splitlines()) for chunk in writes] == [1, 1, 1]


def test_without_an_event_loop_lines_are_written_at_once() -> None:
    writes: list[bytes] = []
    log = AccessLog(writes.append)
    record(log, 7)
    assert len(writes) == 1
    line = orjson.loads(writes[0])
    assert line["request_id"] == "id-7"
    assert set(line) == {
        "time",
        "level",
        "event",
        "method",
        "route",
        "path",
        "status",
        "duration_ms",
        "request_id",
        "bytes",
        "client",
    }
