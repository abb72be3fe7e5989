import asyncio

from livechat_ext.presence import Presence
from livechat_ext.typing_indicator import TypingTracker


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.event = asyncio.Event()

    def __call__(self, *args) -> None:
        self.calls.append(args)
        self.event.set()

    async def next(self, timeout: float = 2.0) -> tuple:
        await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()
        return self.calls[-1]


async def test_typing_expires_by_itself():
    rec = Recorder()
    tracker = TypingTracker(0.05, rec)
    assert tracker.start("U1", "alice", "c1") is True
    assert tracker.typing_in("U1") == ["alice"]
    assert await rec.next() == ("U1", "alice", False)
    assert tracker.typing_in("U1") == []


async def test_typing_restart_rearms_and_is_not_announced_twice():
    rec = Recorder()
    tracker = TypingTracker(60, rec)
    assert tracker.start("U1", "alice", "c1") is True
    assert tracker.start("U1", "alice", "c1") is False
    assert tracker.stop("U1", "alice") is True
    assert tracker.stop("U1", "alice") is False
    assert rec.calls == []
    tracker.close()


async def test_typing_stops_when_connection_closes():
    rec = Recorder()
    tracker = TypingTracker(60, rec)
    tracker.start("U1", "alice", "c1")
    tracker.start("U2", "alice", "c1")
    tracker.start("U1", "bob", "c2")
    tracker.connection_closed("c1")
    assert sorted(rec.calls) == [("U1", "alice", False), ("U2", "alice", False)]
    assert tracker.typing_in("U1") == ["bob"]
    tracker.close()


async def test_remote_typing_expires_quietly():
    rec = Recorder()
    tracker = TypingTracker(0.01, rec)
    tracker.start("U1", "alice", None)
    tracker.start("U1", "bob", "c1")
    assert await rec.next() == ("U1", "bob", False)
    assert rec.calls == [("U1", "bob", False)]


async def test_presence_online_once_offline_after_grace():
    rec = Recorder()
    presence = Presence(0.05, rec)
    presence.connected("alice")
    presence.connected("alice")
    assert rec.calls == [("alice", "online", None)]
    presence.disconnected("alice")
    assert presence.is_online("alice")
    presence.disconnected("alice")
    assert presence.is_online("alice")  # inside the grace
    rec.event.clear()
    admin, status, last_seen = await rec.next()
    assert (admin, status) == ("alice", "offline") and last_seen is not None
    assert not presence.is_online("alice")
    assert presence.snapshot() == [("alice", "offline", last_seen)]


async def test_reload_within_grace_announces_nothing():
    rec = Recorder()
    presence = Presence(60, rec)
    presence.connected("alice")
    presence.disconnected("alice")
    presence.connected("alice")
    assert rec.calls == [("alice", "online", None)]
    presence.close()


async def test_zero_grace_is_immediate():
    rec = Recorder()
    presence = Presence(0, rec)
    presence.connected("bob")
    presence.disconnected("bob")
    assert [c[1] for c in rec.calls] == ["online", "offline"]
