"""The node's one timer for every session deadline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from livechat_ext.realtime.deadlines import Deadlines


@dataclass
class Due:
    at: float | None

    def next_deadline(self) -> float | None:
        return self.at


async def test_keys_expire_in_deadline_order_on_one_timer():
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    done = asyncio.Event()

    def expire(key: str, now: float) -> None:
        fired.append(key)
        if len(fired) == 3:
            done.set()

    deadlines = Deadlines(expire)
    base = loop.time()
    for key, offset in (("c", 0.03), ("a", 0.01), ("gone", 0.015), ("b", 0.02)):
        deadlines.watch(key, Due(base + offset))
    deadlines.forget("gone")
    await asyncio.wait_for(done.wait(), 5)
    assert fired == ["a", "b", "c"]
    assert deadlines.pending == 0
    deadlines.close()


def test_an_earlier_deadline_supersedes_a_later_one_and_a_later_one_waits():
    fired: list[tuple[str, float]] = []
    deadlines = Deadlines(lambda key, now: fired.append((key, now)), clock=lambda: 0.0)
    deadlines._arm = lambda when: None  # type: ignore[method-assign]  # driven by hand below
    deadlines.watch("k", Due(10.0))
    deadlines.watch("k", Due(20.0))  # later: the filed 10.0 stays and ticks early
    deadlines.watch("k", Due(5.0))  # earlier: filed
    deadlines.run_due(9.0)
    assert fired == [("k", 9.0)]  # once, for the 5.0 entry; 10.0 is superseded
    deadlines.run_due(30.0)
    assert fired == [("k", 9.0)]
    deadlines.watch("closed", Due(None))
    assert deadlines.pending == 0
