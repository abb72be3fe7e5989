"""One contract for every broker and cluster backend (memory and Redis), so
they cannot drift. Each test sees two "nodes" of one deployment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from livechat_ext.broker import Broker, BrokerEvent, Cluster, MemoryBroker


class Inbox:
    """Collects a node's events; `next()` awaits one."""

    def __init__(self) -> None:
        self.events: list[BrokerEvent] = []
        self._cond = asyncio.Condition()

    def __call__(self, event: BrokerEvent) -> None:
        self.events.append(event)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait(self, predicate: Callable[[list[BrokerEvent]], bool]) -> None:
        async def go() -> None:
            async with self._cond:
                await self._cond.wait_for(lambda: predicate(self.events))

        await asyncio.wait_for(go(), 5)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Broker, Broker]]:
    """Two brokers of one deployment (memory: one shared instance, as in one process)."""
    if request.param == "memory":
        shared = MemoryBroker()
        yield shared, shared
        await shared.close()
        return
    from livechat_ext.broker.redis import RedisBroker

    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")  # its keys are deleted after `pair`
    a, b = RedisBroker(url, prefix=prefix), RedisBroker(url, prefix=prefix)
    yield a, b
    await a.close()
    await b.close()


def cluster_of(broker: Broker) -> Cluster:
    cluster = getattr(broker, "cluster", None)
    assert isinstance(cluster, Cluster)
    return cluster


async def test_events_reach_every_node_in_order(pair: tuple[Broker, Broker]) -> None:
    a, b = pair
    inbox_a, inbox_b = Inbox(), Inbox()
    await a.start(inbox_a)
    await b.start(inbox_b)
    for i in range(50):
        await a.publish(
            BrokerEvent(
                "node-a",
                "conversation:U1",
                f'{{"n":{i}}}',
                exclude="c1" if i == 0 else None,
                typing=("U1", "alice", True) if i == 1 else None,
                presence=("alice", "online") if i == 2 else None,
                scope="U1" if i == 3 else None,
                seq=7 if i == 5 else None,
            )
        )
    await inbox_b.wait(lambda ev: len([e for e in ev if e.node == "node-a"]) == 50)
    got = [e for e in inbox_b.events if e.node == "node-a"]
    assert [e.frame for e in got] == [f'{{"n":{i}}}' for i in range(50)]  # in order
    assert got[0].exclude == "c1" and got[1].typing == ("U1", "alice", True)
    assert got[2].presence == ("alice", "online") and got[3].scope == "U1"
    assert got[4] == BrokerEvent("node-a", "conversation:U1", '{"n":4}')
    assert got[5].seq == 7  # a message's seq: the receiving node orders the room by it


async def test_of_two_nodes_changing_an_operator_at_once_exactly_one_sees_nobody_else(
    pair: tuple[Broker, Broker],
) -> None:
    """Both nodes record their change and look for the other at the same time:
    exactly one of them announces (online when both connect, offline when both go)."""
    a, b = pair
    ca, cb = cluster_of(a), cluster_of(b)
    await ca.heartbeat("A", 60)
    await cb.heartbeat("B", 60)
    for round_ in range(20):
        admin = f"dana-{round_}"
        arrived = await asyncio.gather(
            ca.set_operator("A", admin, 1), cb.set_operator("B", admin, 1)
        )
        assert sorted(arrived) == [False, True], (round_, arrived)
        left = await asyncio.gather(ca.set_operator("A", admin, 0), cb.set_operator("B", admin, 0))
        assert sorted(left) == [False, True], (round_, left)


async def test_cluster_presence_rooms_and_reaping(pair: tuple[Broker, Broker]) -> None:
    a, b = pair
    ca, cb = cluster_of(a), cluster_of(b)
    assert await ca.heartbeat("A", 60) is True  # a first beat: publish your state
    assert await ca.heartbeat("A", 60) is False
    assert await cb.heartbeat("B", 0.5) is True
    await ca.publish_state("A", {"alice": 2, "gone": 0}, ["U1"])
    await cb.set_operator("B", "bob", 1)
    await cb.set_operator("B", "alice", 1)
    assert await ca.online_operators() == {"alice", "bob"}
    assert await ca.online_elsewhere("A", "alice") is True
    assert await ca.online_elsewhere("A", "bob") is True
    assert await cb.online_elsewhere("B", "bob") is False
    assert await cb.room_open("U1") is True and await cb.room_open("U2") is False
    await cb.set_room("B", "U2", True)
    assert await ca.room_open("U2") is True
    await cb.set_room("B", "U2", False)
    assert await ca.room_open("U2") is False
    await cb.set_operator("B", "alice", 0)
    assert await ca.online_elsewhere("A", "alice") is False

    await asyncio.sleep(0.7)  # B stops beating: its 0.5 s lease runs out (time, not sync)
    assert await ca.online_operators() == {"alice"}  # a dead node counts for nothing
    assert await ca.reap("A") == ["bob"]  # bob was online only on the dead node
    assert await ca.reap("A") == []  # reaped once
    assert await cb.heartbeat("B", 60) is True  # back after being reaped: fresh again
    await ca.leave("A")
    assert await cb.online_operators() == set()


@pytest.mark.redis
async def test_redis_subscriber_survives_an_unexpected_error(
    redis_url: str, redis_prefix: str
) -> None:
    """redis-py can raise RuntimeError from a pubsub caught mid-reconnect; the
    subscriber must log it, reconnect and keep delivering."""
    from livechat_ext.broker.redis import RedisBroker

    a, b = RedisBroker(redis_url, prefix=redis_prefix), RedisBroker(redis_url, prefix=redis_prefix)
    real_pubsub = b._sub_redis.pubsub
    broken_once = []

    def pubsub(**kwargs: object) -> object:
        ps = real_pubsub(**kwargs)  # type: ignore[arg-type]
        if not broken_once:
            broken_once.append(True)

            async def get_message(**_: object) -> None:
                raise RuntimeError("pubsub connection not set")

            ps.get_message = get_message  # type: ignore[method-assign]
        return ps

    b._sub_redis.pubsub = pubsub  # type: ignore[method-assign]
    inbox = Inbox()
    try:
        await a.start(Inbox())
        await b.start(inbox)
        for _ in range(100):  # the failed subscription reconnects after its backoff
            await a.publish(BrokerEvent("A", "broadcast", "ping"))
            try:
                await asyncio.wait_for(inbox.wait(lambda ev: bool(ev)), 0.1)
                break
            except TimeoutError:
                continue
        assert broken_once and inbox.events and inbox.events[0].frame == "ping"
    finally:
        await a.close()
        await b.close()
