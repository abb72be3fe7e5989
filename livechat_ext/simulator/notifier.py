"""Fan-out of what the fake accepts: wait for a condition, or subscribe to a queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Notifier(Generic[T]):
    """Wakes waiters and feeds subscriber queues on each `publish`.

    Nothing is bound to an event loop at construction, so one object can serve
    several loops over its life (one per test, for example).
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()
        self._subscribers: set[asyncio.Queue[T]] = set()

    def publish(self, item: T) -> None:
        for waiter in self._waiters:
            waiter.set()
        for queue in self._subscribers:
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                logger.warning("a fake LINE subscriber is full; dropping an event")

    # A built-in timeout keeps a forgotten wrapper from hanging a test forever.
    async def wait_until(self, done: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
        """Return once `done()` is true, checked after each publish; raises TimeoutError."""
        async with asyncio.timeout(timeout):
            while not done():
                event = asyncio.Event()
                self._waiters.add(event)
                try:
                    await event.wait()
                finally:
                    self._waiters.discard(event)

    @contextlib.contextmanager
    def subscribe(self, maxsize: int = 1000) -> Iterator[asyncio.Queue[T]]:
        """A queue that receives every published item while the block runs."""
        queue: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


__all__ = ["Notifier"]
