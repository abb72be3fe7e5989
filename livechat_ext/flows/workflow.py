"""The team workflow (protocol 1.1): assignment, resolve and reopen, the shared
read state (with LINE's "Read" for the user) and internal notes."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from ..background import Spawn
from ..errors import DeliveryError
from ..metrics import Metrics
from ..models import Conversation, ConversationStatus
from ..operator import Operator
from ..protocol.server import (
    ConversationUpdated,
    MessageReceived,
    MessageSent,
    MessageUpdated,
    Notification,
    encode,
)
from ..realtime.hub import BROADCAST, Hub, admin_room, conversation_room
from ..store import Store
from .updates import ConversationUpdates

if TYPE_CHECKING:
    from ..line import LineClient

log = logging.getLogger("livechat_ext.flows.workflow")

MARK_READ_ATTEMPTS = 3
"""Rounds of LINE's `markAsRead` (each with the client's own retries) before a
failure is left to the next `mark_read`, whose newer token covers this one."""


class Workflow:
    """Carries out the workflow's changes; each returns the conversation as it
    now is and whether it changed (a repeat changes nothing and tells nobody)."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        updates: ConversationUpdates,
        *,
        line: LineClient | None,
        spawn: Spawn,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.updates = updates
        self.line = line
        self.metrics = metrics
        self._spawn = spawn
        self.retry_delay = 2.0  # seconds before another round of markAsRead

    async def assign(
        self, operator: Operator, line_user_id: str, admin_id: str | None
    ) -> tuple[Conversation, bool]:
        conversation, changed = await self.store.assign(line_user_id, admin_id)
        if changed and admin_id is not None and admin_id != operator.admin_id:
            name = conversation.display_name or line_user_id
            notice = Notification(
                kind="assigned",
                title="Assigned to you",
                body=f"{operator.display_name} assigned you the chat with {name}",
                line_user_id=line_user_id,
                data={"by": operator.admin_id},
            )
            await self.hub.publish(admin_room(admin_id), encode(notice))
        return conversation, changed

    async def set_status(
        self, line_user_id: str, status: ConversationStatus
    ) -> tuple[Conversation, bool]:
        return await self.store.set_conversation_status(line_user_id, status)

    async def mark_read(self, line_user_id: str, seq: int) -> tuple[Conversation, bool]:
        """Raise the shared read state; the messages it covers are updated in the
        room, and LINE is told in the background (the operator never waits)."""
        conversation, change = await self.store.mark_read(line_user_id, seq)
        if change is None:
            return conversation, False
        room = conversation_room(line_user_id)
        for message in change.messages:
            await self.hub.publish(room, encode(MessageUpdated(message=message)), seq=message.seq)
        if change.token is not None and self.line is not None:
            self._spawn(self._mark_in_line(self.line, line_user_id, change.token))
        return conversation, True

    async def announce(self, conversation: Conversation, exclude: str | None) -> None:
        """A changed conversation, to every operator allowed to see it (the one
        who changed it has it already, as the answer to the frame)."""
        frame = encode(ConversationUpdated(conversation=conversation))
        await self.hub.publish(BROADCAST, frame, exclude=exclude, scope=conversation.line_user_id)

    async def note(
        self,
        conn_id: str | None,
        operator: Operator,
        line_user_id: str,
        text: str,
        client_msg_id: str,
        ref: str | None,
    ) -> str:
        """Store a note (idempotent on the client's id) and show it to the room;
        returns the `message_sent` answer."""
        stored = await self.store.add_outbound(
            line_user_id, client_msg_id, operator.admin_id, text, note=True
        )
        if stored.created:
            frame = encode(MessageReceived(message=stored.message))
            await self.hub.publish(
                conversation_room(line_user_id), frame, exclude=conn_id, seq=stored.message.seq
            )
            await self.updates.changed(line_user_id)
        return encode(MessageSent(client_msg_id=client_msg_id, message=stored.message), ref)

    async def _mark_in_line(self, line: LineClient, line_user_id: str, token: str) -> None:
        """LINE's `markAsRead`: the user sees "Read". A failure is logged and tried
        again a few times; the read state of the team does not depend on it."""
        for attempt in range(1, MARK_READ_ATTEMPTS + 1):
            try:
                with self._timed("mark_as_read"):
                    await line.mark_as_read(token)
                return
            except (DeliveryError, OSError) as exc:
                log.warning(
                    "markAsRead for %s failed (attempt %d of %d): %s",
                    line_user_id,
                    attempt,
                    MARK_READ_ATTEMPTS,
                    exc,
                )
                if isinstance(exc, DeliveryError) and not exc.transient:
                    return  # LINE refused the token itself: asking again cannot help
            if attempt < MARK_READ_ATTEMPTS:
                await asyncio.sleep(self.retry_delay * attempt)

    def _timed(self, call: str) -> AbstractContextManager[None]:
        return self.metrics.line_call(call) if self.metrics else nullcontext()
