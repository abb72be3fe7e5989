"""Regression guards for the fan-out hot path that do not time anything:

- one room event is serialized once, however many sockets it goes to;
- `Hub.deliver` is synchronous: it never awaits a socket, and a connection whose
  queue is full is closed (1013) without holding back the others.
"""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime

import pytest

import livechat_ext.protocol.server as server
from livechat_ext.broker import MemoryBroker
from livechat_ext.errors import CloseCode
from livechat_ext.models import Message
from livechat_ext.realtime.connection import Connection
from livechat_ext.realtime.hub import Hub, conversation_room

ROOM_SIZE = 50
USER = "U" + "0123456789abcdef" * 2


def message(seq: int = 1) -> Message:
    return Message.model_validate(
        {
            "id": f"m-{seq}",
            "line_user_id": USER,
            "seq": seq,
            "direction": "inbound",
            "sender": {"type": "user", "id": USER},
            "kind": "text",
            "text": "hello",
            "data": {},
            "status": "received",
            "client_msg_id": None,
            "created_at": datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
        }
    )


class Counter:
    """Counts calls of `encode` and of the `json.dumps` it uses."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.encodes = 0
        self.dumps = 0
        real_encode = server.encode
        real_dumps = server.json.dumps

        def encode(*args: object, **kwargs: object) -> str:
            self.encodes += 1
            return real_encode(*args, **kwargs)  # type: ignore[arg-type]

        def dumps(*args: object, **kwargs: object) -> str:
            self.dumps += 1
            return real_dumps(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(server, "encode", encode)
        monkeypatch.setattr(server.json, "dumps", dumps)


async def room_of(hub: Hub, size: int, *, limit: int = 256) -> list[Connection]:
    conns = []
    for i in range(size):
        conn = Connection(f"c{i}", limit=limit)
        hub.add(conn)
        hub.join(conn, conversation_room(USER))
        conns.append(conn)
    return conns


async def test_one_event_to_fifty_connections_is_serialized_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counter = Counter(monkeypatch)
    pushes = 0
    real_push = Connection.push

    def push(self: Connection, text: str) -> bool:
        nonlocal pushes
        pushes += 1
        return real_push(self, text)

    monkeypatch.setattr(Connection, "push", push)
    hub = Hub(MemoryBroker())
    await hub.start()
    conns = await room_of(hub, ROOM_SIZE)

    frame = server.encode(server.MessageReceived(message=message()))
    await hub.publish(conversation_room(USER), frame)

    assert counter.encodes == 1
    assert counter.dumps == 1, "the frame must be serialized once per event, not per socket"
    assert pushes == ROOM_SIZE
    queued = [c.drain() for c in conns]
    assert all(q == [frame] for q in queued)
    # every socket gets the very same string object: nothing re-serialized on the way
    assert all(q[0] is frame for q in queued)
    assert json.loads(frame)["type"] == "message_received"


async def test_remote_event_through_the_broker_is_not_reserialized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = MemoryBroker()
    sender, receiver = Hub(broker, "node-a"), Hub(broker, "node-b")
    await sender.start()
    await receiver.start()
    local = await room_of(sender, ROOM_SIZE // 2)
    remote = await room_of(receiver, ROOM_SIZE // 2)
    frame = server.encode(server.MessageReceived(message=message()))
    counter = Counter(monkeypatch)

    await sender.publish(conversation_room(USER), frame)

    assert counter.encodes == 0 and counter.dumps == 0
    assert all(c.drain() == [frame] for c in local + remote)


def test_deliver_is_synchronous() -> None:
    assert not inspect.iscoroutinefunction(Hub.deliver)
    assert not inspect.iscoroutinefunction(Connection.push)


async def test_a_full_queue_does_not_hold_back_the_others() -> None:
    hub = Hub(MemoryBroker())
    conns = await room_of(hub, ROOM_SIZE, limit=4)
    stuck = conns[ROOM_SIZE // 2]
    for i in range(4):
        assert stuck.push(f"old-{i}")

    frame = server.encode(server.MessageReceived(message=message()))
    sent = hub.deliver(conversation_room(USER), frame)  # returns at once: nothing to await

    assert sent == ROOM_SIZE - 1
    assert stuck.requested_close == (CloseCode.TRY_AGAIN_LATER, "send queue overflow")
    assert stuck.queued == 0
    for conn in conns:
        if conn is not stuck:
            assert conn.drain() == [frame]
    # a closing connection takes nothing more and still does not block the room
    assert hub.deliver(conversation_room(USER), frame) == ROOM_SIZE - 1


async def test_overflow_callback_runs_synchronously_inside_deliver() -> None:
    hub = Hub(MemoryBroker())
    conns = await room_of(hub, 3, limit=1)
    overflowed: list[str] = []
    for conn in conns:
        conn.on_overflow = lambda c: overflowed.append(c.id)
    conns[0].push("x")
    hub.deliver(conversation_room(USER), "frame")
    assert overflowed == ["c0"]
    assert [c.queued for c in conns] == [0, 1, 1]
