"""Who is typing where; every entry expires by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

Announce = Callable[[str, str, bool], None]


class TypingTracker:
    """Keeps (line_user_id, admin_id) pairs that are typing.

    `start` returns True when the pair was not typing before (announce it);
    every start re-arms the `timeout`. Expiry and `connection_closed` call
    `announce(line_user_id, admin_id, False)` for this node's entries; an entry
    learnt from another node (`conn_id` None) normally ends with that node's
    announcement, and if none comes (the node died) `on_remote_expired` runs.
    """

    def __init__(
        self,
        timeout: float,
        announce: Announce,
        on_remote_expired: Callable[[str, str], None] | None = None,
    ) -> None:
        self.timeout = timeout
        self._announce = announce
        self._on_remote_expired = on_remote_expired
        self._entries: dict[tuple[str, str], tuple[asyncio.TimerHandle, str | None]] = {}

    def start(self, line_user_id: str, admin_id: str, conn_id: str | None) -> bool:
        key = (line_user_id, admin_id)
        old = self._entries.get(key)
        if old is not None:
            old[0].cancel()
        # another node's entry lives a little longer: its own node announces the end
        delay = self.timeout if conn_id is not None else self.timeout + 1.0
        handle = asyncio.get_running_loop().call_later(delay, self._expire, key)
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
        if entry is None:
            return
        if entry[1] is not None:
            self._announce(key[0], key[1], False)
        elif self._on_remote_expired is not None:
            self._on_remote_expired(key[0], key[1])

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
