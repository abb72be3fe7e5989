"""`memory://`: an in-process broker and cluster. One instance shared by several
`LiveChat` objects models several nodes in one process (used by tests)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from .base import BrokerEvent, EventHandler


class MemoryBroker:
    """Delivers each event synchronously to every started handler."""

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []
        self.cluster = MemoryCluster()
        self.publish_failures = 0  # delivery is a function call: nothing fails

    @property
    def connected(self) -> bool:
        return True

    async def start(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    async def publish(self, event: BrokerEvent) -> None:
        for handler in tuple(self._handlers):
            handler(event)

    async def close(self) -> None:
        self._handlers.clear()

    @property
    def subscribers(self) -> int:
        return len(self._handlers)


class MemoryCluster:
    """The `Cluster` of the nodes sharing one `MemoryBroker`."""

    def __init__(self) -> None:
        self._alive: dict[str, float] = {}
        self._operators: dict[str, dict[str, int]] = {}
        self._rooms: dict[str, set[str]] = {}

    def _live(self) -> list[str]:
        now = time.monotonic()
        return [n for n, until in self._alive.items() if until > now]

    async def heartbeat(self, node: str, ttl: float) -> bool:
        new = node not in self._live()
        self._alive[node] = time.monotonic() + ttl
        return new

    async def publish_state(
        self, node: str, operators: dict[str, int], rooms: Iterable[str]
    ) -> None:
        self._operators[node] = {a: c for a, c in operators.items() if c > 0}
        self._rooms[node] = set(rooms)

    async def set_operator(self, node: str, admin_id: str, connections: int) -> bool:
        ops = self._operators.setdefault(node, {})
        if connections > 0:
            ops[admin_id] = connections
        else:
            ops.pop(admin_id, None)
        return await self.online_elsewhere(node, admin_id)  # no await before: atomic

    async def online_elsewhere(self, node: str, admin_id: str) -> bool:
        return any(admin_id in self._operators.get(n, {}) for n in self._live() if n != node)

    async def online_operators(self) -> set[str]:
        return {a for n in self._live() for a in self._operators.get(n, {})}

    async def set_room(self, node: str, line_user_id: str, open_here: bool) -> None:
        rooms = self._rooms.setdefault(node, set())
        if open_here:
            rooms.add(line_user_id)
        else:
            rooms.discard(line_user_id)

    async def room_open(self, line_user_id: str) -> bool:
        return any(line_user_id in self._rooms.get(n, ()) for n in self._live())

    async def reap(self, node: str) -> list[str]:
        live = set(self._live())
        dead = [n for n in self._alive if n not in live]
        orphans: set[str] = set()
        for gone in dead:
            del self._alive[gone]
            orphans.update(self._operators.pop(gone, {}))
            self._rooms.pop(gone, None)
        still = await self.online_operators()
        return sorted(orphans - still)

    async def leave(self, node: str) -> None:
        self._alive.pop(node, None)
        self._operators.pop(node, None)
        self._rooms.pop(node, None)
