"""One node's presence flushes: `flush_presence` never overtakes a flush whose
task has not started, nothing is published after shutdown's final flush (what
changes during shutdown goes out with it), an offline entry keeps its own
last_seen, and a new display name reaches the sockets that show the operator."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from livechat_ext.broker import MemoryBroker
from livechat_ext.operator import Operator
from livechat_ext.realtime.connection import Connection
from livechat_ext.realtime.hub import BROADCAST, Hub
from livechat_ext.realtime.team import Team
from tests.helpers import eventually, make_settings, presence_entries


async def node(tmp_path: Any, window: float = 0.25) -> tuple[Team, Connection]:
    hub = Hub(MemoryBroker(), "n")
    await hub.start()
    team = Team(
        make_settings(tmp_path, presence_grace=0, presence_window=window),
        hub,
        asyncio.ensure_future,
    )
    watcher = Connection("w", limit=10_000)
    hub.add(watcher)
    hub.join(watcher, BROADCAST)
    return team, watcher


def entries(watcher: Connection) -> list[dict[str, Any]]:
    return [e for raw in watcher.drain() for e in presence_entries(json.loads(raw))]


async def test_flush_presence_comes_after_a_flush_whose_task_has_not_started(tmp_path):
    team, watcher = await node(tmp_path)
    await team.publish_presence("x", "online")
    team._flush_at.cancel()  # type: ignore[union-attr]
    team._flush()  # the window's timer fired: its publish is a task not started yet
    await team.publish_presence("x", "offline", datetime(2026, 1, 1, tzinfo=UTC))
    await team.flush_presence()  # shutdown / tests: sent after the one before
    await eventually(lambda: not team._publishing)
    assert [e["status"] for e in entries(watcher)] == ["online", "offline"]
    assert team.presence.told_status("x") == "offline"


async def test_changes_during_shutdown_go_out_with_the_final_flush_none_after(tmp_path):
    team, watcher = await node(tmp_path)
    team.presence.connected("x")
    await eventually(lambda: [e["status"] for e in entries(watcher)] == ["online"])
    team._closing = True  # shutdown has begun (as Team.shutdown sets it first)
    await team.publish_presence("y", "online")
    assert team._flush_at is None  # no timer: the final flush takes it
    await team.shutdown()
    assert [(e["admin_id"], e["status"]) for e in entries(watcher)] == [("y", "online")]
    # a late offline (a socket closing after the final flush) is not published
    team.presence.disconnected("x")
    for _ in range(10):
        await asyncio.sleep(0)
    assert team._pending == {} and team._flush_at is None and not team._publishing
    assert entries(watcher) == []
    team.start()  # a restart announces again
    await team.publish_presence("z", "online")
    await team.flush_presence()
    assert [e["admin_id"] for e in entries(watcher)] == ["z"]


async def test_an_offline_from_another_node_keeps_its_own_last_seen(tmp_path):
    team, _ = await node(tmp_path)
    left = "2026-01-01T10:00:00.000Z"
    frame = json.dumps(
        {
            "type": "operators_changed",
            "payload": {
                "operators": [
                    {"admin_id": "x", "status": "offline", "last_seen": left, "name": "X"},
                    {"admin_id": "y", "status": "online", "last_seen": None, "name": "Y"},
                ]
            },
        }
    )
    team._remote_changes(frame)
    assert team.presence.last_seen("x") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    listed = json.loads(f"[{await team.operators_json('me', 'Me')}]")
    assert {o["admin_id"]: o["last_seen"] for o in listed}["x"] == left


async def test_a_new_display_name_is_announced_to_the_sockets_showing_the_operator(tmp_path):
    team, watcher = await node(tmp_path, window=0)
    team.remember(Operator("x", "Old Name"))
    team.presence.connected("x")
    await eventually(lambda: bool(watcher.queued) or team.presence_frames > 0)
    await eventually(lambda: not team._publishing)
    assert [(e["status"], e["name"]) for e in entries(watcher)] == [("online", "Old Name")]
    team.remember(Operator("x", "New Name"))  # a later token with another name
    await eventually(lambda: not team._publishing)
    assert [(e["status"], e["name"]) for e in entries(watcher)] == [("online", "New Name")]
    team.remember(Operator("x", "New Name"))  # the same name again: nothing to tell
    assert entries(watcher) == []
