"""Per-conversation order on this node: a conversation room's messages reach its
sockets in `seq` order, whichever node stored them and whichever frame came first.

The store gives each message its `seq` in one order, but the frames travel by
several paths: two webhooks for one user are stored in one order and may be
published in the other, and a message stored on another node comes through
the broker while one stored here is delivered at once. A frame that comes
before its predecessor waits (at most `wait` seconds); a predecessor that does
not come by then (lost with a broker outage, or with a node that died between
storing and publishing) is read from the store. A client that keeps the
highest `seq` it has seen can then catch up with `after_seq` and never skip one.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..protocol.server import MessageReceived, encode

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("livechat_ext.realtime.ordering")

GAP_WAIT = 1.0
"""Seconds a frame waits for its predecessor before that one is read from the store."""
_FILLED_KEEP = 1000
"""Seqs read from the store that a room remembers, in case their own frame still comes."""
_RECEIVED = '{"type":"message_received",'

Deliver = Callable[[str, str, str | None, str | None], object]
"""(room, frame, exclude, scope): hand a frame to the room's sockets now."""
Fill = Callable[[str, int, int], Awaitable[list[tuple[int, str]]]]
"""(room, after_seq, before_seq): the frames of the messages in between, by seq."""


@dataclass
class _Stream:
    next: int | None = None  # the next seq to deliver; None until the joins read the store
    readers: int = 0  # joins reading the store before `next` is known
    low: int | None = None  # the lowest last_seq those joins read
    waiting: list[tuple[int, int, str, str | None, str | None]] = field(default_factory=list)
    timer: asyncio.Handle | None = None
    filling: bool = False
    after: list[tuple[int, Callable[[], object]]] = field(default_factory=list)
    # seqs handed out from the store: their own `message_received` may still come
    # (published late, after a broker outage) and must not be sent a second time
    filled: dict[int, None] = field(default_factory=dict)


class RoomOrder:
    """The order of every local conversation room. A room's stream starts when
    its first socket joins (`open`), learns where it stands from the store reads
    of the joins (`reading`, then `baseline`), and ends with its last socket
    (`close`).

    Frames whose `seq` was delivered already (a status change of a message, a
    repeat at a join's boundary) go out at once: only new messages wait."""

    def __init__(
        self, deliver: Deliver, *, fill: Fill | None = None, wait: float = GAP_WAIT
    ) -> None:
        self._deliver = deliver
        self.wait = wait
        self.fill = fill  # reads what a room waits for from the store (None: waits only)
        self._streams: dict[str, _Stream] = {}
        self._arrival = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()

    def open(self, room: str) -> None:
        self._streams.setdefault(room, _Stream())

    def close(self, room: str) -> None:
        stream = self._streams.pop(room, None)
        if stream is None:
            return
        if stream.timer is not None:
            stream.timer.cancel()
        for _, action in stream.after:
            action()  # nobody here waits for the room any more

    def after(self, room: str, seq: int, action: Callable[[], object]) -> None:
        """Run `action` once the room's sockets were handed every message up to
        `seq` (at once if they were, or if the room is not open here): the
        sender's `message_sent` must not overtake an earlier message either."""
        stream = self._streams.get(room)
        if stream is None or (stream.next is not None and seq < stream.next):
            action()
        else:
            stream.after.append((seq, action))

    def reading(self, room: str) -> None:
        """A join is about to read the conversation from the store."""
        stream = self._streams.get(room)
        if stream is not None and stream.next is None:
            stream.readers += 1

    def baseline(self, room: str, last_seq: int | None) -> None:
        """A join's read ended: the conversation's `last_seq`, read before its
        history, so every message up to it is in that history (None: the read
        failed). The first joins of a room set where it starts: after the lowest
        `last_seq` they read, so that none of them misses a message."""
        stream = self._streams.get(room)
        if stream is None or stream.next is not None:
            return
        stream.readers -= 1
        if last_seq is not None:
            stream.low = last_seq if stream.low is None else min(stream.low, last_seq)
        if stream.readers <= 0 and stream.low is not None:
            stream.next = stream.low + 1
            self._flush(room, stream)

    def offer(
        self, room: str, seq: int, frame: str, exclude: str | None, scope: str | None = None
    ) -> None:
        """Deliver a message's frame now, or once the messages before it were.
        A `message_received` of a message already read from the store is dropped
        (PROTOCOL.md: never sent twice); its changes (`message_updated`) go out."""
        stream = self._streams.get(room)
        if stream is not None and seq in stream.filled and frame.startswith(_RECEIVED):
            del stream.filled[seq]
            return
        if stream is None or (seq < stream.next if stream.next is not None else not stream.readers):
            self._deliver(room, frame, exclude, scope)  # nothing to order it after
            return
        heapq.heappush(stream.waiting, (seq, next(self._arrival), frame, exclude, scope))
        self._flush(room, stream)

    def waiting(self, room: str) -> int:
        stream = self._streams.get(room)
        return len(stream.waiting) if stream is not None else 0

    def _flush(self, room: str, stream: _Stream) -> None:
        waiting = stream.waiting
        while stream.next is not None and waiting and waiting[0][0] <= stream.next:
            seq, _, frame, exclude, scope = heapq.heappop(waiting)
            if seq == stream.next:
                stream.next += 1
            self._deliver(room, frame, exclude, scope)
        if stream.after and stream.next is not None:
            due = [a for a in stream.after if a[0] < stream.next]
            stream.after = [a for a in stream.after if a[0] >= stream.next]
            for _, action in due:
                action()
        if not waiting or stream.next is None:
            if stream.timer is not None:
                stream.timer.cancel()
                stream.timer = None
        elif stream.timer is None and not stream.filling:
            loop = asyncio.get_running_loop()
            stream.timer = loop.call_later(self.wait, self._gap, room, stream)

    def _gap(self, room: str, stream: _Stream) -> None:
        stream.timer = None
        if self._streams.get(room) is not stream or not stream.waiting:
            return
        stream.filling = True
        task = asyncio.get_running_loop().create_task(self._fill_gap(room, stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fill_gap(self, room: str, stream: _Stream) -> None:
        """Read every message the room is waiting for, in one read: all the gaps
        below the newest waiting frame (after a broker outage every other message
        of a busy room can be missing; one read per gap would hand them out one
        a second). While the store cannot be read the frames keep waiting (and it
        is asked again); what the store does not have (never expected: a seq is
        taken with its message) is given up."""
        assert stream.next is not None
        found: list[tuple[int, str]] | None = []
        if self.fill is not None:
            newest = max(seq for seq, *_ in stream.waiting)
            try:
                found = await self.fill(room, stream.next - 1, newest)
            except Exception:
                log.exception("could not read the messages %s is waiting for", room)
                found = None
        stream.filling = False
        if self._streams.get(room) is not stream or not stream.waiting:
            return  # the room emptied, or the frames came meanwhile
        if found is None:
            stream.timer = asyncio.get_running_loop().call_later(self.wait, self._gap, room, stream)
            return
        assert stream.next is not None
        waiting = {seq for seq, *_ in stream.waiting}
        for seq, frame in found:  # the waiting frames keep their own (exclude, scope)
            if seq >= stream.next and seq not in waiting:
                heapq.heappush(stream.waiting, (seq, next(self._arrival), frame, None, None))
                waiting.add(seq)
                stream.filled[seq] = None
        while len(stream.filled) > _FILLED_KEEP:
            del stream.filled[next(iter(stream.filled))]  # the oldest: long overdue
        # the read covered every seq up to its last message (all of the range when
        # it found none): a gap in there is not in the store
        read_to = found[-1][0] if found else None
        self._flush(room, stream)
        while stream.waiting and stream.next is not None and stream.waiting[0][0] > stream.next:
            if read_to is not None and stream.next > read_to:
                # the read stopped short of a long gap (the history limit): read on
                # at once, not after another wait
                if stream.timer is not None:
                    stream.timer.cancel()
                stream.timer = asyncio.get_running_loop().call_soon(self._gap, room, stream)
                break
            log.warning("%s: messages %d to %d not found", room, stream.next, stream.waiting[0][0])
            stream.next = stream.waiting[0][0]
            self._flush(room, stream)

    def close_all(self) -> None:
        for room in list(self._streams):
            self.close(room)
        for task in self._tasks:
            task.cancel()


def from_store(store: Store, limit: int) -> Fill:
    """A `Fill` that reads the messages a room waits for from the store (at most
    `limit` of them). They go to every socket of the room, the sender's too."""
    from .hub import conversation_of

    async def fill(room: str, after_seq: int, before_seq: int) -> list[tuple[int, str]]:
        line_user_id = conversation_of(room)
        if line_user_id is None or before_seq - after_seq <= 1:
            return []
        page = await store.history(
            line_user_id,
            limit=min(before_seq - after_seq - 1, limit),
            after_seq=after_seq,
            before_seq=before_seq,
        )
        return [(m.seq, encode(MessageReceived(message=m))) for m in page.messages]

    return fill


__all__ = ["GAP_WAIT", "RoomOrder", "from_store"]
