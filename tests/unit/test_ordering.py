"""A conversation room's messages leave this node in seq order, whatever order
their frames came in (two webhooks published in the other order, a message of
another node overtaken by one stored here, a frame the broker lost)."""

from __future__ import annotations

import asyncio

from livechat_ext.realtime.ordering import Fill, RoomOrder

ROOM = "conversation:U1"


class Sockets:
    """What the room's sockets were handed, in order; awaits a count of frames."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, room: str, frame: str, exclude: str | None, scope: str | None) -> None:
        assert room == ROOM
        self.frames.append(frame)
        self._changed.set()

    async def count(self, n: int) -> None:
        while len(self.frames) < n:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), 5)


def opened(sockets: Sockets, last_seq: int = 0, wait: float = 60.0) -> RoomOrder:
    order = RoomOrder(sockets, wait=wait)
    order.open(ROOM)
    order.reading(ROOM)
    order.baseline(ROOM, last_seq)
    return order


def every_message(asked: list[tuple[int, int]]) -> Fill:
    """A store that has every message: a fill that notes each range it is asked."""

    async def fill(room: str, after_seq: int, before_seq: int) -> list[tuple[int, str]]:
        asked.append((after_seq, before_seq))
        return [(seq, f"m{seq} from the store") for seq in range(after_seq + 1, before_seq)]

    return fill


async def test_a_message_that_overtook_its_predecessor_waits_for_it() -> None:
    sockets = Sockets()
    order = opened(sockets, last_seq=4)
    order.offer(ROOM, 5, "m5", None)
    order.offer(ROOM, 7, "m7", None)
    order.offer(ROOM, 8, "m8", None)
    assert sockets.frames == ["m5"] and order.waiting(ROOM) == 2
    order.offer(ROOM, 6, "m6", None)
    assert sockets.frames == ["m5", "m6", "m7", "m8"] and order.waiting(ROOM) == 0
    order.close(ROOM)


async def test_a_change_of_a_delivered_message_goes_out_at_once() -> None:
    """Status changes reuse the message's seq: only new messages wait."""
    sockets = Sockets()
    order = opened(sockets, last_seq=2)
    order.offer(ROOM, 4, "m4", None)
    order.offer(ROOM, 2, "m2 sent", None)  # an update of one the history had
    assert sockets.frames == ["m2 sent"]
    order.offer(ROOM, 4, "m4 sent", None)  # waits behind its own first frame
    order.offer(ROOM, 3, "m3", None)
    assert sockets.frames == ["m2 sent", "m3", "m4", "m4 sent"]
    order.close(ROOM)


async def test_until_the_joins_read_where_the_room_stands_frames_wait() -> None:
    sockets = Sockets()
    order = RoomOrder(sockets, wait=60)
    order.open(ROOM)
    order.reading(ROOM)  # the join that made the room
    order.reading(ROOM)  # a second join, at the same moment
    order.offer(ROOM, 12, "m12", None)
    order.offer(ROOM, 10, "m10", None)
    order.baseline(ROOM, 11)  # the first read last_seq 11 before its history
    assert sockets.frames == []
    order.baseline(ROOM, 9)  # the second read 9: its history may end there
    assert sockets.frames == ["m10"]  # from 10 on, in order, for both
    order.offer(ROOM, 11, "m11", None)
    order.offer(ROOM, 13, "m13", None)
    assert sockets.frames == ["m10", "m11", "m12", "m13"]
    order.close(ROOM)


async def test_a_join_whose_read_failed_leaves_the_start_to_the_others() -> None:
    sockets = Sockets()
    order = RoomOrder(sockets, wait=60)
    order.open(ROOM)
    order.reading(ROOM)
    order.reading(ROOM)
    order.offer(ROOM, 4, "m4", None)
    order.baseline(ROOM, None)  # the store failed that join: it leaves the room
    assert sockets.frames == []
    order.baseline(ROOM, 3)
    assert sockets.frames == ["m4"]
    order.close(ROOM)


async def test_a_predecessor_that_never_comes_is_read_from_the_store() -> None:
    sockets = Sockets()
    asked: list[tuple[int, int]] = []
    fill = every_message(asked)

    order = opened(sockets, last_seq=1, wait=0.0)
    order.fill = fill
    order.offer(ROOM, 4, "m4", None)  # 2 and 3 were lost on the way
    await sockets.count(3)
    assert sockets.frames == ["m2 from the store", "m3 from the store", "m4"]
    assert asked == [(1, 4)]
    order.close(ROOM)


async def test_a_message_read_from_the_store_is_not_received_twice() -> None:
    """After a broker outage the publisher sends what it queued: a message the
    room already read from the store comes again. Its `message_received` is not
    sent a second time (PROTOCOL.md); a change of it (`message_updated`) is."""
    sockets = Sockets()
    order = opened(sockets, last_seq=1, wait=0.0)
    order.fill = every_message([])
    received = '{"type":"message_received","payload":{"message":{"seq":%d}}}'
    updated = '{"type":"message_updated","payload":{"message":{"seq":2,"read":true}}}'
    order.offer(ROOM, 4, received % 4, None)  # 2 and 3 were lost on the way
    await sockets.count(3)
    assert sockets.frames == ["m2 from the store", "m3 from the store", received % 4]

    order.offer(ROOM, 2, received % 2, None)  # the lost frames turn up late
    order.offer(ROOM, 3, received % 3, None)
    order.offer(ROOM, 2, updated, None)
    assert sockets.frames[3:] == [updated]
    order.close(ROOM)


async def test_every_gap_is_read_at_once() -> None:
    """After a broker outage every other message of a busy room can be missing:
    one read fills all the gaps below the newest waiting frame, instead of one
    read (and one wait) per gap."""
    sockets = Sockets()
    asked: list[tuple[int, int]] = []
    fill = every_message(asked)

    order = opened(sockets, last_seq=0, wait=0.0)
    order.fill = fill
    for seq in (2, 4, 6, 8):  # 1, 3, 5 and 7 were lost on the way
        order.offer(ROOM, seq, f"m{seq}", None)
    await sockets.count(8)
    assert sockets.frames == [
        "m1 from the store", "m2", "m3 from the store", "m4",
        "m5 from the store", "m6", "m7 from the store", "m8",
    ]  # fmt: skip
    assert asked == [(0, 8)]
    order.close(ROOM)


async def test_a_long_gap_is_read_page_by_page_and_a_missing_seq_is_given_up() -> None:
    """A read that stops short (the history limit) is read on at once from where
    it stopped; a seq inside what a read covered that the store does not have is
    skipped, never waited for again."""
    sockets = Sockets()
    stored = {1, 2, 4, 5, 6}  # 3 is in no store (never expected)
    asked: list[tuple[int, int]] = []

    async def fill(room: str, after_seq: int, before_seq: int) -> list[tuple[int, str]]:
        asked.append((after_seq, before_seq))
        seqs = [seq for seq in sorted(stored) if after_seq < seq < before_seq]
        return [(seq, f"m{seq} from the store") for seq in seqs[:3]]  # a limit of 3

    order = opened(sockets, last_seq=0, wait=0.0)
    order.fill = fill
    order.offer(ROOM, 7, "m7", None)
    order.wait = 60.0  # the first read is due at once; the second must not wait either
    await sockets.count(6)
    assert sockets.frames == [
        "m1 from the store", "m2 from the store", "m4 from the store",
        "m5 from the store", "m6 from the store", "m7",
    ]  # fmt: skip
    assert asked == [(0, 7), (4, 7)]
    order.close(ROOM)


async def test_while_the_store_cannot_be_read_the_frames_keep_waiting() -> None:
    sockets = Sockets()
    answers: list[Exception | None] = [ConnectionError("the database is down"), None]

    async def fill(room: str, after_seq: int, before_seq: int) -> list[tuple[int, str]]:
        failure = answers.pop(0)
        if failure is not None:
            raise failure
        return [(2, "m2 from the store")]

    order = opened(sockets, last_seq=1, wait=0.0)
    order.fill = fill
    order.offer(ROOM, 3, "m3", None)
    await sockets.count(2)
    assert sockets.frames == ["m2 from the store", "m3"]  # asked again, never skipped
    assert answers == []
    order.close(ROOM)


def test_a_room_without_local_sockets_orders_nothing() -> None:
    sockets = Sockets()
    order = RoomOrder(sockets)
    order.offer(ROOM, 9, "m9", None)  # no stream: handed on (the hub finds no member)
    assert sockets.frames == ["m9"]
    order.open(ROOM)  # joined without reading the store (no join is reading)
    order.offer(ROOM, 7, "m7", None)
    assert sockets.frames == ["m9", "m7"]  # nothing to order after: handed on


async def test_a_senders_confirmation_waits_for_the_messages_before_its_own() -> None:
    """`message_sent` goes to the sender alone, not through the room: it must not
    overtake seq 9 still on its way, or the sender's highest seq would skip it."""
    sockets = Sockets()
    order = opened(sockets, last_seq=8)
    confirmed: list[str] = []
    order.offer(ROOM, 10, "m10 pending", "sender")
    order.after(ROOM, 10, lambda: confirmed.append("message_sent 10"))
    assert confirmed == []
    order.offer(ROOM, 9, "m9", None)
    assert sockets.frames == ["m9", "m10 pending"] and confirmed == ["message_sent 10"]
    order.after(ROOM, 10, lambda: confirmed.append("again"))  # passed already: at once
    assert confirmed[-1] == "again"
    order.offer(ROOM, 12, "m12", None)
    order.after(ROOM, 12, lambda: confirmed.append("message_sent 12"))
    order.close(ROOM)  # the room emptied: nothing to wait for
    assert confirmed[-1] == "message_sent 12"
