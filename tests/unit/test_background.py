"""Background loops and shutdown steps end even when a dependency swallows the
cancellation meant to stop them (as `asyncio.wait_for` can on Python 3.11)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from livechat_ext.background import Loops, bounded, stop_tasks


async def swallows_cancel(entered: asyncio.Event, release: asyncio.Event) -> None:
    """A dependency that returns normally when cancelled, once."""
    entered.set()
    try:
        await release.wait()
    except asyncio.CancelledError:
        pass


async def ignores_cancel(entered: asyncio.Event, release: asyncio.Event) -> None:
    """A dependency that never lets a cancellation through."""
    entered.set()
    while not release.is_set():
        try:
            await release.wait()
        except asyncio.CancelledError:
            continue


async def test_a_loop_whose_dependency_swallowed_the_cancel_still_stops() -> None:
    loops = Loops("test")
    entered, release = asyncio.Event(), asyncio.Event()
    turns = 0

    async def loop() -> None:
        nonlocal turns
        while loops.running:
            turns += 1
            await swallows_cancel(entered, release)
            await loops.pause(3600)  # a plain `await event.wait()` here hangs forever

    task = loops.start(loop())
    await entered.wait()
    await loops.stop(grace=30)  # a generous bound: only a hang reaches it
    assert task.done() and not task.cancelled()
    assert turns == 1


async def test_a_task_that_ignores_cancellation_is_logged_and_abandoned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    stuck = asyncio.create_task(ignores_cancel(entered, release), name="stuck-loop")
    await entered.wait()
    with caplog.at_level(logging.WARNING, "livechat_ext.background"):
        await stop_tasks([stuck], "test loops", grace=0.05)
    assert not stuck.done()  # abandoned, not waited for
    [record] = caplog.records
    assert "stuck-loop ignored its cancellation" in record.getMessage()
    assert "in ignores_cancel" in record.getMessage()  # where it is stuck
    release.set()
    await stuck


async def test_a_shutdown_step_that_hangs_is_abandoned(caplog: pytest.LogCaptureFixture) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    with caplog.at_level(logging.WARNING, "livechat_ext.background"):
        finished = await bounded(ignores_cancel(entered, release), 0.05, "closing a thing")
    assert finished is False
    assert "closing a thing did not finish within" in caplog.records[0].getMessage()
    abandoned = asyncio.all_tasks() - {asyncio.current_task()}
    assert len(abandoned) == 1
    release.set()
    await asyncio.gather(*abandoned)


async def test_a_failed_shutdown_step_names_its_cause_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def step() -> None:
        raise TimeoutError  # no text of its own

    with caplog.at_level(logging.WARNING, "livechat_ext.background"):
        assert await bounded(step(), 5, "closing a thing") is False
    [record] = caplog.records
    assert record.getMessage() == "closing a thing failed (TimeoutError)"
    assert record.exc_info is not None and record.exc_info[0] is TimeoutError


async def test_a_step_that_finishes_is_reported_done() -> None:
    done = asyncio.Event()

    async def step() -> None:
        done.set()

    assert await bounded(step(), 5, "a step") is True
    assert done.is_set()
