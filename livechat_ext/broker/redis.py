"""`redis://`: room events over Redis pub/sub, and the cluster's shared state in
Redis keys. A Redis outage never reaches the caller: publishing reconnects with
backoff and local delivery goes on; clients catch up on what other nodes missed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from ..background import Loops, bounded
from ..errors import describe
from .base import BrokerEvent, EventHandler
from .redis_cluster import FAILURES, RedisCluster

log = logging.getLogger("livechat_ext.broker.redis")
_MAX_BACKOFF = 5.0
_DRAIN_SECONDS = 1.0  # at close, for the queue's last events (presence changes)


def _names(values: Iterable[Any]) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def encode_event(event: BrokerEvent) -> bytes:
    return json.dumps(
        {
            "n": event.node,
            "r": event.room,
            "f": event.frame,
            "x": event.exclude,
            "t": event.typing,
            "p": event.presence,
            "s": event.scope,
            "a": event.name,
            "q": event.seq,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def decode_event(data: bytes | str) -> BrokerEvent:
    raw = json.loads(data)
    typing = raw.get("t")
    presence = raw.get("p")
    seq = raw.get("q")
    return BrokerEvent(
        node=str(raw["n"]),
        room=str(raw["r"]),
        frame=str(raw["f"]),
        exclude=raw.get("x"),
        typing=(str(typing[0]), str(typing[1]), bool(typing[2])) if typing else None,
        presence=(str(presence[0]), str(presence[1])) if presence else None,
        scope=raw.get("s"),
        name=raw.get("a"),
        seq=int(seq) if seq is not None else None,
    )


class RedisBroker:
    """Publishes through one ordered queue (so events keep their order) and
    subscribes on one channel; both reconnect with backoff."""

    def __init__(self, url: str, *, prefix: str = "livechat", queue_limit: int = 10_000) -> None:
        self._redis: aioredis.Redis = aioredis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=5.0, health_check_interval=5
        )
        # reads are bounded by get_message's own timeout; socket_timeout bounds the
        # rest (subscribe, health-check pings) so a half-open socket cannot hang it
        self._sub_redis: aioredis.Redis = aioredis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=5.0, health_check_interval=5
        )
        self.channel = f"{prefix}:events"
        self.cluster = RedisCluster(self._redis, prefix)
        self._queue: deque[bytes] = deque()
        self._queue_limit = queue_limit
        self._wakeup = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._handler: EventHandler | None = None
        self._loops = Loops("Redis broker")
        self._publisher: asyncio.Task[None] | None = None
        self.publish_failures = 0
        self.dropped = 0

    async def start(self, handler: EventHandler) -> None:
        self._handler = handler
        self._loops = Loops("Redis broker")
        self._loops.start(self._subscribe_loop())
        self._publisher = self._loops.start(self._publish_loop())
        try:
            async with asyncio.timeout(5.0):
                await self._subscribed.wait()
        except TimeoutError:
            log.warning("Redis is not reachable yet; local delivery works, retrying")

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    async def publish(self, event: BrokerEvent) -> None:
        if len(self._queue) >= self._queue_limit:
            self._queue.popleft()  # the oldest is the stalest; catch-up recovers it
            self.dropped += 1
        self._queue.append(encode_event(event))
        self._wakeup.set()

    async def _publish_loop(self) -> None:
        """Publish the queue in order; at `close`, what is queued, then return."""
        delay = 0.1
        while self._queue or self._loops.running:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()  # `close` sets it too
                continue
            try:
                await self._redis.publish(self.channel, self._queue[0])
            except Exception as exc:  # any failure: keep the event, back off, try again
                self.publish_failures += 1
                level = logging.WARNING if isinstance(exc, FAILURES) else logging.ERROR
                log.log(
                    level,
                    "Redis publish failed (%s); retrying in %.1fs",
                    describe(exc),
                    delay,
                    exc_info=exc,
                )
                if not await self._loops.pause(delay):
                    return  # closing: other nodes catch up on what is left
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            if self._queue:
                self._queue.popleft()
            delay = 0.1

    async def _subscribe_loop(self) -> None:
        delay = 0.1
        while self._loops.running:
            pubsub = self._sub_redis.pubsub(ignore_subscribe_messages=True)
            try:
                async with asyncio.timeout(5.0):
                    await pubsub.subscribe(self.channel)
                self._subscribed.set()
                delay = 0.1
                while self._loops.running:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["data"])
            except Exception as exc:  # redis-py raises others mid-reconnect: never stop listening
                self._subscribed.clear()
                level = logging.WARNING if isinstance(exc, FAILURES) else logging.ERROR
                log.log(
                    level,
                    "Redis subscription lost (%s); reconnecting in %.1fs",
                    describe(exc),
                    delay,
                    exc_info=exc,
                )
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            if not await self._loops.pause(delay):
                return
            delay = min(delay * 2, _MAX_BACKOFF)

    def _dispatch(self, data: Any) -> None:
        try:
            event = decode_event(data)
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("ignored a malformed broker event", exc_info=True)
            return
        if self._handler is not None:
            try:
                self._handler(event)
            except Exception:
                log.exception("broker event handler failed")

    async def close(self) -> None:
        """Publish what is queued (briefly), stop both loops and the connections;
        each step is bounded, so a stuck Redis cannot hold up shutdown."""
        self._loops.stopping.set()
        self._wakeup.set()
        if self._publisher is not None:
            await asyncio.wait({self._publisher}, timeout=_DRAIN_SECONDS)
            self._publisher = None
        self._queue.clear()  # not drained in time: the loop must not go on with it
        await self._loops.stop(grace=1.0)
        self._subscribed.clear()
        await bounded(self._redis.aclose(), 1.0, "closing the Redis connections")
        await bounded(self._sub_redis.aclose(), 1.0, "closing the Redis subscription")
