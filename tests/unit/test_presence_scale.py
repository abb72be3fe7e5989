"""Presence at scale (PROTOCOL.md 1.1): a reconnect storm is linear in frames,
`operators_changed` carries each operator once in its latest state, names ride
along, nodes converge, and joins of one conversation share their reads.

No timing is asserted: the bounds are structural (a storm of N arrivals costs
O(N) frames where one frame per arrival per socket would be O(N^2))."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from livechat_ext import LiveChat, mint_token
from livechat_ext.broker import MemoryBroker
from livechat_ext.broker.memory import MemoryCluster
from livechat_ext.protocol.server import (
    AuthSuccess,
    decode,
    encode_with_operators,
    operator_entry,
)
from livechat_ext.realtime.cluster_sync import ClusterSync
from livechat_ext.realtime.connection import Connection
from livechat_ext.realtime.hub import BROADCAST, Hub
from livechat_ext.realtime.shared_reads import SharedReads
from livechat_ext.realtime.team import Team
from tests.helpers import make_settings, presence_entries

N = 200


def frames(conn: Connection) -> list[dict[str, Any]]:
    return [json.loads(f) for f in conn.drain()]


def view(received: list[dict[str, Any]]) -> dict[str, str]:
    """An operator's view: its auth_success list, then every presence change."""
    seen: dict[str, str] = {}
    for frame in received:
        if frame["type"] == "auth_success":
            seen = {o["admin_id"]: o["status"] for o in frame["payload"]["operators"]}
        for entry in presence_entries(frame):
            seen[entry["admin_id"]] = entry["status"]
    return seen


async def settle(live: LiveChat) -> None:
    """Let every scheduled flush and its delivery run (bounded)."""
    team = live.chat.team
    for _ in range(400):
        await asyncio.sleep(0)
        if not team._pending and team._flush_at is None and not len(live.tasks):
            return
        if team._flush_at is not None:
            await team.flush_presence()
    raise AssertionError("presence never settled")


async def test_a_storm_of_arrivals_is_linear_in_frames_and_everyone_sees_everyone(tmp_path):
    """N operators authenticate one after another through the real auth path
    (Chat: hold, broadcast room, presence, auth_success). One frame per arrival
    per socket would be N(N-1)/2 presence frames; coalesced, each socket gets a
    few, each presence change is serialized once per window, and every view ends
    with all N online."""
    settings = make_settings(tmp_path, presence_grace=0, max_connections_per_client=10_000)
    live = LiveChat(settings)
    async with live.lifespan():
        conns: list[Connection] = []
        for i in range(N):
            conn = Connection(f"c{i}", limit=100_000)
            session = live.chat.open(conn)
            token = mint_token(settings, f"op-{i:03d}", name=f"Operator {i}")
            await live.chat.authenticate(conn, session, token)
            conns.append(conn)
            await asyncio.sleep(0)  # arrivals spread over the loop, as sockets are
        await settle(live)
        received = [frames(c) for c in conns]
        presence = sum(1 for got in received for f in got if presence_entries(f))
        assert presence <= 5 * N, f"{presence} presence frames for {N} arrivals"
        assert live.chat.team.presence_frames <= N // 4  # serialized once per flush
        everyone = {f"op-{i:03d}": "online" for i in range(N)}
        for got in received:
            assert sum(1 for f in got if f["type"] == "auth_success") == 1
            assert view(got) == everyone
        # a newcomer's list names everyone, with their names, sorted, itself included
        late = Connection("late", limit=1000)
        session = live.chat.open(late)
        await live.chat.authenticate(late, session, mint_token(settings, "zed", name="Zed"))
        [success] = [f for f in frames(late) if f["type"] == "auth_success"]
        listed = success["payload"]["operators"]
        assert [o["admin_id"] for o in listed] == sorted([*everyone, "zed"])
        assert {o["admin_id"]: o["name"] for o in listed}["op-007"] == "Operator 7"
        assert listed[-1] == {
            "admin_id": "zed",
            "status": "online",
            "last_seen": None,
            "name": "Zed",
        }
        decode(json.dumps(success))  # a valid auth_success frame


async def test_operators_changed_carries_each_operator_once_in_its_latest_state(tmp_path):
    hub = Hub(MemoryBroker(), "A")
    team = Team(make_settings(tmp_path, presence_grace=0), hub, asyncio.ensure_future)
    watcher = Connection("w", limit=100)
    hub.add(watcher)
    hub.join(watcher, BROADCAST)
    team.names.update({"alice": "Alice", "bob": "Bob"})
    await team.publish_presence("alice", "online")  # a quiet node: at once, alone
    await team.flush_presence()
    [first] = frames(watcher)
    assert first["type"] == "operator_status"
    assert first["payload"] == {
        "admin_id": "alice",
        "status": "online",
        "last_seen": None,
        "name": "Alice",
    }
    # the window is open now: these wait for its end and go out together
    await team.publish_presence("bob", "online")
    await team.publish_presence("carol", "online")
    await team.publish_presence("alice", "offline", None)
    await team.publish_presence("carol", "offline", None)
    await team.publish_presence("carol", "online")
    assert frames(watcher) == []
    await team.flush_presence()
    [batch] = frames(watcher)
    assert batch["type"] == "operators_changed"
    operators = batch["payload"]["operators"]
    # in the order they first changed in the window, each once, as they are now
    assert [(o["admin_id"], o["status"]) for o in operators] == [
        ("bob", "online"),
        ("carol", "online"),
        ("alice", "offline"),
    ]
    by_id = {o["admin_id"]: o for o in operators}
    assert by_id["alice"]["last_seen"] and by_id["alice"]["name"] == "Alice"
    assert by_id["carol"]["last_seen"] is None and by_id["carol"]["name"] == "carol"
    decode(json.dumps(batch))
    # and the cached list a newcomer gets agrees with what was sent
    listed = json.loads(f"[{await team.operators_json('dana', 'Dana')}]")
    assert [(o["admin_id"], o["status"]) for o in listed] == [
        ("alice", "offline"),
        ("bob", "online"),
        ("carol", "online"),
        ("dana", "online"),
    ]


async def test_a_name_learned_later_is_listed(tmp_path):
    from livechat_ext.operator import Operator

    hub = Hub(MemoryBroker(), "A")
    team = Team(make_settings(tmp_path), hub, asyncio.ensure_future)
    await team.publish_presence("erin", "online")
    await team.flush_presence()
    team.remember(Operator(admin_id="erin", name="Erin K."))
    listed = json.loads(f"[{await team.operators_json('x', 'X')}]")
    assert listed[0] == {
        "admin_id": "erin",
        "status": "online",
        "last_seen": None,
        "name": "Erin K.",
    }


def test_encode_with_operators_is_the_frame_encode_would_make():
    entries = [operator_entry("a", "online", None, 'quote " and "operators":[]')]
    text = encode_with_operators(
        AuthSuccess(
            admin_id='"operators":[]',
            session_id="s",
            heartbeat_interval=30,
            operators=[],
        ),
        ",".join(entries),
        ref="r1",
    )
    frame = json.loads(text)
    assert frame["payload"]["admin_id"] == '"operators":[]'
    assert frame["payload"]["operators"] == [
        {
            "admin_id": "a",
            "status": "online",
            "last_seen": None,
            "name": 'quote " and "operators":[]',
        }
    ]
    assert frame["ref"] == "r1"
    decode(text)


async def test_two_nodes_converge_through_the_broker_and_list_each_others_operators(tmp_path):
    """Node A takes a storm; node B's sockets learn it from A's coalesced frames
    (not one event per arrival), and B's list for a newcomer names them all."""
    broker, cluster = MemoryBroker(), MemoryCluster()
    nodes = {}
    for node in ("A", "B"):
        hub = Hub(broker, node)
        await hub.start()
        sync = ClusterSync(
            cluster,
            node,
            60,
            local_state=lambda: ({}, []),
            on_orphans=lambda orphans: asyncio.sleep(0),
            on_rejoin=lambda: asyncio.sleep(0),
        )
        team = Team(make_settings(tmp_path, presence_grace=0), hub, asyncio.ensure_future, sync)
        await sync.start()
        nodes[node] = (hub, team, sync)
    _, team_a, sync_a = nodes["A"]
    hub_b, team_b, _ = nodes["B"]
    watcher = Connection("w", limit=10_000)
    hub_b.add(watcher)
    hub_b.join(watcher, BROADCAST)
    published: list[Any] = []
    original = broker.publish

    async def counting(event: Any) -> None:
        published.append(event)
        await original(event)

    broker.publish = counting  # type: ignore[method-assign]
    for i in range(N):
        team_a.presence.connected(f"op-{i:03d}")
        if i % 10 == 0:
            await asyncio.sleep(0)
    for _ in range(50):
        await sync_a.settle()
        await team_a.flush_presence()
        await asyncio.sleep(0)
        if len(team_b.presence.told()) == N:
            break
    got = frames(watcher)
    assert view(got) == {f"op-{i:03d}": "online" for i in range(N)}
    assert len(got) <= N // 4  # coalesced across the broker too
    assert len([e for e in published if e.room == BROADCAST]) <= N // 4
    listed = json.loads(f"[{await team_b.operators_json('newcomer', 'N')}]")
    assert sum(1 for o in listed if o["status"] == "online") == N + 1
    # A's operators leave: B's sockets are told, each once
    for i in range(N):
        team_a.presence.disconnected(f"op-{i:03d}")
    for _ in range(50):
        await sync_a.settle()
        await team_a.flush_presence()
        await asyncio.sleep(0)
        if set(team_b.presence.told().values()) == {"offline"}:
            break
    left = frames(watcher)
    offline = [e for f in left for e in presence_entries(f)]
    assert sorted(e["admin_id"] for e in offline) == [f"op-{i:03d}" for i in range(N)]
    assert all(e["status"] == "offline" and e["last_seen"] for e in offline)
    for _hub, team, sync in nodes.values():
        await team.shutdown()
        await sync.stop()


async def test_joins_asked_together_share_one_read_and_never_an_older_one():
    reads = SharedReads[int]()
    started: list[str] = []
    gate = asyncio.Event()

    def reader(key: str):  # each read answers with its own number
        async def read() -> int:
            number = len(started)
            started.append(key)
            await gate.wait()
            return number

        return read

    async def until(condition) -> None:
        for _ in range(100):
            if condition():
                return
            await asyncio.sleep(0)
        raise AssertionError("never happened")

    first = asyncio.ensure_future(reads.read("U1", reader("U1")))
    await until(lambda: started == ["U1"])
    # a read is running: whoever asks now waits for the next one, which serves them all
    later = [asyncio.ensure_future(reads.read("U1", reader("U1"))) for _ in range(50)]
    other = asyncio.ensure_future(reads.read("U2", reader("U2")))
    await until(lambda: started == ["U1", "U2"])
    gate.set()
    assert await first == 0
    results = await asyncio.gather(*later)
    assert set(results) == {2}  # one read for all fifty, begun after they asked
    assert await other == 1
    assert started == ["U1", "U2", "U1"] and reads.reads == 3

    async def failing() -> int:
        raise OSError("store down")

    outcome = await asyncio.gather(reads.read("U3", failing), return_exceptions=True)
    assert isinstance(outcome[0], OSError)


async def test_shutdown_sends_the_offline_the_grace_would_have_sent(tmp_path):
    hub = Hub(MemoryBroker(), "A")
    team = Team(make_settings(tmp_path, presence_grace=30), hub, asyncio.ensure_future)
    watcher = Connection("w", limit=100)
    hub.add(watcher)
    hub.join(watcher, BROADCAST)
    team.presence.connected("alice")
    for _ in range(10):  # the announcement's task, then its flush
        await asyncio.sleep(0)
    await team.flush_presence()
    team.presence.disconnected("alice")  # within the grace: nothing yet
    assert view(frames(watcher)) == {"alice": "online"}
    await team.shutdown()
    [gone] = [e for f in frames(watcher) for e in presence_entries(f)]
    assert (gone["admin_id"], gone["status"]) == ("alice", "offline") and gone["last_seen"]
