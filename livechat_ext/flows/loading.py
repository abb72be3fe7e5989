"""LINE's loading animation: the only typing indicator a LINE user can see."""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from typing import TYPE_CHECKING

from ..background import Spawn
from ..errors import DeliveryError, StoreError, describe
from ..metrics import Metrics
from ..settings import LiveChatSettings
from ..store.base import ReadStore
from .inbound import in_standby

if TYPE_CHECKING:
    from ..line import LineClient

log = logging.getLogger("livechat_ext.flows.loading")

_REMEMBERED = 10_000  # users typed to lately; older ones are forgotten past this


class LoadingAnimation:
    """Shows the animation to a LINE user while an operator types: at most once
    per half its length, never for a chat in LINE's standby mode, in the background."""

    def __init__(
        self,
        settings: LiveChatSettings,
        store: ReadStore,
        line: LineClient | None,
        *,
        spawn: Spawn,
        metrics: Metrics | None = None,
    ) -> None:
        self._enabled = settings.loading_animation and line is not None
        self._seconds = settings.loading_seconds
        self._store = store
        self._line = line
        self._spawn = spawn
        self._metrics = metrics
        self._shown_at: dict[str, float] = {}  # LINE user -> when it was last shown

    def operator_typing(self, line_user_id: str) -> None:
        """An operator types in this conversation."""
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._shown_at.get(line_user_id, -1e9) < self._seconds / 2:
            return
        if len(self._shown_at) > _REMEMBERED:
            self._shown_at = {u: t for u, t in self._shown_at.items() if now - t < self._seconds}
        self._shown_at[line_user_id] = now
        self._spawn(self._show(line_user_id))

    async def _show(self, line_user_id: str) -> None:
        line = self._line
        if line is None:
            return
        try:
            if await in_standby(self._store, line_user_id):
                return  # another channel owns the chat: show nothing on its behalf
        except StoreError:
            pass
        timed = self._metrics.line_call("loading") if self._metrics else nullcontext()
        try:
            with timed:
                await line.start_loading(line_user_id, self._seconds)
        except (DeliveryError, OSError) as exc:
            log.info("loading animation for %s failed (%s)", line_user_id, describe(exc))
