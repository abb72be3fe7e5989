"""Reads of the same thing asked for at the same time, made once.

A reconnect storm has every operator join the same few conversations at
once; each join reads the conversation and its history after joining the room
(so that no message falls between the two). A join may share a read only if
that read began after the join asked for it: a caller never gets a read that
was already in flight, it waits for the next one, which serves everyone who
asked meanwhile. Per key, one read runs at a time and at most one waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ReadAbandoned(RuntimeError):
    """The shared read was stopped (shutdown) before it had an answer: what its
    waiters get instead of a cancellation none of them asked for."""


class SharedReads(Generic[T]):
    def __init__(self) -> None:
        self._running: set[Hashable] = set()
        self._tasks: set[asyncio.Task[T]] = set()  # the reads running (kept: not collected)
        self._waiting: dict[Hashable, tuple[asyncio.Future[T], Callable[[], Awaitable[T]]]] = {}
        self.reads = 0  # reads made (for tests and metrics)

    async def read(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """`read()`'s result, from a read that starts after this call."""
        waiting = self._waiting.get(key)
        if waiting is None:
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            future.add_done_callback(_retrieve)  # every waiter may have gone
            waiting = self._waiting[key] = (future, read)
            if key not in self._running:
                self._start(key)
        return await asyncio.shield(waiting[0])

    def _start(self, key: Hashable) -> None:
        future, read = self._waiting.pop(key)
        self._running.add(key)
        self.reads += 1
        task = asyncio.ensure_future(read())
        self._tasks.add(task)

        def done(task: asyncio.Task[T]) -> None:
            self._tasks.discard(task)
            self._running.discard(key)
            if future.done():  # failed by `close`
                pass
            elif task.cancelled():  # not by a waiter (they wait shielded): shutdown
                future.set_exception(ReadAbandoned("the shared read was stopped"))
            elif (exc := task.exception()) is not None:
                future.set_exception(exc)
            else:
                future.set_result(task.result())
            if key in self._waiting:  # asked for while this one ran: the next read
                self._start(key)

        task.add_done_callback(done)

    async def close(self) -> None:
        """Stop the reads running and fail their waiters and those waiting for the
        next read with `ReadAbandoned` (at shutdown)."""
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            future.set_exception(ReadAbandoned("shutting down"))
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


__all__ = ["ReadAbandoned", "SharedReads"]
