"""The team's shared state: who is online (presence) and who is typing where,
on this node and, through the cluster, on every node.

Presence changes are coalesced (PROTOCOL.md 1.1, "Presence at scale"): a
change on a quiet node goes out at once, alone, as `operator_status`; the
changes that follow within the window are sent together, each operator once
in its latest state, in one `operators_changed` serialized once for every
socket and published once to the other nodes. The window is `presence_window`
(LIVECHAT_PRESENCE_WINDOW, 0.25 s; 0 turns coalescing off: one
`operator_status` per change), longer on a node with many sockets (one second per
`_SENDS_PER_SECOND` of them, at most 1 s as PROTOCOL.md allows), so a storm
costs each node a bounded number of sends per second whatever its size: N
arrivals are a few frames per second on each socket instead of N, and
`auth_success.operators` is a join of entries serialized once per change, not
N models dumped per authentication.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
from datetime import datetime
from typing import Any

from ..background import Spawn
from ..errors import BrokerError, describe
from ..models import utcnow
from ..operator import Operator
from ..protocol.server import (
    OperatorsChanged,
    OperatorState,
    OperatorStatus,
    UserTyping,
    encode,
    encode_with_operators,
    operator_entry,
)
from ..settings import LiveChatSettings
from .cluster_sync import ClusterSync
from .deadlines import Deadlines
from .hub import BROADCAST, Hub, conversation_room
from .presence import Presence
from .typing_indicator import TypingTracker

log = logging.getLogger("livechat_ext.realtime.team")

_CLUSTER_READ_SECONDS = 0.5  # a slow broker must not stall webhooks: local view instead
_SETTLE_SECONDS = 3.0  # at shutdown: the heartbeat expiry covers what is left
PRESENCE_WINDOW = 0.25  # the default of LIVECHAT_PRESENCE_WINDOW (PROTOCOL.md: <= 1 s)
_MAX_WINDOW = 1.0
_SENDS_PER_SECOND = 4000  # presence frames a node's flushes aim to stay under
_OPERATORS_CHANGED = '{"type":"operators_changed"'
_CROSSING_SECONDS = 2 * _MAX_WINDOW  # two nodes' frames in flight at once: both windows


def _cause(exc: BaseException, bound: asyncio.Timeout) -> str:
    if bound.expired():
        return f"no answer within {_CLUSTER_READ_SECONDS}s"
    return describe(exc)


def _as_datetime(value: Any) -> datetime | None:
    """A `last_seen` as a datetime (another node's frames carry ISO 8601 text)."""
    if isinstance(value, datetime) or value is None:
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


class Team:
    """Presence and typing, announced through the hub (and the cluster)."""

    def __init__(
        self,
        settings: LiveChatSettings,
        hub: Hub,
        spawn: Spawn,
        cluster_sync: ClusterSync | None = None,
        *,
        presence_window: float | None = None,
    ) -> None:
        self.hub = hub
        self._spawn = spawn
        self.cluster_sync = cluster_sync
        self.presence = Presence(settings.presence_grace, self._announce_presence)
        # display names from tokens (this node's) and broker events (the others');
        # an operator never seen here is shown by admin id, as PROTOCOL.md allows
        self.names: dict[str, str] = {}
        # coalescing: this node's changes not sent yet (admin_id -> status, last_seen)
        # 0: no coalescing, one operator_status per change (1.0 clients)
        self.presence_window = (
            settings.presence_window if presence_window is None else presence_window
        )
        self._pending: dict[str, tuple[str, datetime | None]] = {}
        self._flush_at: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        self._recent: dict[str, str] = {}  # announced from here lately (see _superseded)
        self._older: dict[str, str] = {}
        self._recent_since = float("-inf")
        self._publishing: set[asyncio.Future[Any]] = set()  # flushes not published yet
        self._closing = False  # shutdown: changes wait for the final flush
        self._closed = False  # after it: nothing more is published
        # what this node's sockets were told, as serialized entries: the operator
        # list of auth_success is their join (sorted ids and entries kept until a change)
        self._entries: dict[str, str] = {}
        self._sorted: tuple[list[str], list[str]] | None = None
        self._cluster_read: asyncio.Future[None] | None = None  # the first, shared
        self.presence_frames = 0  # presence frames made (each serialized once): for tests
        self.typing = TypingTracker(settings.typing_timeout)
        self._typing_ends = Deadlines(self._typing_due)
        hub.add_listener(self._on_remote_event)
        hub.watch_occupancy(self._conversation_occupancy)

    def start(self) -> None:
        """A (re)start after `shutdown`: presence is announced again."""
        self._closing = self._closed = False

    def remember(self, operator: Operator) -> None:
        """Keep the display name an operator's token gives (the latest wins)."""
        admin_id, name = operator.admin_id, operator.display_name
        if self.names.get(admin_id) == name:
            return
        self.names[admin_id] = name
        told = self.presence.told_status(admin_id)
        if told is None:
            return
        # listed from now on with the new name; shown online: every socket (every
        # node's) is told it with the next flush (an offline one is arriving)
        self._told(admin_id, told, self.presence.last_seen(admin_id), name)
        if told == "online":
            self._queue(admin_id, told, None)

    def name_of(self, admin_id: str) -> str:
        return self.names.get(admin_id, admin_id)

    # what this node's sockets were told -------------------------------------------

    def _told(self, admin_id: str, status: str, last_seen: Any, name: str) -> str:
        """Record that this node's sockets are told `status` (by a frame about to be
        delivered to them all); the operator's serialized entry."""
        if status == "online":
            last_seen = None
        elif last_seen is None:
            last_seen = self.presence.last_seen(admin_id) or utcnow()
        # the entry's own time (when the operator left), not the time it is told
        self.presence.remote(admin_id, status, _as_datetime(last_seen))
        entry = operator_entry(admin_id, status, last_seen, name)
        if admin_id not in self._entries:
            self._sorted = None
        elif self._sorted is not None:
            ids, entries = self._sorted
            entries[bisect.bisect_left(ids, admin_id)] = entry
        self._entries[admin_id] = entry
        return entry

    def _listing(self) -> tuple[list[str], list[str]]:
        if self._sorted is None:
            ids = sorted(self._entries)
            self._sorted = (ids, [self._entries[a] for a in ids])
        return self._sorted

    async def _cluster_ready(self) -> None:
        """Once after start, before the first list: learn from the cluster who is
        online on other nodes (broker events and the heartbeat's reconciliation
        keep it after that). One read, shared by the authentications waiting."""
        if self.cluster_sync is None:
            return
        if self._cluster_read is None:
            self._cluster_read = asyncio.ensure_future(self._first_cluster_read())
        await asyncio.shield(self._cluster_read)

    async def _first_cluster_read(self) -> None:
        try:
            await self.reconcile(log_each=False)
        except Exception:  # never fail an authentication for it: the heartbeat retries
            log.exception("reading the cluster's operators failed; using this node's view")

    async def operators_json(self, admin_id: str, name: str) -> str:
        """The `auth_success.operators` entries (joined, without brackets) for an
        operator who just authenticated: what this node's sockets were told,
        sorted by admin id, with the operator themself online. Cost: a join of
        cached entries, linear in bytes, no model made or dumped."""
        await self._cluster_ready()
        ids, entries = self._listing()
        i = bisect.bisect_left(ids, admin_id)
        j = i + 1 if i < len(ids) and ids[i] == admin_id else i
        own = operator_entry(admin_id, "online", None, name)
        return ",".join([*entries[:i], own, *entries[j:]])

    async def operators(self) -> list[OperatorState]:
        """Every known operator with status (for the REST API): what this node's
        sockets were told, plus this node's own operators not announced yet."""
        await self._cluster_ready()
        ids, entries = self._listing()
        known = {a: json.loads(e) for a, e in zip(ids, entries, strict=True)}
        for admin_id in self.presence.local_counts():
            known[admin_id] = {
                "admin_id": admin_id,
                "status": "online",
                "name": self.name_of(admin_id),
            }
        return [OperatorState.model_validate(known[a]) for a in sorted(known)]

    async def reconcile(self, *, log_each: bool = True) -> None:
        """Tell this node's sockets the cluster's truth where it differs from what
        they were told: an announcement overtaken by an older one from another
        node (two nodes publish in no common order), or lost with a node that
        died between its cluster write and its publish. Runs at every heartbeat;
        an operator whose state changed during the read waits for the next one,
        as does one of this node's changes not sent yet. The corrections go to
        this node's sockets only, as one frame."""
        sync = self.cluster_sync
        if sync is None:
            return
        mark = self.presence.changes
        try:
            async with asyncio.timeout(_CLUSTER_READ_SECONDS) as bound:
                online = await sync.cluster.online_operators()
        except (BrokerError, TimeoutError) as exc:
            log.warning(
                "cluster unavailable for presence reconciliation (%s); using this node's view",
                _cause(exc, bound),
                exc_info=exc,
            )
            return
        told = self.presence.told()
        corrected: list[tuple[str, str, datetime | None]] = []
        for admin_id in sorted(set(told) | online):
            if self.presence.changed_since(admin_id, mark) or admin_id in self._pending:
                continue
            here = self.presence.here(admin_id)
            truth = "online" if admin_id in online or here else "offline"
            if told.get(admin_id) == truth:
                continue
            if log_each:
                log.info("presence of %s corrected to %s on this node", admin_id, truth)
            last_seen = None
            if truth == "offline":
                last_seen = self.presence.last_seen(admin_id) or utcnow()
            corrected.append((admin_id, truth, last_seen))
        batches = [[c] for c in corrected] if self.presence_window <= 0 else [corrected]
        for batch in batches if corrected else []:
            self.hub.deliver(BROADCAST, self._frame(batch))  # this node's sockets only

    async def room_open(self, line_user_id: str) -> bool:
        """Whether an operator has the conversation open on any node."""
        if self.hub.members(conversation_room(line_user_id)) > 0:
            return True
        sync = self.cluster_sync
        if sync is None:
            return False
        try:
            async with asyncio.timeout(_CLUSTER_READ_SECONDS) as bound:
                return await sync.cluster.room_open(line_user_id)
        except (BrokerError, TimeoutError) as exc:
            log.warning(
                "cluster unavailable for room state (%s); using this node's view",
                _cause(exc, bound),
                exc_info=exc,
            )
            return False

    async def publish_typing(
        self, line_user_id: str, admin_id: str, is_typing: bool, exclude: str | None
    ) -> None:
        text = encode(self._user_typing(line_user_id, admin_id, is_typing))
        await self.hub.publish(
            conversation_room(line_user_id),
            text,
            exclude=exclude,
            typing=(line_user_id, admin_id, is_typing),
            name=self.name_of(admin_id),
        )

    def _user_typing(self, line_user_id: str, admin_id: str, is_typing: bool) -> UserTyping:
        return UserTyping(
            line_user_id=line_user_id,
            admin_id=admin_id,
            is_typing=is_typing,
            name=self.name_of(admin_id),
        )

    async def operator_typing(
        self, line_user_id: str, admin_id: str, is_typing: bool, conn_id: str
    ) -> None:
        """An operator of this node typed (or stopped) in a conversation."""
        if not is_typing:
            if self.typing.stop(line_user_id, admin_id):
                await self.publish_typing(line_user_id, admin_id, False, conn_id)
            return
        fresh = self.typing.start(line_user_id, admin_id, conn_id, self._typing_ends.now())
        self._typing_ends.watch("typing", self.typing)
        if fresh:
            await self.publish_typing(line_user_id, admin_id, True, conn_id)
        else:  # still typing: refresh the other nodes' timers, tell no socket again
            await self.hub.publish(
                conversation_room(line_user_id),
                "",
                typing=(line_user_id, admin_id, True),
                name=self.name_of(admin_id),
            )

    def connection_closed(self, conn_id: str) -> None:
        """What a closed connection was typing has stopped, for everyone."""
        for line_user_id, admin_id in self.typing.connection_closed(conn_id):
            self._spawn(self.publish_typing(line_user_id, admin_id, False, None))

    def _typing_due(self, _key: str, now: float) -> None:
        for ended in self.typing.expire(now):
            if ended.local:
                self._spawn(self.publish_typing(ended.line_user_id, ended.admin_id, False, None))
            else:
                # another node's entry ran out without news (that node may be gone):
                # tell this node's sockets, and only them
                text = encode(self._user_typing(ended.line_user_id, ended.admin_id, False))
                self.hub.deliver(conversation_room(ended.line_user_id), text)
        self._typing_ends.watch("typing", self.typing)

    # presence changes, coalesced -------------------------------------------------

    async def publish_presence(self, admin_id: str, status: str, last_seen: Any = None) -> None:
        """Announce a change to every node's sockets: at once on a quiet node,
        otherwise with the others of its window (see the module's docstring)."""
        self._queue(admin_id, status, last_seen)

    def _queue(self, admin_id: str, status: str, last_seen: Any) -> None:
        if self._closed:  # the hub is stopping: the cluster's expiry tells the others
            log.debug("presence of %s (%s) after the final flush: not announced", admin_id, status)
            return
        self._pending[admin_id] = (status, last_seen)
        if self.presence_window <= 0 and not self._closing:
            self._flush()
        elif self._flush_at is None and not self._closing:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_flush + self._window() - loop.time())
            self._flush_at = loop.call_later(delay, self._flush)

    def _window(self) -> float:
        sockets = self.hub.members(BROADCAST)
        return min(_MAX_WINDOW, max(self.presence_window, sockets / _SENDS_PER_SECOND))

    def _frame(self, changes: list[tuple[str, str, datetime | None]]) -> str:
        """Record `changes` as told and make their one frame: `operator_status`
        for a single change (what a 1.0 client knows), else `operators_changed`."""
        self.presence_frames += 1
        entries = [self._told(a, st, seen, self.name_of(a)) for a, st, seen in changes]
        if len(changes) == 1:
            return encode(OperatorStatus.model_validate(json.loads(entries[0])))
        return encode_with_operators(OperatorsChanged(operators=[]), ",".join(entries))

    def _flush(self) -> None:
        """The one flushing path (the window's timer, `flush_presence`): the
        pending changes as one frame, delivered here when its task starts (tasks
        start in order: so do flushes) and published to the other nodes."""
        self._flush_at = None
        pending, self._pending = self._pending, {}
        if not pending:
            return
        now = self._last_flush = asyncio.get_running_loop().time()
        self._remember_sent(pending, now)
        changes = [(a, st, seen) for a, (st, seen) in pending.items()]
        if self.presence_window <= 0:  # one operator_status per change
            for change in changes:
                self._send([change])
        else:
            self._send(changes)

    def _send(self, changes: list[tuple[str, str, datetime | None]]) -> None:
        text = self._frame(changes)
        if len(changes) == 1:
            admin_id, status, _ = changes[0]
            # as before 1.1: other nodes (older ones too) read the change from the event
            publish = self.hub.publish(
                BROADCAST, text, presence=(admin_id, status), name=self.name_of(admin_id)
            )
        else:  # other nodes read the changes from the frame itself
            publish = self.hub.publish(BROADCAST, text)
        task = self._spawn(publish)
        if isinstance(task, asyncio.Future):
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)

    def _remember_sent(self, pending: dict[str, tuple[str, datetime | None]], now: float) -> None:
        """Keep what this node announced in the last few windows (two generations,
        each at least `_CROSSING_SECONDS` long): a remote change that contradicts
        one of them may have crossed it (see `_superseded`)."""
        if now - self._recent_since > _CROSSING_SECONDS:
            self._older, self._recent, self._recent_since = self._recent, {}, now
        for admin_id, (status, _) in pending.items():
            self._recent[admin_id] = status

    async def flush_presence(self) -> None:
        """Send what is pending now (shutdown, tests) through the same path as the
        window's timer, after every flush before it; delivered before returning."""
        if self._flush_at is not None:
            self._flush_at.cancel()
        self._flush()
        if self._publishing:
            await asyncio.gather(*self._publishing, return_exceptions=True)

    def _announce_presence(self, admin_id: str, status: str, last_seen: Any) -> None:
        sync = self.cluster_sync
        if sync is None:
            self._spawn(self.publish_presence(admin_id, status, last_seen))
            return

        async def change() -> None:
            try:
                online = 1 if status == "online" else 0
                if await sync.cluster.set_operator(sync.node, admin_id, online):
                    return  # online on another node too: nothing changed for anyone
            except BrokerError as exc:
                log.warning(
                    "cluster unavailable (%s); announcing %s %s from here",
                    describe(exc),
                    admin_id,
                    status,
                    exc_info=exc,
                )
                sync.republish_soon()  # the cluster may still list a departed operator
            await self.publish_presence(admin_id, status, last_seen)

        sync.submit(change)

    def _conversation_occupancy(self, line_user_id: str, open_here: bool) -> None:
        sync = self.cluster_sync
        if sync is not None:
            sync.submit(lambda: sync.cluster.set_room(sync.node, line_user_id, open_here))

    def _on_remote_event(self, event: Any) -> None:
        about = event.typing[1] if event.typing else event.presence[0] if event.presence else None
        if about is not None and event.name:
            self.names[about] = event.name
        if event.presence is None and event.room == BROADCAST:
            if event.frame.startswith(_OPERATORS_CHANGED):
                self._remote_changes(event.frame)
                return
        if event.typing is not None:
            line_user_id, admin_id, is_typing = event.typing
            if is_typing:
                self.typing.start(line_user_id, admin_id, None, self._typing_ends.now())
                self._typing_ends.watch("typing", self.typing)
            else:
                self.typing.stop(line_user_id, admin_id)
        if event.presence is not None:
            admin_id, status = event.presence
            last_seen = utcnow() if status == "offline" else None
            self._superseded(admin_id, status)
            self._told(admin_id, status, last_seen, self.name_of(admin_id))

    def _superseded(self, admin_id: str, status: str) -> None:
        """Another node announced `status` for an operator whose change from this
        node waits for its window, or went out from here moments ago (the two
        frames may have crossed between the nodes). The two cluster writes were
        made in an order this node cannot see from here (this node's may be the
        older: the operator left here, then came back on that node), so neither
        announcement wins by arriving last: a pending one is dropped and, after
        this node's queued cluster writes, the cluster's truth is announced to
        every node if it is not what the sockets were just told. The cost: one
        cluster read per contradiction, none otherwise."""
        sync = self.cluster_sync
        if sync is None:
            return
        recent, older = self._recent.pop(admin_id, None), self._older.pop(admin_id, None)
        sent = recent or older
        pending = self._pending.get(admin_id)
        if pending is None:
            # announced from here moments ago with another status: the two frames
            # may have crossed between the nodes; the cluster decides
            if sent is None or sent == status:
                return
            pending = (sent, self.presence.last_seen(admin_id))
        elif pending[0] == status:
            return
        else:
            del self._pending[admin_id]
        _, last_seen = pending

        async def recheck() -> None:
            if admin_id in self._pending:  # a later change here decides
                return
            try:
                elsewhere = await sync.cluster.online_elsewhere(sync.node, admin_id)
            except BrokerError as exc:
                log.warning(
                    "cluster unavailable (%s); announcing %s %s from here",
                    describe(exc),
                    admin_id,
                    pending[0],
                    exc_info=exc,
                )
                await self.publish_presence(admin_id, pending[0], last_seen)
                return
            truth = "online" if elsewhere or self.presence.here(admin_id) else "offline"
            if admin_id not in self._pending and self.presence.told_status(admin_id) != truth:
                seen = None if truth == "online" else last_seen or self.presence.last_seen(admin_id)
                await self.publish_presence(admin_id, truth, seen)

        sync.submit(recheck)

    def _remote_changes(self, frame: str) -> None:
        """Another node's `operators_changed`: this node's sockets get it as is."""
        try:
            operators = json.loads(frame)["payload"]["operators"]
            for o in operators:
                admin_id, name = str(o["admin_id"]), o.get("name")
                if isinstance(name, str) and name:
                    self.names[admin_id] = name
                status = str(o["status"])
                self._superseded(admin_id, status)
                self._told(admin_id, status, o.get("last_seen"), self.name_of(admin_id))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed operators_changed from another node", exc_info=True)

    async def shutdown(self) -> None:
        """Announce now what the presence grace would have announced later; the
        changes made until the final flush go out with it, none after it."""
        self._closing = True
        for admin_id in self.presence.flush_pending():
            last_seen = self.presence.last_seen(admin_id)
            if self.cluster_sync is None:  # queued now, sent by the flush below
                await self.publish_presence(admin_id, "offline", last_seen)
            else:  # after the cluster write (settled below)
                self._announce_presence(admin_id, "offline", last_seen)
        if self.cluster_sync is not None:
            try:
                async with asyncio.timeout(_SETTLE_SECONDS):
                    await self.cluster_sync.settle()
            except TimeoutError:
                log.warning(
                    "cluster updates still queued at shutdown; the heartbeat expiry "
                    "takes this node's operators offline"
                )
        await self.flush_presence()
        self._closed = True
        self._cluster_read = None  # a restart reads the cluster again
        self.presence.close()
        self._typing_ends.close()
        self.typing.close()
