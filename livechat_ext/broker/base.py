"""The broker interface: carries room events between server processes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    """One room event: `frame` (serialized once) goes to every member of `room`
    on every node, except the connection `exclude`.

    `typing` carries (line_user_id, admin_id, is_typing) so every node keeps
    the same typing table; `presence` carries (admin_id, status).
    """

    node: str
    room: str
    frame: str
    exclude: str | None = None
    typing: tuple[str, str, bool] | None = None
    presence: tuple[str, str] | None = None


EventHandler = Callable[[BrokerEvent], None]


@runtime_checkable
class Broker(Protocol):
    """Publish/subscribe of `BrokerEvent`s. A failed publish never raises to
    the caller: local delivery has already happened and catch-up covers the rest."""

    async def start(self, handler: EventHandler) -> None:
        """Begin delivering every node's events (this node's included) to `handler`."""

    async def publish(self, event: BrokerEvent) -> None:
        """Send an event to every node."""

    async def close(self) -> None:
        """Stop delivering and release connections."""
