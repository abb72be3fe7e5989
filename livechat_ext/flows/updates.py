"""`conversation_updated`, at most once per window per conversation, always
ending with the latest state: a busy conversation does not flood every
operator's list with one frame per message."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..models import Conversation
from ..protocol.server import ConversationUpdated, encode
from ..realtime.hub import BROADCAST, Hub
from ..store.base import ReadStore

log = logging.getLogger("livechat_ext.flows.updates")


class ConversationUpdates:
    """Leading and trailing edge: the first change in a quiet conversation is
    sent at once; changes within `window` seconds after it are merged into one
    send at the end of the window, read from the store at that moment."""

    def __init__(
        self,
        store: ReadStore,
        hub: Hub,
        window: float,
        spawn: Callable[[Coroutine[Any, Any, Any]], object],
    ) -> None:
        self.store = store
        self.hub = hub
        self.window = window
        self._spawn = spawn
        self._last: dict[str, float] = {}
        self._scheduled: dict[str, asyncio.TimerHandle] = {}

    async def changed(self, line_user_id: str, conversation: Conversation | None = None) -> None:
        """A conversation got a message or changed; `conversation`, when given, is
        its state right after the change (sent as is instead of read again)."""
        if line_user_id in self._scheduled:
            return  # the trailing send will read the latest state
        last = self._last.get(line_user_id)
        now = time.monotonic()
        if last is None or now - last >= self.window:
            await self._send(line_user_id, conversation)
            return
        loop = asyncio.get_running_loop()
        self._scheduled[line_user_id] = loop.call_later(
            self.window - (now - last), self._trailing, line_user_id
        )

    def _trailing(self, line_user_id: str) -> None:
        self._scheduled.pop(line_user_id, None)
        self._spawn(self._send(line_user_id))

    async def _send(self, line_user_id: str, conversation: Conversation | None = None) -> None:
        now = time.monotonic()
        self._last[line_user_id] = now
        if len(self._last) > 10_000:  # forget quiet conversations
            self._last = {k: t for k, t in self._last.items() if now - t < self.window}
        if conversation is None:
            conversation = await self.store.get_conversation(line_user_id)
        if conversation is not None:
            # only operators the authorize hook allows for it see it
            await self.hub.publish(
                BROADCAST,
                encode(ConversationUpdated(conversation=conversation)),
                scope=line_user_id,
            )

    def close(self) -> None:
        for handle in self._scheduled.values():
            handle.cancel()
        self._scheduled.clear()
