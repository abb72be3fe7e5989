"""The cluster's shared state in Redis: live nodes, operators and open rooms
per node, and the reaping of dead nodes. Redis' errors leave as `BrokerError`."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..errors import BrokerError, describe

# what a failing Redis raises: the connection, the server, or a timeout on either
FAILURES = (RedisError, OSError, TimeoutError)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _names(values: Iterable[Any]) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


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


def _translated(call: Callable[_P, Awaitable[_R]]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """Redis' failures leave the cluster as `BrokerError`: the one place they
    are translated, with the driver's exception as the cause."""

    @functools.wraps(call)
    async def translated(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await call(*args, **kwargs)
        except FAILURES as exc:
            raise BrokerError(f"Redis {call.__name__} failed ({describe(exc)})") from exc

    return translated


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

    @_translated
    async def heartbeat(self, node: str, ttl: float) -> bool:
        added = await self._r.zadd(self._nodes, {node: await self._now() + ttl})
        return bool(added)

    @_translated
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

    @_translated
    async def set_operator(self, node: str, admin_id: str, connections: int) -> bool:
        found = await self._set_operator(
            keys=[self._ops(node), self._nodes], args=[node, admin_id, connections, self._p]
        )
        return bool(found)

    @_translated
    async def online_elsewhere(self, node: str, admin_id: str) -> bool:
        others = [n for n in await self._live() if n != node]
        if not others:
            return False
        async with self._r.pipeline(transaction=False) as pipe:
            for other in others:
                pipe.hexists(self._ops(other), admin_id)
            return any(await pipe.execute())

    @_translated
    async def online_operators(self) -> set[str]:
        live = await self._live()
        if not live:
            return set()
        async with self._r.pipeline(transaction=False) as pipe:
            for node in live:
                pipe.hkeys(self._ops(node))
            results = await pipe.execute()
        return {name for keys in results for name in _names(keys)}

    @_translated
    async def set_room(self, node: str, line_user_id: str, open_here: bool) -> None:
        if open_here:
            await self._r.sadd(self._rooms(node), line_user_id)
        else:
            await self._r.srem(self._rooms(node), line_user_id)

    @_translated
    async def room_open(self, line_user_id: str) -> bool:
        live = await self._live()
        if not live:
            return False
        async with self._r.pipeline(transaction=False) as pipe:
            for node in live:
                pipe.sismember(self._rooms(node), line_user_id)
            return any(await pipe.execute())

    @_translated
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

    @_translated
    async def leave(self, node: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zrem(self._nodes, node)
            pipe.delete(self._ops(node), self._rooms(node))
            await pipe.execute()
