"""Who may see which conversation: the host's `authorize` hook, and the
filtering of broadcasts about a conversation by its (cached) answers."""

from __future__ import annotations

import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from ..background import Spawn
from ..operator import Operator
from .connection import Connection

log = logging.getLogger("livechat_ext.realtime.access")

_VISIBILITY_TTL = 60.0  # seconds an authorize answer is reused for broadcasts
_VISIBILITY_MAX = 10_000

Authorize = Callable[[Operator, str], Awaitable[bool] | bool]


async def allow_all(operator: Operator, line_user_id: str) -> bool:
    """The default authorization hook: every authenticated operator may act."""
    return True


class Access:
    """Asks the hook, and filters the hub's scoped broadcasts with its answers."""

    def __init__(self, authorize: Authorize, spawn: Spawn) -> None:
        self._authorize = authorize
        self._spawn = spawn
        self._operators: dict[str, Operator] = {}  # connection id -> its operator
        self._visible: OrderedDict[tuple[str, str], tuple[bool, float]] = OrderedDict()
        self._checking: dict[tuple[str, str], list[tuple[Connection, str]]] = {}
        self._known: OrderedDict[str, Operator] = OrderedDict()  # admin id -> latest seen

    @property
    def filters(self) -> bool:
        """Whether broadcasts need filtering (not with the allow-all default)."""
        return self._authorize is not allow_all

    def bind(self, conn: Connection, operator: Operator) -> None:
        self._operators[conn.id] = operator
        self._remember(operator)

    def _remember(self, operator: Operator) -> None:
        self._known[operator.admin_id] = operator
        self._known.move_to_end(operator.admin_id)
        while len(self._known) > _VISIBILITY_MAX:
            self._known.popitem(last=False)

    def unbind(self, conn: Connection) -> None:
        self._operators.pop(conn.id, None)

    async def allowed(self, operator: Operator, line_user_id: str) -> bool:
        """Ask the host's authorization hook (sync or async); the answer is also
        remembered for a while to filter broadcasts about the conversation."""
        result = self._authorize(operator, line_user_id)
        if inspect.isawaitable(result):
            result = await result
        allowed = bool(result)
        self._remember(operator)
        key = (operator.admin_id, line_user_id)
        self._visible[key] = (allowed, time.monotonic() + _VISIBILITY_TTL)
        self._visible.move_to_end(key)
        while len(self._visible) > _VISIBILITY_MAX:
            self._visible.popitem(last=False)
        return allowed

    def visible(self, conn: Connection, line_user_id: str) -> bool | None:
        """May this connection see broadcasts about the conversation? None: not known yet."""
        operator = self._operators.get(conn.id)
        if operator is None:
            return False
        entry = self._visible.get((operator.admin_id, line_user_id))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    async def link_allowed(self, admin_id: str, line_user_id: str) -> bool:
        """For a signed content link of `admin_id`: the hook's fresh cached answer,
        else the hook asked again, with the operator as this process last saw them
        (their token's claims), or, when it never did, an `Operator` with the
        admin id alone and no claims. A failing hook refuses."""
        entry = self._visible.get((admin_id, line_user_id))
        if entry is not None and entry[1] >= time.monotonic():
            return entry[0]
        operator = self._known.get(admin_id) or Operator(admin_id=admin_id)
        try:
            return await self.allowed(operator, line_user_id)
        except Exception:
            log.exception("authorize hook failed; the content link is refused")
            return False

    def pending(self, conn: Connection, line_user_id: str, frame: str) -> None:
        operator = self._operators.get(conn.id)
        if operator is None:
            return
        key = (operator.admin_id, line_user_id)
        waiting = self._checking.get(key)
        if waiting is not None:
            waiting.append((conn, frame))
            return
        self._checking[key] = [(conn, frame)]
        self._spawn(self._check_visibility(operator, line_user_id))

    async def _check_visibility(self, operator: Operator, line_user_id: str) -> None:
        key = (operator.admin_id, line_user_id)
        try:
            allowed = await self.allowed(operator, line_user_id)
        except Exception:
            log.exception("authorize hook failed; the broadcast is withheld")
            allowed = False
        for conn, frame in self._checking.pop(key, []):
            if allowed:
                conn.push(frame)
