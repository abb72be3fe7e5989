"""The hub: this node's connections and their rooms, fed by the broker."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..broker import Broker, BrokerEvent
from ..errors import CloseCode
from .connection import Connection
from .ordering import Fill, RoomOrder

if TYPE_CHECKING:
    from ..metrics import Metrics
    from ..settings import LiveChatSettings

log = logging.getLogger("livechat_ext.realtime.hub")

BROADCAST = "broadcast"
_CONVERSATION = "conversation:"


def admin_room(admin_id: str) -> str:
    return f"admin:{admin_id}"


def conversation_room(line_user_id: str) -> str:
    return _CONVERSATION + line_user_id


def conversation_of(room: str) -> str | None:
    """The LINE user of a conversation room; None for another room."""
    return room[len(_CONVERSATION) :] if room.startswith(_CONVERSATION) else None


class PerAddress:
    """Connections by client address, oldest first."""

    def __init__(self) -> None:
        self._by: dict[str, dict[str, Connection]] = {}

    def count(self, peer: str) -> int:
        return len(self._by.get(peer, ()))

    def add(self, conn: Connection) -> None:
        self._by.setdefault(conn.peer, {})[conn.id] = conn

    def discard(self, conn: Connection) -> None:
        group = self._by.get(conn.peer)
        if group is not None and group.pop(conn.id, None) is not None and not group:
            del self._by[conn.peer]

    def oldest(self, peer: str) -> Connection | None:
        return next(iter(self._by.get(peer, {}).values()), None)


class Visibility(Protocol):
    """Who may see broadcasts about a conversation (the `authorize` hook's answers)."""

    def visible(self, conn: Connection, line_user_id: str) -> bool | None:
        """Allowed, refused, or None: not known yet."""

    def pending(self, conn: Connection, line_user_id: str, frame: str) -> None:
        """Find out, and push `frame` to `conn` if allowed."""


class Hub:
    """Rooms of local connections. `publish` delivers locally at once, then
    hands the event to the broker for the other nodes; events from other nodes
    are delivered to local members only."""

    def __init__(
        self,
        broker: Broker,
        node_id: str | None = None,
        *,
        metrics: Metrics | None = None,
        visibility: Visibility | None = None,
        fill: Fill | None = None,
    ) -> None:
        self.node_id = node_id or uuid.uuid4().hex
        # new for every start of this process, even when node_id is fixed: clients
        # that see it change know their view may be of another run (or store)
        self.instance = uuid.uuid4().hex
        self.broker = broker
        self.metrics = metrics
        self.rooms: dict[str, dict[str, Connection]] = {}
        self.connections: dict[str, Connection] = {}
        self.broker_failures = 0
        self._visibility = visibility
        self._listeners: list[Callable[[BrokerEvent], None]] = []
        self._occupancy_watchers: list[Callable[[str, bool], None]] = []
        # per client address: the unauthenticated have an allowance of their own
        self.authenticated = PerAddress()
        self.unauthenticated = PerAddress()
        # a conversation's messages go out in seq order (see ordering.py)
        self.order = RoomOrder(self.deliver, fill=fill)

    def add_listener(self, listener: Callable[[BrokerEvent], None]) -> None:
        """Also hand every event from another node to `listener` (before delivery)."""
        self._listeners.append(listener)

    def watch_occupancy(self, watcher: Callable[[str, bool], None]) -> None:
        """Call `watcher(line_user_id, open_here)` when a conversation's room on this
        node gets its first member or loses its last one."""
        self._occupancy_watchers.append(watcher)

    async def start(self) -> None:
        self.instance = uuid.uuid4().hex  # a new run
        await self.broker.start(self._on_broker_event)

    def add(self, conn: Connection) -> None:
        """A new connection, not authenticated yet."""
        self.connections[conn.id] = conn
        self.unauthenticated.add(conn)

    def admit(self, peer: str, settings: LiveChatSettings) -> str | None:
        """Why a new socket from address `peer` is refused, or None. Past the
        address's allowance of sockets that have not authenticated, the oldest
        of those is closed (1013) to make room: idle sockets cannot keep
        operators out, and a real client authenticates at once."""
        if len(self.connections) >= settings.max_connections:
            return "connection limit reached"
        if self.authenticated.count(peer) >= settings.max_connections_per_client:
            return "connection limit of the address reached"
        if self.unauthenticated.count(peer) >= settings.max_unauthenticated_per_client:
            oldest = self.unauthenticated.oldest(peer)
            if oldest is not None:
                log.warning("closing the oldest unauthenticated connection from %s", peer)
                self.unauthenticated.discard(oldest)  # on its way out: it counts no more
                oldest.close(CloseCode.TRY_AGAIN_LATER, "too many unauthenticated connections")
        return None

    def promote(self, conn: Connection, limit: int) -> bool:
        """Count a connection that just authenticated against its address's
        `limit`; False (nothing changed) when the address is at the limit."""
        if self.authenticated.count(conn.peer) >= limit:
            return False
        self.unauthenticated.discard(conn)
        self.authenticated.add(conn)
        return True

    def remove(self, conn: Connection) -> None:
        """Forget a connection and every room membership it had."""
        self.connections.pop(conn.id, None)
        self.unauthenticated.discard(conn)
        self.authenticated.discard(conn)
        for room in conn.rooms:
            self.leave(conn, room)

    def join(self, conn: Connection, room: str) -> None:
        members = self.rooms.get(room)
        if members is None:
            members = self.rooms[room] = {}
            if room.startswith(_CONVERSATION):
                self.order.open(room)
            self._occupancy(room, True)
        members[conn.id] = conn
        if room not in conn.rooms:
            conn.rooms = (*conn.rooms, room)

    def leave(self, conn: Connection, room: str) -> None:
        members = self.rooms.get(room)
        if members is not None:
            members.pop(conn.id, None)
            if not members:
                del self.rooms[room]
                self.order.close(room)
                self._occupancy(room, False)
        if room in conn.rooms:
            conn.rooms = tuple(r for r in conn.rooms if r != room)

    def _occupancy(self, room: str, occupied: bool) -> None:
        if self._occupancy_watchers and room.startswith(_CONVERSATION):
            for watcher in self._occupancy_watchers:
                watcher(room[len(_CONVERSATION) :], occupied)

    def open_conversations(self) -> list[str]:
        """Conversations some local connection has joined."""
        return [r[len(_CONVERSATION) :] for r in self.rooms if r.startswith(_CONVERSATION)]

    def members(self, room: str) -> int:
        return len(self.rooms.get(room, ()))

    def deliver(
        self, room: str, frame: str, exclude: str | None = None, scope: str | None = None
    ) -> int:
        """Queue `frame` on every local member of `room`; never awaits a socket.

        With a `scope` (a conversation) and a `visibility`, a member gets the frame
        only if allowed; an undecided member is handed to `visibility.pending`.
        """
        members = self.rooms.get(room)
        if not members or not frame:
            return 0
        start = time.perf_counter()
        sent = 0
        check = self._visibility if scope is not None else None
        for conn_id, conn in tuple(members.items()):
            if conn_id == exclude:
                continue
            if check is not None and scope is not None:
                verdict = check.visible(conn, scope)
                if verdict is None:
                    check.pending(conn, scope, frame)
                if not verdict:
                    continue
            if conn.push(frame):
                sent += 1
        metrics = self.metrics
        if metrics is not None:
            metrics.fanout_seconds.observe(time.perf_counter() - start)
            metrics.frames_sent(frame, sent)
        return sent

    async def publish(
        self,
        room: str,
        frame: str,
        *,
        exclude: str | None = None,
        typing: tuple[str, str, bool] | None = None,
        presence: tuple[str, str] | None = None,
        scope: str | None = None,
        name: str | None = None,
        seq: int | None = None,
    ) -> None:
        """Deliver to local members now and to the other nodes through the broker.
        An empty `frame` carries state (typing, presence) to the other nodes only;
        `name` is the display name of the operator they are about. A message's
        frame gives its `seq`: every node delivers those in order."""
        self._route(room, frame, exclude, scope, seq)
        event = BrokerEvent(self.node_id, room, frame, exclude, typing, presence, scope, name, seq)
        try:
            await self.broker.publish(event)
        except Exception:  # a broker outage must not stop local delivery
            self.broker_failures += 1
            log.exception("broker publish failed; other nodes recover by catch-up")

    def _on_broker_event(self, event: BrokerEvent) -> None:
        if event.node == self.node_id:
            return
        for listener in self._listeners:
            listener(event)
        self._route(event.room, event.frame, event.exclude, event.scope, event.seq)

    def _route(
        self, room: str, frame: str, exclude: str | None, scope: str | None, seq: int | None
    ) -> None:
        if seq is None or not frame:
            self.deliver(room, frame, exclude, scope)
        else:
            self.order.offer(room, seq, frame, exclude, scope)
