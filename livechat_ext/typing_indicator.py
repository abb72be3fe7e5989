"""Who is typing where; every entry expires by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Announce = Callable[[str, str, bool], None]


class TypingTracker:
    """Keeps (line_user_id, admin_id) pairs that are typing.

    `start` returns True when the pair was not typing before (announce it);
    every start re-arms the `timeout`. Expiry and `connection_closed` call
    `announce(line_user_id, admin_id, False)` for this node's entries; entries
    learnt from other nodes (`conn_id` None) expire quietly, since their own
    node announces them.
    """

    def __init__(self, timeout: float, announce: Announce) -> None:
        self.timeout = timeout
        self._announce = announce
        self._entries: dict[tuple[str, str], tuple[asyncio.TimerHandle, str | None]] = {}

    def start(self, line_user_id: str, admin_id: str, conn_id: str | None) -> bool:
        key = (line_user_id, admin_id)
        old = self._entries.get(key)
        if old is not None:
            old[0].cancel()
        handle = asyncio.get_running_loop().call_later(self.timeout, self._expire, key)
        self._entries[key] = (handle, conn_id)
        return old is None

    def stop(self, line_user_id: str, admin_id: str) -> bool:
        """Forget a pair; True if it was typing."""
        entry = self._entries.pop((line_user_id, admin_id), None)
        if entry is None:
            return False
        entry[0].cancel()
        return True

    def _expire(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry[1] is not None:  # another node's entry expires quietly
            self._announce(key[0], key[1], False)

    def connection_closed(self, conn_id: str) -> None:
        for key, (handle, owner) in tuple(self._entries.items()):
            if owner == conn_id:
                handle.cancel()
                del self._entries[key]
                self._announce(key[0], key[1], False)

    def typing_in(self, line_user_id: str) -> list[str]:
        return sorted(admin for (user, admin) in self._entries if user == line_user_id)

    def close(self) -> None:
        for handle, _ in self._entries.values():
            handle.cancel()
        self._entries.clear()
