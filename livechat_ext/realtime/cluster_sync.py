"""Keeps this node's entry in the cluster: heartbeats, operator and room
changes in order, and the reaping of dead nodes (their operators go offline)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..background import Loops, bounded
from ..broker.base import Cluster
from ..errors import BrokerError, describe

log = logging.getLogger("livechat_ext.cluster")

_Change = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    """The change `stop` queues so that a loop waiting for work sees the stop."""


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
        self._unfinished = 0  # submitted changes not yet run to their end
        self._loops = Loops("cluster sync")
        self._beaten = False

    async def start(self) -> None:
        try:
            await self._beat()
        except BrokerError as exc:  # a broker outage at start is survivable
            log.warning(
                "cluster not reachable at start (%s); retrying", describe(exc), exc_info=exc
            )
        self._loops = Loops("cluster sync")
        self._loops.start(self._run_changes())
        self._loops.start(self._run_beats())

    def submit(self, change: _Change) -> None:
        """Queue a cluster write; writes run in the order submitted."""
        self._unfinished += 1
        self._queue.put_nowait(change)

    @property
    def idle(self) -> bool:
        """No submitted change is queued or running (an empty queue is not that:
        the change taken from it may still be awaiting the cluster)."""
        return self._unfinished == 0

    def republish_soon(self) -> None:
        """The cluster may have missed a change: the next heartbeat republishes
        this node's whole state."""
        self._beaten = False

    async def _run_changes(self) -> None:
        while self._loops.running:
            change = await self._queue.get()  # `stop` queues a no-op to wake this
            try:
                await change()
            except Exception:
                log.exception("cluster update failed; the next heartbeat republishes state")
                self.republish_soon()
            finally:
                if change is not _nothing:
                    self._unfinished -= 1
                self._queue.task_done()

    async def _run_beats(self) -> None:
        while await self._loops.pause(self.ttl / 3):
            try:
                await self._beat()
                orphans = await self.cluster.reap(self.node)
                if orphans:
                    await self._on_orphans(orphans)
                if self._on_beat is not None:
                    await self._on_beat()
            except BrokerError as exc:
                log.warning("cluster heartbeat failed (%s)", describe(exc), exc_info=exc)
            except Exception:  # a bug here must not stop the heartbeat: others would reap us
                log.exception("cluster heartbeat failed unexpectedly")

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
        """Stop both loops and leave the cluster, each within a bound (a node that
        could not leave is reaped once its heartbeat runs out)."""
        self._loops.stopping.set()
        self._queue.put_nowait(_nothing)
        await self._loops.stop(grace=1.0)
        await bounded(self.cluster.leave(self.node), 2.0, "leaving the cluster")


__all__ = ["ClusterSync"]
