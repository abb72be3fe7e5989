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
from redis.exceptions import RedisError

from .base import BrokerEvent, EventHandler

log = logging.getLogger("livechat_ext.broker.redis")
_FAILURES = (RedisError, OSError, asyncio.TimeoutError)
_MAX_BACKOFF = 5.0


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
        self._tasks: list[asyncio.Task[None]] = []
        self.publish_failures = 0
        self.dropped = 0

    async def start(self, handler: EventHandler) -> None:
        self._handler = handler
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._subscribe_loop()),
            loop.create_task(self._publish_loop()),
        ]
        try:
            await asyncio.wait_for(self._subscribed.wait(), 5.0)
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
        delay = 0.1
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            try:
                await self._redis.publish(self.channel, self._queue[0])
            except Exception as exc:  # any failure: keep the event, back off, try again
                self.publish_failures += 1
                if isinstance(exc, _FAILURES):
                    log.warning("Redis publish failed (%s); retrying in %.1fs", exc, delay)
                else:
                    log.exception("Redis publish failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            if self._queue:
                self._queue.popleft()
            delay = 0.1

    async def _subscribe_loop(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._sub_redis.pubsub(ignore_subscribe_messages=True)
            try:
                await asyncio.wait_for(pubsub.subscribe(self.channel), 5.0)
                self._subscribed.set()
                delay = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["data"])
            except _FAILURES as exc:
                self._subscribed.clear()
                log.warning("Redis subscription lost (%s); reconnecting in %.1fs", exc, delay)
            except Exception:  # redis-py raises others mid-reconnect: never stop listening
                self._subscribed.clear()
                log.exception("Redis subscription failed; reconnecting in %.1fs", delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)

    def _dispatch(self, data: Any) -> None:
        try:
            event = decode_event(data)
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("ignored a malformed broker event")
            return
        if self._handler is not None:
            try:
                self._handler(event)
            except Exception:
                log.exception("broker event handler failed")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._redis.aclose()
        await self._sub_redis.aclose()


# set_operator's change and check in one step: two nodes that change the same
# operator at once cannot both see the other (both announce) or both miss it
_SET_OPERATOR = """
local node, admin, count, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if count > 0 then
  redis.call('HSET', KEYS[1], admin, count)
else
  redis.call('HDEL', KEYS[1], admin)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for _, other in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], now, '+inf')) do
  if other ~= node and redis.call('HEXISTS', prefix .. ':node:' .. other .. ':ops', admin) == 1 then
    return 1
  end
end
return 0
"""


class RedisCluster:
    """The `Cluster` in Redis: a sorted set of live nodes scored by expiry
    (Redis' own clock), a hash of operator connections and a set of open
    conversations per node."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._r = redis
        self._p = prefix
        self._nodes = f"{prefix}:nodes"
        self._set_operator = redis.register_script(_SET_OPERATOR)

    def _ops(self, node: str) -> str:
        return f"{self._p}:node:{node}:ops"  # _SET_OPERATOR builds the same names

    def _rooms(self, node: str) -> str:
        return f"{self._p}:node:{node}:rooms"

    async def _now(self) -> float:
        seconds, micros = await self._r.time()
        return float(seconds) + micros / 1e6

    async def _live(self) -> list[str]:
        now = await self._now()
        return _names(await self._r.zrangebyscore(self._nodes, now, "+inf"))

    async def heartbeat(self, node: str, ttl: float) -> bool:
        added = await self._r.zadd(self._nodes, {node: await self._now() + ttl})
        return bool(added)

    async def publish_state(
        self, node: str, operators: dict[str, int], rooms: Iterable[str]
    ) -> None:
        ops = {a: c for a, c in operators.items() if c > 0}
        room_list = list(rooms)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(self._ops(node), self._rooms(node))
            if ops:
                pipe.hset(self._ops(node), mapping=ops)  # type: ignore[arg-type]
            if room_list:
                pipe.sadd(self._rooms(node), *room_list)
            await pipe.execute()

    async def set_operator(self, node: str, admin_id: str, connections: int) -> bool:
        found = await self._set_operator(
            keys=[self._ops(node), self._nodes], args=[node, admin_id, connections, self._p]
        )
        return bool(found)

    async def online_elsewhere(self, node: str, admin_id: str) -> bool:
        others = [n for n in await self._live() if n != node]
        if not others:
            return False
        async with self._r.pipeline(transaction=False) as pipe:
            for other in others:
                pipe.hexists(self._ops(other), admin_id)
            return any(await pipe.execute())

    async def online_operators(self) -> set[str]:
        live = await self._live()
        if not live:
            return set()
        async with self._r.pipeline(transaction=False) as pipe:
            for node in live:
                pipe.hkeys(self._ops(node))
            results = await pipe.execute()
        return {name for keys in results for name in _names(keys)}

    async def set_room(self, node: str, line_user_id: str, open_here: bool) -> None:
        if open_here:
            await self._r.sadd(self._rooms(node), line_user_id)
        else:
            await self._r.srem(self._rooms(node), line_user_id)

    async def room_open(self, line_user_id: str) -> bool:
        live = await self._live()
        if not live:
            return False
        async with self._r.pipeline(transaction=False) as pipe:
            for node in live:
                pipe.sismember(self._rooms(node), line_user_id)
            return any(await pipe.execute())

    async def reap(self, node: str) -> list[str]:
        now = await self._now()
        dead = _names(await self._r.zrangebyscore(self._nodes, "-inf", f"({now}"))
        orphans: set[str] = set()
        for gone in dead:
            if not await self._r.set(f"{self._p}:reap:{gone}", node, nx=True, ex=30):
                continue  # another node reaps it
            orphans.update(_names(await self._r.hkeys(self._ops(gone))))
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.zrem(self._nodes, gone)
                pipe.delete(self._ops(gone), self._rooms(gone))
                await pipe.execute()
        if not orphans:
            return []
        return sorted(orphans - await self.online_operators())

    async def leave(self, node: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zrem(self._nodes, node)
            pipe.delete(self._ops(node), self._rooms(node))
            await pipe.execute()
