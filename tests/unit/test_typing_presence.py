import asyncio
import logging

import pytest

from livechat_ext.errors import BrokerError
from livechat_ext.realtime.presence import Presence
from livechat_ext.realtime.typing_indicator import Ended, TypingTracker


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


def test_typing_expires_by_itself():
    tracker = TypingTracker(5.0)
    assert tracker.start("U1", "alice", "c1", now=0.0) is True
    assert tracker.typing_in("U1") == ["alice"]
    assert tracker.next_deadline() == 5.0
    assert tracker.expire(4.9) == []
    assert tracker.expire(5.0) == [Ended("U1", "alice", local=True)]
    assert tracker.typing_in("U1") == [] and tracker.next_deadline() is None


def test_typing_restart_rearms_and_is_not_announced_twice():
    tracker = TypingTracker(5.0)
    assert tracker.start("U1", "alice", "c1", now=0.0) is True
    assert tracker.start("U1", "alice", "c1", now=3.0) is False
    assert tracker.expire(5.0) == []  # re-armed until 8.0
    assert tracker.next_deadline() == 8.0
    assert tracker.stop("U1", "alice") is True
    assert tracker.stop("U1", "alice") is False


def test_typing_stops_when_connection_closes():
    tracker = TypingTracker(60)
    tracker.start("U1", "alice", "c1", 0.0)
    tracker.start("U2", "alice", "c1", 0.0)
    tracker.start("U1", "bob", "c2", 0.0)
    assert sorted(tracker.connection_closed("c1")) == [("U1", "alice"), ("U2", "alice")]
    assert tracker.typing_in("U1") == ["bob"]


def test_another_nodes_typing_lasts_a_little_longer_and_ends_as_remote():
    tracker = TypingTracker(5.0)
    tracker.start("U1", "alice", None, 0.0)
    tracker.start("U1", "bob", "c1", 0.0)
    assert tracker.expire(5.0) == [Ended("U1", "bob", local=True)]
    assert tracker.expire(6.0) == [Ended("U1", "alice", local=False)]
    assert len(tracker) == 0


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


async def test_a_presence_change_the_cluster_missed_is_republished_at_the_next_beat(tmp_path):
    """Redis fails while an operator leaves: the node tells its own sockets, and its
    next heartbeat republishes its whole state so no other node keeps listing them."""
    from livechat_ext.broker import MemoryBroker
    from livechat_ext.broker.memory import MemoryCluster
    from livechat_ext.realtime.cluster_sync import ClusterSync
    from livechat_ext.realtime.hub import Hub
    from livechat_ext.realtime.team import Team
    from tests.helpers import make_settings

    class FlakyCluster(MemoryCluster):
        fail = False

        async def set_operator(self, node: str, admin_id: str, connections: int) -> bool:
            if self.fail:
                raise BrokerError("redis is down")
            return await super().set_operator(node, admin_id, connections)

    cluster = FlakyCluster()
    hub = Hub(MemoryBroker(), "A")
    sync = ClusterSync(
        cluster,
        "A",
        60,
        local_state=lambda: ({a: team.presence.connections(a) for a in ("dana",)}, []),
        on_orphans=lambda orphans: asyncio.sleep(0),
        on_rejoin=lambda: asyncio.sleep(0),
    )
    team = Team(make_settings(tmp_path, presence_grace=0), hub, asyncio.ensure_future, sync)
    await sync.start()
    team.presence.connected("dana")
    await sync.settle()
    assert await cluster.online_operators() == {"dana"}
    cluster.fail = True
    team.presence.disconnected("dana")
    await sync.settle()
    assert await cluster.online_operators() == {"dana"}  # the cluster missed it
    cluster.fail = False
    await sync._beat()  # what the heartbeat loop runs every ttl / 3
    assert await cluster.online_operators() == set()
    await sync.stop()


@pytest.mark.parametrize(
    ("failure", "cause"),
    [("hang", "no answer within 0.5s"), ("empty", "TimeoutError"), ("text", "BrokerError: down")],
)
async def test_a_cluster_read_that_fails_is_logged_with_its_cause(tmp_path, caplog, failure, cause):
    """A failure whose text is empty (a timeout) still names its cause, and the
    warning carries the traceback."""
    from livechat_ext.broker import MemoryBroker
    from livechat_ext.broker.memory import MemoryCluster
    from livechat_ext.realtime.cluster_sync import ClusterSync
    from livechat_ext.realtime.hub import Hub
    from livechat_ext.realtime.team import Team
    from tests.helpers import make_settings

    class FailingCluster(MemoryCluster):
        async def room_open(self, line_user_id: str) -> bool:
            if failure == "hang":
                await asyncio.Event().wait()
            raise TimeoutError if failure == "empty" else BrokerError("down")

    sync = ClusterSync(
        FailingCluster(),
        "A",
        60,
        local_state=lambda: ({}, []),
        on_orphans=lambda orphans: asyncio.sleep(0),
        on_rejoin=lambda: asyncio.sleep(0),
    )
    team = Team(make_settings(tmp_path), Hub(MemoryBroker(), "A"), asyncio.ensure_future, sync)
    with caplog.at_level(logging.WARNING, "livechat_ext.realtime.team"):
        assert await team.room_open("U1") is False
    [record] = caplog.records
    assert record.getMessage() == (
        f"cluster unavailable for room state ({cause}); using this node's view"
    )
    assert record.exc_info is not None


async def test_an_overtaken_presence_announcement_is_corrected_at_the_next_beat(tmp_path):
    """Two nodes publish in no common order: dana's offline (from the node that
    reaped her old one) overtakes her online (from the node she reconnected to).
    This node's sockets were told offline last; its next heartbeat reads the
    cluster and tells them the truth, once."""
    import json

    from livechat_ext.broker import BrokerEvent, MemoryBroker
    from livechat_ext.broker.memory import MemoryCluster
    from livechat_ext.protocol.server import OperatorStatus, encode
    from livechat_ext.realtime.cluster_sync import ClusterSync
    from livechat_ext.realtime.connection import Connection
    from livechat_ext.realtime.hub import BROADCAST, Hub
    from livechat_ext.realtime.team import Team
    from tests.helpers import make_settings

    cluster = MemoryCluster()
    hub = Hub(MemoryBroker(), "A")
    sync = ClusterSync(
        cluster,
        "A",
        60,
        local_state=lambda: ({}, []),
        on_orphans=lambda orphans: asyncio.sleep(0),
        on_rejoin=lambda: asyncio.sleep(0),
    )
    team = Team(make_settings(tmp_path, presence_grace=0), hub, asyncio.ensure_future, sync)
    watcher = Connection("w", limit=100)
    hub.add(watcher)
    hub.join(watcher, BROADCAST)
    await cluster.heartbeat("B", 60)
    await cluster.set_operator("B", "dana", 1)  # the truth: dana is on node B

    def arrives(status: str) -> None:
        frame = encode(OperatorStatus(admin_id="dana", status=status))
        hub._on_broker_event(BrokerEvent("B", BROADCAST, frame, presence=("dana", status)))

    arrives("online")
    arrives("offline")  # the stale one, last
    told = [json.loads(f)["payload"]["status"] for f in watcher.drain()]
    assert told == ["online", "offline"]
    await team.reconcile()  # what every heartbeat runs
    corrected = [json.loads(f)["payload"] for f in watcher.drain()]
    assert [(p["admin_id"], p["status"]) for p in corrected] == [("dana", "online")]
    await team.reconcile()
    assert watcher.drain() == []  # nothing to correct: nothing sent
    await cluster.set_operator("B", "dana", 0)  # her offline was lost altogether
    await team.reconcile()
    gone = [json.loads(f)["payload"] for f in watcher.drain()]
    assert [(p["admin_id"], p["status"]) for p in gone] == [("dana", "offline")]
    assert gone[0]["last_seen"]
