"""Keeps this node's entry in the cluster: heartbeats, operator and room
changes in order, and the reaping of dead nodes (their operators go offline)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..broker.base import Cluster

log = logging.getLogger("livechat_ext.cluster")

_Change = Callable[[], Awaitable[None]]


class ClusterSync:
    """Runs cluster writes one after another (so an online/offline pair cannot
    swap) and heart-beats every `ttl / 3` seconds."""

    def __init__(
        self,
        cluster: Cluster,
        node: str,
        ttl: float,
        *,
        local_state: Callable[[], tuple[dict[str, int], list[str]]],
        on_orphans: Callable[[list[str]], Awaitable[None]],
        on_rejoin: Callable[[], Awaitable[None]],
        on_beat: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.cluster = cluster
        self.node = node
        self.ttl = ttl
        self._local_state = local_state
        self._on_orphans = on_orphans
        self._on_rejoin = on_rejoin
        self._on_beat = on_beat
        self._queue: asyncio.Queue[_Change] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._beaten = False

    async def start(self) -> None:
        try:
            await self._beat()
        except Exception as exc:  # a broker outage at start is survivable
            log.warning("cluster not reachable at start (%s); retrying", exc)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run_changes()), loop.create_task(self._run_beats())]

    def submit(self, change: _Change) -> None:
        """Queue a cluster write; writes run in the order submitted."""
        self._queue.put_nowait(change)

    def republish_soon(self) -> None:
        """The cluster may have missed a change: the next heartbeat republishes
        this node's whole state."""
        self._beaten = False

    async def _run_changes(self) -> None:
        while True:
            change = await self._queue.get()
            try:
                await change()
            except Exception:
                log.exception("cluster update failed; the next heartbeat republishes state")
                self.republish_soon()
            finally:
                self._queue.task_done()

    async def _run_beats(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self._beat()
                orphans = await self.cluster.reap(self.node)
                if orphans:
                    await self._on_orphans(orphans)
                if self._on_beat is not None:
                    await self._on_beat()
            except Exception as exc:
                log.warning("cluster heartbeat failed: %s", exc)

    async def _beat(self) -> None:
        fresh = await self.cluster.heartbeat(self.node, self.ttl)
        if fresh or not self._beaten:
            operators, rooms = self._local_state()
            await self.cluster.publish_state(self.node, operators, rooms)
            if fresh and self._beaten:
                log.warning("this node was taken for dead; announcing its operators again")
                await self._on_rejoin()
            self._beaten = True

    async def settle(self) -> None:
        """Wait until every submitted change has run (for shutdown and tests)."""
        await self._queue.join()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            await self.cluster.leave(self.node)
        except Exception as exc:
            log.warning("could not leave the cluster cleanly: %s", exc)


__all__ = ["ClusterSync"]
