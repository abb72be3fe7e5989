"""The team's shared state: who is online (presence) and who is typing where,
on this node and, through the cluster, on every node."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..background import Spawn
from ..errors import BrokerError, describe
from ..models import utcnow
from ..operator import Operator
from ..protocol.server import OperatorState, OperatorStatus, UserTyping, encode
from ..settings import LiveChatSettings
from .cluster_sync import ClusterSync
from .deadlines import Deadlines
from .hub import BROADCAST, Hub, conversation_room
from .presence import Presence
from .typing_indicator import TypingTracker

log = logging.getLogger("livechat_ext.realtime.team")

_CLUSTER_READ_SECONDS = 0.5  # a slow broker must not stall webhooks: local view instead
_SETTLE_SECONDS = 3.0  # at shutdown: the heartbeat expiry covers what is left


def _cause(exc: BaseException, bound: asyncio.Timeout) -> str:
    if bound.expired():
        return f"no answer within {_CLUSTER_READ_SECONDS}s"
    return describe(exc)


class Team:
    """Presence and typing, announced through the hub (and the cluster)."""

    def __init__(
        self,
        settings: LiveChatSettings,
        hub: Hub,
        spawn: Spawn,
        cluster_sync: ClusterSync | None = None,
    ) -> None:
        self.hub = hub
        self._spawn = spawn
        self.cluster_sync = cluster_sync
        self.presence = Presence(settings.presence_grace, self._announce_presence)
        # display names from tokens (this node's) and broker events (the others');
        # an operator never seen here is shown by admin id, as PROTOCOL.md allows
        self.names: dict[str, str] = {}
        self.typing = TypingTracker(settings.typing_timeout)
        self._typing_ends = Deadlines(self._typing_due)
        hub.add_listener(self._on_remote_event)
        hub.watch_occupancy(self._conversation_occupancy)

    def remember(self, operator: Operator) -> None:
        """Keep the display name an operator's token gives (the latest wins)."""
        self.names[operator.admin_id] = operator.display_name

    def name_of(self, admin_id: str) -> str:
        return self.names.get(admin_id, admin_id)

    async def operators(self) -> list[OperatorState]:
        """Every known operator with status: this node's view, merged with the cluster's."""
        known = {a: (st, seen) for a, st, seen in self.presence.snapshot()}
        sync = self.cluster_sync
        if sync is not None:
            try:
                async with asyncio.timeout(_CLUSTER_READ_SECONDS) as bound:
                    online = await sync.cluster.online_operators()
            except (BrokerError, TimeoutError) as exc:
                log.warning(
                    "cluster unavailable for the operator list (%s); using this node's view",
                    _cause(exc, bound),
                    exc_info=exc,
                )
            else:
                for admin_id, (status, seen) in list(known.items()):
                    if (
                        status == "online"
                        and admin_id not in online
                        and self.presence.connections(admin_id) == 0
                    ):
                        known[admin_id] = ("offline", seen)
                for admin_id in online:
                    known[admin_id] = ("online", None)
        for admin_id, (status, _) in known.items():
            self.presence.listed(admin_id, status)
        return [
            OperatorState(admin_id=a, status=st, last_seen=seen, name=self.name_of(a))
            for a, (st, seen) in sorted(known.items())
        ]

    async def reconcile(self) -> None:
        """Tell this node's sockets the cluster's truth where it differs from what
        they were told: an announcement overtaken by an older one from another
        node (two nodes publish in no common order), or lost with a node that
        died between its cluster write and its publish. Runs at every heartbeat;
        an operator whose state changed during the read waits for the next one."""
        sync = self.cluster_sync
        if sync is None:
            return
        mark = self.presence.changes
        try:
            online = await asyncio.wait_for(sync.cluster.online_operators(), _CLUSTER_READ_SECONDS)
        except Exception as exc:
            log.warning("cluster unavailable for presence reconciliation: %s", exc)
            return
        told = self.presence.told()
        for admin_id in sorted(set(told) | online):
            if self.presence.changed_since(admin_id, mark):
                continue
            here = self.presence.here(admin_id)
            truth = "online" if admin_id in online or here else "offline"
            if told.get(admin_id) == truth:
                continue
            log.info("presence of %s corrected to %s on this node", admin_id, truth)
            last_seen = None
            if truth == "offline":
                last_seen = self.presence.last_seen(admin_id) or utcnow()
            self.presence.remote(admin_id, truth)
            frame = OperatorStatus(admin_id=admin_id, status=truth, last_seen=last_seen)
            self.hub.deliver(BROADCAST, encode(frame))  # this node's sockets only

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

    async def publish_presence(self, admin_id: str, status: str, last_seen: Any = None) -> None:
        self.presence.remote(admin_id, status)  # our own events do not come back to us
        name = self.name_of(admin_id)
        text = encode(
            OperatorStatus(admin_id=admin_id, status=status, last_seen=last_seen, name=name)
        )
        await self.hub.publish(BROADCAST, text, presence=(admin_id, status), name=name)

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
        if event.typing is not None:
            line_user_id, admin_id, is_typing = event.typing
            if is_typing:
                self.typing.start(line_user_id, admin_id, None, self._typing_ends.now())
                self._typing_ends.watch("typing", self.typing)
            else:
                self.typing.stop(line_user_id, admin_id)
        if event.presence is not None:
            self.presence.remote(*event.presence)

    async def shutdown(self) -> None:
        """Announce now what the presence grace would have announced later."""
        for admin_id in self.presence.flush_pending():
            self._announce_presence(admin_id, "offline", self.presence.last_seen(admin_id))
        if self.cluster_sync is not None:
            try:
                async with asyncio.timeout(_SETTLE_SECONDS):
                    await self.cluster_sync.settle()
            except TimeoutError:
                log.warning(
                    "cluster updates still queued at shutdown; the heartbeat expiry "
                    "takes this node's operators offline"
                )
        self.presence.close()
        self._typing_ends.close()
        self.typing.close()
