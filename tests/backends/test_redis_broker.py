"""The Redis broker against a real Redis, where a fault is injected: it must
stop whatever its driver does with cancellation, and report failures as its own."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from redis.exceptions import RedisError

from livechat_ext.broker import BrokerEvent
from livechat_ext.errors import BrokerError
from tests.conftest import free_port

pytestmark = pytest.mark.redis


async def test_close_finishes_when_a_publish_swallowed_the_cancel(redis_url: str) -> None:
    """Python 3.11's `asyncio.wait_for`, inside redis-py's socket writes, can
    lose a cancel(); the publish loop then used to wait for work forever."""
    from livechat_ext.broker.redis import RedisBroker

    broker = RedisBroker(redis_url, prefix=f"lctest-{uuid.uuid4().hex[:8]}")
    before = asyncio.all_tasks()
    await broker.start(lambda event: None)
    loops = asyncio.all_tasks() - before
    real_publish = broker._redis.publish
    entered, never = asyncio.Event(), asyncio.Event()

    async def publish(channel: str, data: bytes) -> Any:  # the injected fault
        entered.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            pass  # lost, as wait_for loses it when the write has just finished
        return await real_publish(channel, data)

    broker._redis.publish = publish  # type: ignore[method-assign]
    await broker.publish(BrokerEvent("node-a", "room", "{}"))
    await entered.wait()
    closing = asyncio.create_task(broker.close())
    await asyncio.wait({closing}, timeout=30)  # a generous bound: only a hang reaches it
    assert closing.done(), "close() hangs on a publish loop that lost its cancel"
    closing.result()
    assert all(task.done() for task in loops)


async def test_a_redis_failure_leaves_the_cluster_as_a_broker_error() -> None:
    from livechat_ext.broker.redis import RedisBroker

    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    broker = RedisBroker(nothing_there, prefix="lctest-refused")
    try:
        refused = r"Redis heartbeat failed \(ConnectionError: "
        with pytest.raises(BrokerError, match=refused) as info:
            await broker.cluster.heartbeat("node-a", 5)
        assert isinstance(info.value.__cause__, RedisError)
    finally:
        await broker.close()
