"""One timer for every deadline of this node's sessions.

Sessions say when they next need a `tick` (`next_deadline`); the scheduler
keeps those times in a heap and wakes once for the earliest, instead of two
timer handles per connection. An entry whose session moved its deadline
later (activity) just ticks early, finds nothing due and is filed again.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Protocol


class Timed(Protocol):
    def next_deadline(self) -> float | None: ...


class Deadlines:
    """Calls `expire(key, now)` at (or soon after) each key's deadline.

    `clock` is the event loop's monotonic clock unless a test passes its own;
    `expire` must not raise."""

    def __init__(
        self,
        expire: Callable[[str, float], None],
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._expire = expire
        self._clock = clock
        self._heap: list[tuple[float, int, str]] = []
        self._filed: dict[str, float] = {}  # key -> earliest deadline in the heap
        self._counter = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None

    def now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    def watch(self, key: str, timed: Timed) -> None:
        """File `key` for its next deadline unless an earlier one is filed already."""
        due = timed.next_deadline()
        if due is None:
            return
        filed = self._filed.get(key)
        if filed is not None and filed <= due:
            return
        self._filed[key] = due
        heapq.heappush(self._heap, (due, next(self._counter), key))
        if self._armed_at is None or due < self._armed_at:
            self._arm(due)

    def forget(self, key: str) -> None:
        """The key is gone; its heap entries are skipped when they come up."""
        self._filed.pop(key, None)

    def run_due(self, now: float) -> None:
        """Expire every key whose filed deadline has come (the timer calls this)."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, key = heapq.heappop(heap)
            if self._filed.get(key) != due:
                continue  # superseded by an earlier entry, or forgotten
            del self._filed[key]
            self._expire(key, now)

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._armed_at = when
        self._timer = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = self._armed_at = None
        self.run_due(self.now())
        if self._heap:
            self._arm(self._heap[0][0])

    @property
    def pending(self) -> int:
        return len(self._filed)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._armed_at = None
        self._heap.clear()
        self._filed.clear()
