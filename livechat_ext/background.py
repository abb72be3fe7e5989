"""Background loops and shutdown steps that always end.

`Task.cancel()` alone is not enough to stop a loop: on Python 3.11,
`asyncio.wait_for` returns normally when the cancel arrives just as the awaited
call finishes (CPython gh-86296, fixed in 3.12), and redis-py wraps every socket
write in it. The cancel is then lost and a loop that next waits for work waits
forever. So each loop also watches a stop event, and every wait at shutdown has
a bound: what still runs after it is logged with its stack and abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Coroutine
from typing import Any

from .errors import describe

log = logging.getLogger("livechat_ext.background")


class Loops:
    """Background loops sharing one stop event. A loop runs `while loops.running`
    and sleeps with `pause`, so it returns once `stop` is called even when a
    dependency swallowed the cancellation that `stop` also sends."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return not self.stopping.is_set()

    def start(self, loop: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `loop` in the background until `stop`."""
        task = asyncio.get_running_loop().create_task(loop)
        task.add_done_callback(self._done)
        self._tasks.append(task)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: a background loop failed", self.what, exc_info=task.exception())

    async def pause(self, seconds: float) -> bool:
        """Sleep up to `seconds`, less if stopped; whether the loop should go on."""
        if self.running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self.stopping.wait()
        return self.running

    async def stop(self, grace: float = 2.0) -> None:
        """Stop every loop; one that has not ended `grace` seconds after its
        cancellation is logged and abandoned."""
        self.stopping.set()
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks, self.what, grace)


Spawn = Callable[[Coroutine[Any, Any, Any]], object]


class Tasks:
    """Work the plugin runs in the background (profile look-ups, the loading
    animation, presence and visibility checks, deliveries), kept until it ends:
    a failure is logged with its traceback, and `close` ends what is left."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` in the background."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: a background task failed", self.what, exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self, drain: float = 0.0, grace: float = 1.0) -> None:
        """Give running tasks `drain` seconds to end, then cancel the rest."""
        pending = set(self._tasks)
        if pending and drain > 0:
            _, pending = await asyncio.wait(pending, timeout=drain)
        await stop_tasks(pending, self.what, grace)


async def stop_tasks(tasks: Collection[asyncio.Task[Any]], what: str, grace: float) -> None:
    """Cancel `tasks` and wait up to `grace` seconds for them. A task still
    running then ignored its cancellation: log where it is stuck, leave it."""
    live = [task for task in tasks if not task.done()]
    for task in live:
        task.cancel()
    if not live:
        return
    await asyncio.wait(live, timeout=grace)
    for task in live:
        if not task.done():
            log.warning(
                "%s: %s ignored its cancellation for %.1fs; abandoned at:\n%s",
                what,
                task.get_name(),
                grace,
                stack_of(task),
            )


async def bounded(step: Coroutine[Any, Any, Any], seconds: float, what: str) -> bool:
    """Run one shutdown step for at most `seconds`; False if it failed or was
    abandoned (both logged). The step runs in a task of its own so that one that
    swallows cancellation cannot hold up its caller (`asyncio.timeout` could not
    end it: it works by cancelling)."""
    task = asyncio.get_running_loop().create_task(step)
    try:
        await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not task.done():
        log.warning(
            "%s did not finish within %.1fs; abandoned at:\n%s", what, seconds, stack_of(task)
        )
        task.cancel()
        return False
    if task.cancelled():
        log.warning("%s was cancelled", what)
        return False
    exc = task.exception()
    if exc is not None:
        log.warning("%s failed (%s)", what, describe(exc), exc_info=exc)
        return False
    return True


def stack_of(task: asyncio.Task[Any]) -> str:
    """Where a task is suspended, down the whole chain of awaits (a task's own
    stack shows only its outermost coroutine), for a log line."""
    lines = []
    awaiting: Any = task.get_coro()
    while awaiting is not None:
        frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}')
        awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "gi_yieldfrom", None)
    lines.append(f"  waiting for {getattr(task, '_fut_waiter', None)!r}")
    return "\n".join(lines)


__all__ = ["Loops", "Spawn", "Tasks", "bounded", "stack_of", "stop_tasks"]
