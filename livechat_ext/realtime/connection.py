"""One client connection's outbox. Fan-out never awaits a socket: a frame goes
out at once while the socket takes it without waiting, and is queued otherwise,
for a writer task that exists only while there is a backlog or a close to send."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from ..errors import CloseCode

log = logging.getLogger("livechat_ext.realtime.connection")

SendText = Callable[[str], Coroutine[Any, Any, None]]
WriteNow = Callable[[str], bool]
CloseSocket = Callable[[int, str], Awaitable[None]]
Stopped = Callable[[bool], None]

# what a send raises when the peer went away (the transport adds its own)
_GONE: tuple[type[Exception], ...] = (OSError, RuntimeError)


class Connection:
    """A connection as the hub sees it. `push` never blocks: a connection whose
    backlog overflows is closed with 1013 and catches up after reconnecting.

    Until `attach` gives it a socket, frames only queue (`drain` takes them)."""

    __slots__ = (
        "_backlog",
        "_close",
        "_close_socket",
        "_context",
        "_gone",
        "_held",
        "_limit",
        "_on_stopped",
        "_send",
        "_write_now",
        "_writer",
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
        self.rooms: tuple[str, ...] = ()  # the hub's rooms it is in (a set is 216 bytes)
        self.close_code: int | None = None
        self.on_overflow: Callable[[Connection], None] | None = None
        self._backlog: deque[str] | None = None  # made on first need: most never queue
        self._held: list[str] | None = None  # frames kept back while a reply is prepared
        self._limit = limit
        self._close: tuple[int, str] | None = None
        self._send: SendText | None = None
        self._write_now: WriteNow | None = None
        self._close_socket: CloseSocket | None = None
        self._on_stopped: Stopped | None = None
        self._writer: asyncio.Task[None] | None = None
        self._context: contextvars.Context | None = None
        self._gone = _GONE

    def attach(
        self,
        send: SendText,
        close: CloseSocket,
        on_stopped: Stopped,
        gone: tuple[type[Exception], ...] = (),
        write: WriteNow | None = None,
    ) -> None:
        """Write to a socket from now on. `on_stopped(clean)` is called once, when
        writing ends: clean after the close frame went out, not clean when a
        send failed or the backlog overflowed. `gone` names what the transport's
        send raises when the peer went away (besides OSError and RuntimeError).
        `write`, when given, writes a frame at once without a send, or says it
        cannot (False): then the frame takes `send` as any other.

        Every send runs in a copy of the caller's context, also when another
        connection's task pushes the frame: a send wrapper that sets and resets
        context variables (tracing middleware) sees one context throughout."""
        self._send, self._close_socket, self._on_stopped = send, close, on_stopped
        self._write_now = write
        self._gone = _GONE + gone
        self._context = contextvars.copy_context()
        if self._backlog or self._close is not None:
            self._start_writer(None)

    @property
    def closing(self) -> bool:
        return self._close is not None

    def push(self, text: str) -> bool:
        """Send or queue a frame; False if the connection is closing or just overflowed."""
        if self._close is not None:
            return False
        held = self._held
        if held is None and self._send is not None and self._writer is None:
            return self._send_now(text)  # nothing queued: nothing to overtake
        backlog = self._backlog
        if backlog is None:
            backlog = self._backlog = deque()
        if len(backlog) + len(held or ()) >= self._limit:
            self._overflow()
            return False
        (backlog if held is None else held).append(text)
        return True

    def hold(self) -> None:
        """Keep back the frames pushed from now on until `release`: a reply read
        from state (the operator list, a conversation's history) then goes out
        before every change made to that state while it was read."""
        if self._held is None:
            self._held = []

    def release(self, first: str | None = None) -> bool:
        """Push `first`, then the frames held back, in order. False if `first`
        did not go out (the connection is closing)."""
        held, self._held = self._held, None
        sent = first is not None and self.push(first)
        for text in held or ():
            self.push(text)
        return sent

    def _overflow(self) -> None:
        log.warning("connection %s could not keep up; closing with 1013", self.id)
        if self._backlog:
            self._backlog.clear()
        self._held = None
        self._close = (CloseCode.TRY_AGAIN_LATER, "send queue overflow")
        if self.on_overflow is not None:
            self.on_overflow(self)
        if self._writer is not None:
            self._writer.cancel()  # stuck in a send the peer does not read
        else:  # held frames overflowed with no send waiting: stop writing now
            self._failed(None)

    def close(self, code: int, reason: str = "", *, final: list[str] | None = None) -> None:
        """Send `final` frames after what is queued, then close with `code`."""
        if self._close is not None:
            return
        if final:
            if self._backlog is None:
                self._backlog = deque()
            self._backlog.extend(final)
        self._close = (int(code), reason)
        if self._send is not None and self._writer is None:
            self._start_writer(None)

    def _send_now(self, text: str) -> bool:
        """Run the send until it finishes or has to wait; only a wait needs a task.
        False if the frame did not go out."""
        assert self._send is not None and self._context is not None
        write = self._write_now
        try:
            if write is not None and write(text):
                return True
            # making the send may raise too (the frame is personalized for the
            # socket's operator there): that stops this connection, not the loop
            send = self._send(text)
            waiting_for = self._context.run(send.send, None)
        except StopIteration:
            return True
        except Exception as exc:  # never let one socket break the fan-out loop it is in
            self._send_raised(exc)
            return False
        self._start_writer((send, waiting_for))
        return True

    def _start_writer(self, started: tuple[Coroutine[Any, Any, None], Any] | None) -> None:
        writer = asyncio.create_task(self._write(started), context=self._context)
        if not writer.done():  # an eager task factory may have run it to the end already
            self._writer = writer
        writer.add_done_callback(self._writer_done)

    def _writer_done(self, writer: asyncio.Task[None]) -> None:
        if self._writer is writer:  # cancelled before it ever ran
            self._writer = None
        if writer.cancelled():
            self._failed(None)

    async def _write(self, started: tuple[Coroutine[Any, Any, None], Any] | None) -> None:
        """Finish a send that had to wait, drain the backlog, send the close."""
        assert self._send is not None and self._close_socket is not None
        try:
            if started is not None:
                await self._sent(_finish(*started))
            backlog = self._backlog
            while backlog:
                await self._sent(self._send(backlog.popleft()))
            if self._close is not None:
                code, reason = self._close
                self.close_code = code
                await self._close_socket(code, reason)
                self._stopped(True)
        except Exception as exc:
            self._stop_for(exc)
        finally:
            self._writer = None

    async def _sent(self, sending: Awaitable[None]) -> None:
        try:
            await sending
        except UnicodeEncodeError as exc:  # that frame is lost, the connection goes on
            self._send_raised(exc)

    def _send_raised(self, exc: Exception) -> None:
        """A send raised: drop a frame UTF-8 cannot carry (never expected: parsing
        refuses such text); for anything else stop the connection."""
        if isinstance(exc, UnicodeEncodeError):
            log.error("connection %s: dropped a frame that is not valid UTF-8", self.id)
        else:
            self._stop_for(exc)

    def _stop_for(self, exc: Exception) -> None:
        if isinstance(exc, self._gone):
            self._failed(exc)  # the peer went away
        else:
            log.error("connection %s: sending a frame failed", self.id, exc_info=exc)
            self._failed(None)

    def _failed(self, exc: BaseException | None) -> None:
        if exc is not None:
            log.debug("connection %s stopped sending: %r", self.id, exc)
        self._close = self._close or (CloseCode.GOING_AWAY, "send failed")
        if self._backlog:
            self._backlog.clear()
        self._stopped(False)

    def _stopped(self, clean: bool) -> None:
        on_stopped, self._on_stopped = self._on_stopped, None
        if on_stopped is not None:
            on_stopped(clean)

    async def detach(self) -> None:
        """Stop writing (the socket is gone or going): cancel a writer and wait for it."""
        writer, self._send = self._writer, None
        self._on_stopped = None
        self._write_now = None  # (it holds the server's protocol object)
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def drain(self) -> list[str]:
        """Take the queued frames (for sans-I/O tests)."""
        out = list(self._backlog or ())
        if self._backlog:
            self._backlog.clear()
        return out

    @property
    def queued(self) -> int:
        return len(self._backlog or ())

    @property
    def requested_close(self) -> tuple[int, str] | None:
        return self._close


@types.coroutine
def _finish(coro: Coroutine[Any, Any, None], waiting_for: Any) -> Generator[Any, Any, None]:
    """Await the rest of a coroutine that was stepped by hand and is suspended on
    `waiting_for`: what `await coro` would have done from that point on."""
    while True:
        try:
            value = yield waiting_for
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # cancellation reaches the send that waits
            try:
                waiting_for = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_for = coro.send(value)
            except StopIteration:
                return
