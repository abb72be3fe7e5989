"""`memory://`: an in-process broker. One instance shared by several `LiveChat`
objects models several nodes in one process (used by tests)."""

from __future__ import annotations

from .base import BrokerEvent, EventHandler


class MemoryBroker:
    """Delivers each event synchronously to every started handler."""

    def __init__(self) -> None:
        self._handlers: list[EventHandler] = []

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
