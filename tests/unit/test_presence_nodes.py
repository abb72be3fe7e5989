"""Presence over two nodes while a presence window is open: an operator who
leaves node A and comes back on node B before A's window ends is online for
everyone, without waiting for a reconciliation. The flushes run on their real
timers (no forced flush); waiting is polling a condition with a bound."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from livechat_ext.broker import MemoryBroker
from livechat_ext.broker.memory import MemoryCluster
from livechat_ext.realtime.cluster_sync import ClusterSync
from livechat_ext.realtime.connection import Connection
from livechat_ext.realtime.hub import BROADCAST, Hub
from livechat_ext.realtime.team import Team
from tests.helpers import eventually, make_settings, presence_entries


async def until(condition: Callable[[], bool], what: str) -> None:
    try:
        await eventually(condition, timeout=10.0)
    except AssertionError:
        raise AssertionError(f"not reached: {what}") from None


class Node:
    def __init__(self, hub: Hub, team: Team, sync: ClusterSync, watcher: Connection) -> None:
        self.hub, self.team, self.sync, self.watcher = hub, team, sync, watcher
        self.seen: dict[str, str] = {}

    def view(self) -> dict[str, str]:
        """What this node's sockets show, after every frame delivered so far."""
        for raw in self.watcher.drain():
            for entry in presence_entries(json.loads(raw)):
                self.seen[entry["admin_id"]] = entry["status"]
        return self.seen

    def idle(self) -> bool:
        """Nothing left that could announce: no change pending or timed, no cluster
        job (a recheck may queue an announcement), no publish in flight (its frame
        reaches the other node, which may start a recheck there)."""
        team = self.team
        return (
            not team._pending and team._flush_at is None and self.sync.idle and not team._publishing
        )

    async def stop(self) -> None:
        await self.sync.stop()
        self.team.presence.close()


async def two_nodes(tmp_path: Any, window: float) -> tuple[Node, Node, MemoryCluster]:
    broker, cluster = MemoryBroker(), MemoryCluster()

    async def nothing(*_: Any) -> None:
        return None

    nodes = []
    for name in ("A", "B"):
        hub = Hub(broker, name)
        await hub.start()
        sync = ClusterSync(
            cluster, name, 60, local_state=lambda: ({}, []), on_orphans=nothing, on_rejoin=nothing
        )
        settings = make_settings(tmp_path, presence_grace=0)
        team = Team(settings, hub, asyncio.ensure_future, sync, presence_window=window)
        await sync.start()
        watcher = Connection("w" + name, limit=10_000)
        hub.add(watcher)
        hub.join(watcher, BROADCAST)
        nodes.append(Node(hub, team, sync, watcher))
    return nodes[0], nodes[1], cluster


async def test_back_on_another_node_inside_the_window_is_online_everywhere(tmp_path):
    a, b, cluster = await two_nodes(tmp_path, window=1.0)
    try:
        a.team.presence.connected("x")
        a.team.presence.connected("other")
        await until(lambda: a.idle() and a.view().get("other") == "online", "A announced")
        await until(lambda: b.view().get("x") == "online", "B heard A")
        # a change on a quiet node goes out at once and opens A's window
        a.team.presence.disconnected("other")
        await until(lambda: a.view().get("other") == "offline" and a.sync.idle, "sent")
        # x leaves A: the cluster write is made, the announcement waits for A's window
        a.team.presence.disconnected("x")
        await until(lambda: "x" in a.team._pending, "A's offline queued")
        assert a.team._flush_at is not None, "A's window is open (precondition)"
        # x is back on B: B's cluster write comes after A's, announced at once
        b.team.presence.connected("x")
        await until(lambda: a.view().get("x") == b.view().get("x") == "online", "B announced")
        # A's window ends on its own timer; then everything queued is delivered
        await until(lambda: a.idle() and b.idle(), "both nodes flushed")
        assert "x" in await cluster.online_operators()
        assert (a.view()["x"], b.view()["x"]) == ("online", "online")
    finally:
        await a.stop()
        await b.stop()


async def test_announcements_that_cross_between_nodes_end_with_the_clusters_truth(tmp_path):
    """x leaves B (B's window open: the offline waits), then comes to A (A's
    window open: the online waits); the two windows end about together, so B's
    offline and A's online cross between the nodes and each node's sockets get
    the other's last. The node whose announcement is contradicted by one that
    crossed it asks the cluster: everyone ends with x online."""
    a, b, cluster = await two_nodes(tmp_path, window=1.0)
    try:
        b.team.presence.connected("x")
        a.team.presence.connected("y")  # opens A's window
        await until(lambda: a.view().get("x") == "online" and a.idle() and b.idle(), "settled")
        b.team.presence.connected("z")
        await until(lambda: b.sync.idle and b.team._flush_at is not None, "B busy")
        b.team.presence.disconnected("x")
        await until(lambda: "x" in b.team._pending, "B's offline queued")
        a.team.presence.connected("y2")
        await until(lambda: a.team._flush_at is not None and a.sync.idle, "A busy")
        a.team.presence.connected("x")
        await until(lambda: a.sync.idle, "A wrote x online")
        await until(lambda: a.idle() and b.idle(), "both nodes flushed")
        assert "x" in await cluster.online_operators()
        assert (a.view()["x"], b.view()["x"]) == ("online", "online")
    finally:
        await a.stop()
        await b.stop()


async def test_presence_window_setting_coalesces_or_sends_one_status_per_change(tmp_path):
    """LIVECHAT_PRESENCE_WINDOW=0: every change is its own `operator_status` (what
    a 1.0 client knows), even a burst; the default coalesces a burst into one
    `operators_changed`. Both end with the same view."""
    from livechat_ext.broker import MemoryBroker
    from livechat_ext.settings import LiveChatSettings

    assert LiveChatSettings.model_fields["presence_window"].default == 0.25
    for window, kinds in ((0.0, {"operator_status"}), (0.25, {"operators_changed"})):
        hub = Hub(MemoryBroker(), f"n{window}")
        await hub.start()
        settings = make_settings(tmp_path, presence_grace=0, presence_window=window)
        team = Team(settings, hub, asyncio.ensure_future)
        watcher = Connection("w", limit=10_000)
        hub.add(watcher)
        hub.join(watcher, BROADCAST)
        got: list[dict[str, Any]] = []

        def received(n: int, got: list[dict[str, Any]] = got, w: Connection = watcher) -> bool:
            got.extend(json.loads(f) for f in w.drain())
            return sum(len(presence_entries(f)) for f in got) >= n

        team.presence.connected("first")  # a quiet node: sent alone, opens the window
        await until(lambda: received(1), "first sent")
        got.clear()
        for i in range(5):
            team.presence.connected(f"op-{i}")
        await until(lambda: received(5), "all five sent")
        assert {f["type"] for f in got} == kinds, window
        assert len(got) == (5 if window == 0 else 1)
        seen = {e["admin_id"]: e["status"] for f in got for e in presence_entries(f)}
        assert seen == {f"op-{i}": "online" for i in range(5)}
        team.presence.close()
