"""The broker interface: carries room events between server processes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    """One room event: `frame` (serialized once) goes to every member of `room`
    on every node, except the connection `exclude`.

    `typing` carries (line_user_id, admin_id, is_typing) so every node keeps
    the same typing table; `presence` carries (admin_id, status); `name` is
    that operator's display name, so every node can show it.
    """

    node: str
    room: str
    frame: str
    exclude: str | None = None
    typing: tuple[str, str, bool] | None = None
    presence: tuple[str, str] | None = None
    scope: str | None = None  # the conversation the frame is about: only operators the
    # host's authorize hook allows for it receive it
    name: str | None = None
    seq: int | None = None  # a message's seq: each node delivers a room's messages in order


EventHandler = Callable[[BrokerEvent], None]


@runtime_checkable
class Broker(Protocol):
    """Publish/subscribe of `BrokerEvent`s. A failed publish never raises to
    the caller: local delivery has already happened and catch-up covers the rest."""

    @property
    def cluster(self) -> Cluster | None:
        """What the nodes know about each other (None: this broker keeps no
        cluster state, so a node sees only its own presence and rooms)."""

    @property
    def publish_failures(self) -> int:
        """Events the broker could not pass on (for the metrics)."""

    @property
    def connected(self) -> bool:
        """Whether the broker reaches its backend now (for health checks)."""

    async def start(self, handler: EventHandler) -> None:
        """Begin delivering every node's events (this node's included) to `handler`."""

    async def publish(self, event: BrokerEvent) -> None:
        """Send an event to every node."""

    async def close(self) -> None:
        """Stop delivering and release connections."""


@runtime_checkable
class Cluster(Protocol):
    """What the nodes of one deployment know about each other: which node is
    alive, which operators each node has connections for, and which
    conversations are open on each node. A node that stops heart-beating for
    `ttl` seconds is dead; one live node reaps it and learns its operators.
    A backend that cannot reach its store raises `BrokerError`."""

    async def heartbeat(self, node: str, ttl: float) -> bool:
        """Mark `node` alive for `ttl` seconds; True if it was not known alive
        (first beat, or after being reaped: its state must be published again)."""

    async def publish_state(
        self, node: str, operators: dict[str, int], rooms: Iterable[str]
    ) -> None:
        """Replace everything recorded for `node`."""

    async def set_operator(self, node: str, admin_id: str, connections: int) -> bool:
        """Record how many connections `admin_id` has on `node` (0 forgets it) and
        say, in the same atomic step, whether another live node has them: of two
        nodes changing at once, exactly one sees the operator nowhere else."""

    async def online_elsewhere(self, node: str, admin_id: str) -> bool:
        """Whether `admin_id` has a connection on another live node."""

    async def online_operators(self) -> set[str]:
        """Every operator with a connection on any live node."""

    async def set_room(self, node: str, line_user_id: str, open_here: bool) -> None:
        """Record whether a conversation is open on `node`."""

    async def room_open(self, line_user_id: str) -> bool:
        """Whether any live node has an operator in the conversation."""

    async def reap(self, node: str) -> list[str]:
        """Forget dead nodes (one reaper per dead node across the cluster) and
        return their operators that are now online nowhere."""

    async def leave(self, node: str) -> None:
        """Forget `node` at a clean shutdown."""
