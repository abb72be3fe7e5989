"""One client connection's outbox: a bounded queue drained by one writer task,
so fan-out never awaits a socket."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocketDisconnect

from .errors import CloseCode

log = logging.getLogger("livechat_ext.connection")

SendText = Callable[[str], Awaitable[None]]
CloseSocket = Callable[[int, str], Awaitable[None]]


class Connection:
    """A connection as the hub sees it. `push` never blocks: a connection whose
    queue overflows is closed with 1013 and catches up after reconnecting."""

    __slots__ = (
        "_buffer",
        "_close",
        "_limit",
        "_wakeup",
        "admin_id",
        "close_code",
        "id",
        "on_overflow",
        "peer",
        "rooms",
    )

    def __init__(self, conn_id: str, *, limit: int, peer: str = "") -> None:
        self.id = conn_id
        self.peer = peer
        self.admin_id: str | None = None
        self.rooms: set[str] = set()
        self.close_code: int | None = None
        self.on_overflow: Callable[[Connection], None] | None = None
        self._buffer: deque[str] = deque()
        self._limit = limit
        self._wakeup = asyncio.Event()
        self._close: tuple[int, str] | None = None

    @property
    def closing(self) -> bool:
        return self._close is not None

    def push(self, text: str) -> bool:
        """Queue a frame; False if the connection is closing or just overflowed."""
        if self._close is not None:
            return False
        if len(self._buffer) >= self._limit:
            log.warning("connection %s could not keep up; closing with 1013", self.id)
            self._buffer.clear()
            self.close(CloseCode.TRY_AGAIN_LATER, "send queue overflow")
            if self.on_overflow is not None:
                self.on_overflow(self)
            return False
        self._buffer.append(text)
        self._wakeup.set()
        return True

    def close(self, code: int, reason: str = "", *, final: list[str] | None = None) -> None:
        """Ask the writer to send `final` frames, then close with `code`."""
        if self._close is not None:
            return
        if final:
            self._buffer.extend(final)
        self._close = (int(code), reason)
        self._wakeup.set()

    async def run_writer(self, send: SendText, close: CloseSocket) -> None:
        """Drain the queue into the socket until a close is asked for or sending fails."""
        buffer = self._buffer
        try:
            while True:
                while buffer:
                    frame = buffer.popleft()
                    try:
                        await send(frame)
                    except UnicodeEncodeError:  # never expected: parsing refuses such text
                        log.error("connection %s: dropped a frame that is not valid UTF-8", self.id)
                if self._close is not None:
                    code, reason = self._close
                    self.close_code = code
                    await close(code, reason)
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
        except (OSError, RuntimeError, WebSocketDisconnect) as exc:  # the peer went away
            log.debug("connection %s writer stopped: %r", self.id, exc)
            self._close = self._close or (CloseCode.GOING_AWAY, "send failed")
        finally:
            buffer.clear()

    def drain(self) -> list[str]:
        """Take the queued frames (for sans-I/O tests)."""
        out = list(self._buffer)
        self._buffer.clear()
        return out

    @property
    def queued(self) -> int:
        return len(self._buffer)

    @property
    def requested_close(self) -> tuple[int, str] | None:
        return self._close
