"""Operator presence: online while any connection is open, offline after a grace."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from ..models import utcnow

Announce = Callable[[str, str, datetime | None], None]


class Presence:
    """Counts each operator's connections on this node.

    `announce(admin_id, status, last_seen)` is called once when an operator
    comes online and once when their last connection has been gone for
    `grace` seconds (a page reload inside the grace announces nothing).
    """

    def __init__(self, grace: float, announce: Announce) -> None:
        self.grace = grace
        self._announce = announce
        self._counts: dict[str, int] = {}
        self._pending_offline: dict[str, asyncio.TimerHandle] = {}
        self._last_seen: dict[str, datetime] = {}
        self._remote: dict[str, str] = {}  # the latest status this node's sockets were told
        self._changes = 0
        self._changed: dict[str, int] = {}  # admin_id -> the change count at its latest change

    def _touch(self, admin_id: str) -> None:
        self._changes += 1
        self._changed[admin_id] = self._changes

    @property
    def changes(self) -> int:
        """A counter of presence changes seen on this node (see `changed_since`)."""
        return self._changes

    def changed_since(self, admin_id: str, mark: int) -> bool:
        """Whether `admin_id` changed after `changes` was `mark`."""
        return self._changed.get(admin_id, 0) > mark

    def connected(self, admin_id: str) -> None:
        self._touch(admin_id)
        count = self._counts.get(admin_id, 0)
        self._counts[admin_id] = count + 1
        if count:
            return
        pending = self._pending_offline.pop(admin_id, None)
        if pending is not None:
            pending.cancel()  # back within the grace: still online for everyone
            return
        self._announce(admin_id, "online", None)

    def disconnected(self, admin_id: str) -> None:
        self._touch(admin_id)
        count = self._counts.get(admin_id, 0) - 1
        if count > 0:
            self._counts[admin_id] = count
            return
        self._counts.pop(admin_id, None)
        self._last_seen[admin_id] = utcnow()
        if self.grace <= 0:
            self._go_offline(admin_id)
            return
        loop = asyncio.get_running_loop()
        self._pending_offline[admin_id] = loop.call_later(self.grace, self._go_offline, admin_id)

    def _go_offline(self, admin_id: str) -> None:
        self._touch(admin_id)
        self._pending_offline.pop(admin_id, None)
        self._announce(admin_id, "offline", self._last_seen.get(admin_id, utcnow()))

    def remote(self, admin_id: str, status: str, last_seen: datetime | None = None) -> None:
        """Record an announcement this node's sockets were given; an offline one
        keeps its own `last_seen` (when the operator left, not when it was told)."""
        self._touch(admin_id)
        self._remote[admin_id] = status
        if status == "offline":
            self._last_seen[admin_id] = last_seen or utcnow()

    def is_online(self, admin_id: str) -> bool:
        return (
            admin_id in self._counts
            or admin_id in self._pending_offline
            or self._remote.get(admin_id) == "online"
        )

    def told(self) -> dict[str, str]:
        """The status each operator was last announced with on this node."""
        return dict(self._remote)

    def told_status(self, admin_id: str) -> str | None:
        """The status this node's sockets were last told for `admin_id`, if any."""
        return self._remote.get(admin_id)

    def here(self, admin_id: str) -> bool:
        """Connected to this node, or within the grace after the last connection."""
        return admin_id in self._counts or admin_id in self._pending_offline

    def connections(self, admin_id: str) -> int:
        return self._counts.get(admin_id, 0)

    def snapshot(self) -> list[tuple[str, str, datetime | None]]:
        """Every operator this node knows, with status and last_seen (O(N): for
        tests and tools, not the connect path)."""
        known = set(self._counts) | set(self._pending_offline) | set(self._last_seen)
        known |= set(self._remote)
        out = []
        for admin_id in sorted(known):
            online = self.is_online(admin_id)
            out.append(
                (
                    admin_id,
                    "online" if online else "offline",
                    None if online else self._last_seen.get(admin_id),
                )
            )
        return out

    def flush_pending(self) -> list[str]:
        """Cancel the pending offline timers and return their operators."""
        pending = list(self._pending_offline)
        for handle in self._pending_offline.values():
            handle.cancel()
        self._pending_offline.clear()
        return pending

    def last_seen(self, admin_id: str) -> datetime | None:
        return self._last_seen.get(admin_id)

    def local_counts(self) -> dict[str, int]:
        return dict(self._counts)

    def close(self) -> None:
        for handle in self._pending_offline.values():
            handle.cancel()
        self._pending_offline.clear()
