"""Who is typing where. Every entry expires by itself: `expire(now)` returns
the ones whose time has come. No clock is read and no timer is set here; the
team's deadline scheduler calls `expire` at `next_deadline()`."""

from __future__ import annotations

from typing import NamedTuple

REMOTE_EXTRA_SECONDS = 1.0  # another node's entry: that node announces the end first


class Ended(NamedTuple):
    """A typing entry that ran out. `local`: one of this node's connections typed
    (announce the stop to everyone); otherwise another node's entry that ended
    without news from it (the node may be gone: tell this node's sockets only)."""

    line_user_id: str
    admin_id: str
    local: bool


class TypingTracker:
    """Keeps the (line_user_id, admin_id) pairs that are typing, with when each
    ends and which connection (None: another node) typed."""

    __slots__ = ("_entries", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._entries: dict[tuple[str, str], tuple[float, str | None]] = {}

    def start(self, line_user_id: str, admin_id: str, conn_id: str | None, now: float) -> bool:
        """Typing (again); True when the pair was not typing before (announce it)."""
        key = (line_user_id, admin_id)
        extra = 0.0 if conn_id is not None else REMOTE_EXTRA_SECONDS
        fresh = key not in self._entries
        self._entries[key] = (now + self.timeout + extra, conn_id)
        return fresh

    def stop(self, line_user_id: str, admin_id: str) -> bool:
        """Forget a pair; True if it was typing."""
        return self._entries.pop((line_user_id, admin_id), None) is not None

    def connection_closed(self, conn_id: str) -> list[tuple[str, str]]:
        """Forget what a closed connection was typing; those pairs stopped."""
        gone = [key for key, (_, owner) in self._entries.items() if owner == conn_id]
        for key in gone:
            del self._entries[key]
        return gone

    def next_deadline(self) -> float | None:
        return min((until for until, _ in self._entries.values()), default=None)

    def expire(self, now: float) -> list[Ended]:
        """Remove and return the entries that have run out."""
        ended = [
            Ended(key[0], key[1], owner is not None)
            for key, (until, owner) in self._entries.items()
            if until <= now
        ]
        for entry in ended:
            del self._entries[(entry.line_user_id, entry.admin_id)]
        return ended

    def typing_in(self, line_user_id: str) -> list[str]:
        return sorted(admin for (user, admin) in self._entries if user == line_user_id)

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        self._entries.clear()
