"""SharedReads keeps its read tasks, a waiter's cancellation stays its own, and
shutdown stops the reads with an error for their waiters, not a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from livechat_ext.realtime.shared_reads import ReadAbandoned, SharedReads


async def test_one_waiter_cancelled_leaves_the_others_their_answer() -> None:
    reads: SharedReads[int] = SharedReads()
    gate = asyncio.Event()

    async def read() -> int:
        await gate.wait()
        return 7

    first = asyncio.ensure_future(reads.read("k", read))
    second = asyncio.ensure_future(reads.read("k", read))
    await asyncio.sleep(0)  # both wait for the same read
    assert len(reads._tasks) == 1 and reads.reads == 1
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    gate.set()
    assert await second == 7
    assert first.cancelled() and not reads._tasks


async def test_close_stops_the_reads_and_fails_the_waiters_without_cancelling_them() -> None:
    reads: SharedReads[int] = SharedReads()
    started = asyncio.Event()

    async def read() -> int:
        started.set()
        await asyncio.Event().wait()  # never answers
        return 0

    running = asyncio.ensure_future(reads.read("k", read))
    await started.wait()
    queued = asyncio.ensure_future(reads.read("k", read))  # waits for the next read
    await asyncio.sleep(0)
    await reads.close()
    for waiter in (running, queued):
        with pytest.raises(ReadAbandoned):
            await waiter
        assert not waiter.cancelled()
    assert not reads._tasks and reads.reads == 1
