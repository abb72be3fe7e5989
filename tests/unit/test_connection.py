"""The connection outbox against a fake socket whose sends can be made to wait,
as an ASGI server's send waits while the peer does not read (flow control)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from livechat_ext.errors import CloseCode
from livechat_ext.realtime.connection import Connection


class FakeSocket:
    """Records frames; while `paused`, a send waits until `resume()`."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.stopped: list[bool] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.fail: Exception | None = None

    async def send(self, text: str) -> None:
        await self.writable.wait()
        if self.fail is not None:
            raise self.fail
        self.frames.append(text)

    async def close(self, code: int, reason: str) -> None:
        await self.writable.wait()
        self.closed = (code, reason)

    def attach(self, conn: Connection) -> None:
        conn.attach(self.send, self.close, self.stopped.append)


def attached(limit: int = 8, *, paused: bool = False) -> tuple[FakeSocket, Connection]:
    """A connection writing to a fake socket; `paused`: its sends wait for now."""
    sock, conn = FakeSocket(), Connection("c", limit=limit)
    sock.attach(conn)
    if paused:
        sock.writable.clear()
    return sock, conn


async def settle(conn: Connection) -> None:
    """Wait for the connection's writer, if it has one, and its done-callback."""
    writer = conn._writer
    if writer is not None:
        await asyncio.gather(writer, return_exceptions=True)
    await asyncio.sleep(0)  # done-callbacks run one loop turn after the task ends


async def test_an_idle_socket_gets_the_frame_before_push_returns() -> None:
    sock, conn = attached(4)
    assert conn.push("a") and conn.push("b")
    assert sock.frames == ["a", "b"]  # no task, no wait: sent inside push
    assert conn.queued == 0 and conn._writer is None


async def test_a_send_that_waits_is_finished_by_a_writer_and_order_is_kept() -> None:
    sock, conn = attached(8, paused=True)
    for frame in "abc":
        assert conn.push(frame)
    assert sock.frames == [] and conn.queued == 2  # "a" waits inside the send
    assert conn._writer is not None
    sock.writable.set()
    await settle(conn)
    assert sock.frames == ["a", "b", "c"]
    assert conn._writer is None  # the writer ends with its backlog
    assert conn.push("d") and sock.frames[-1] == "d"


async def test_overflow_while_a_send_waits_cuts_the_connection_off() -> None:
    sock, conn = FakeSocket(), Connection("c", limit=2)
    overflowed: list[str] = []
    conn.on_overflow = lambda c: overflowed.append(c.id)
    sock.attach(conn)
    sock.writable.clear()
    assert conn.push("a") and conn.push("b") and conn.push("c")
    assert not conn.push("d")
    assert overflowed == ["c"]
    assert conn.requested_close == (CloseCode.TRY_AGAIN_LATER, "send queue overflow")
    await settle(conn)
    assert sock.stopped == [False]  # the stuck send was cancelled; no close frame
    assert conn._writer is None and conn.close_code is None and sock.frames == []
    assert not conn.push("e")


async def test_close_sends_queued_and_final_frames_then_the_close() -> None:
    sock, conn = attached(8, paused=True)
    conn.push("a")
    conn.push("b")
    conn.close(CloseCode.UNAUTHORIZED, "token expired", final=["bye"])
    assert not conn.push("late")
    sock.writable.set()
    await settle(conn)
    assert sock.frames == ["a", "b", "bye"]
    assert sock.closed == (CloseCode.UNAUTHORIZED, "token expired")
    assert conn.close_code == CloseCode.UNAUTHORIZED and sock.stopped == [True]


async def test_close_of_an_idle_connection_starts_a_writer_for_the_close() -> None:
    sock, conn = attached(8)
    conn.close(CloseCode.HEARTBEAT_TIMEOUT, "no heartbeat", final=["last"])
    await settle(conn)
    assert sock.frames == ["last"] and sock.closed == (CloseCode.HEARTBEAT_TIMEOUT, "no heartbeat")


@pytest.mark.parametrize("error", [RuntimeError("closed"), ConnectionResetError(), KeyError("x")])
async def test_a_failing_send_stops_the_connection_without_raising_into_the_pusher(
    error: Exception,
) -> None:
    sock, conn = attached(8)
    sock.fail = error
    assert not conn.push("a")  # not sent, and nothing raised into the fan-out loop
    assert sock.stopped == [False]
    assert conn.requested_close == (CloseCode.GOING_AWAY, "send failed")
    assert not conn.push("b")


async def test_frames_queued_before_attach_go_out_on_attach() -> None:
    sock, conn = FakeSocket(), Connection("c", limit=8)
    conn.push("early")
    assert conn.queued == 1
    sock.attach(conn)
    await settle(conn)
    assert sock.frames == ["early"] and conn.queued == 0


async def test_detach_cancels_a_waiting_writer_quietly() -> None:
    sock, conn = attached(8, paused=True)
    conn.push("a")
    writer = conn._writer
    assert writer is not None
    await conn.detach()
    assert writer.cancelled() and sock.stopped == []  # the endpoint asked: no callback


async def test_a_frame_the_socket_cannot_encode_after_a_wait_is_dropped_alone() -> None:
    sock, conn = attached(8)
    real_send = sock.send

    async def send(text: str) -> None:
        await sock.writable.wait()
        text.encode()  # as uvicorn does, after waiting for the socket
        await real_send(text)

    conn._send = send
    sock.writable.clear()
    conn.push("bad \ud800")
    conn.push("b")
    sock.writable.set()
    await settle(conn)
    assert sock.frames == ["b"] and sock.stopped == []
    assert conn.push("c") and sock.frames == ["b", "c"]


async def test_an_unexpected_error_after_a_wait_stops_the_connection_in_order() -> None:
    sock, conn = attached(8, paused=True)
    conn.push("a")
    conn.push("b")
    sock.fail = KeyError("broken middleware")
    sock.writable.set()
    await settle(conn)
    assert sock.stopped == [False] and conn._writer is None
    assert conn.queued == 0 and not conn.push("c")  # nothing overtakes what was lost
    assert sock.frames == []


VAR: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


async def test_a_send_runs_in_the_connection_context_whoever_pushes() -> None:
    """A send wrapper that sets and resets a context variable around a send that
    waits (as tracing middleware does) must see one context from start to end."""
    sock, conn = FakeSocket(), Connection("c", limit=8)
    VAR.set("endpoint")
    sock.attach(conn)  # the connection's context is copied here
    seen: list[str] = []
    real_send = sock.send

    async def send(text: str) -> None:
        seen.append(VAR.get())
        token = VAR.set("span")
        try:
            await real_send(text)
        finally:
            VAR.reset(token)  # raises if the send finished in another context

    conn._send = send

    async def other_connection_pushes() -> None:
        VAR.set("pusher")
        sock.writable.clear()
        conn.push("a")
        assert VAR.get() == "pusher"  # the send's own value did not leak out
        sock.writable.set()

    await asyncio.create_task(other_connection_pushes())
    await settle(conn)
    assert sock.frames == ["a"] and sock.stopped == [] and seen == ["endpoint"]


async def test_frames_held_back_go_out_after_the_reply_they_must_not_overtake() -> None:
    """`auth_success` reads the operator list while the socket is already in the
    broadcast room: a change made meanwhile must come after the list, not before."""
    sock, conn = attached(8)
    conn.hold()
    assert conn.push("operator_status b online") and conn.push("operator_status c online")
    assert sock.frames == []
    assert conn.release("auth_success")
    assert sock.frames == ["auth_success", "operator_status b online", "operator_status c online"]
    assert conn.push("later") and sock.frames[-1] == "later"  # not held any more


async def test_held_frames_count_against_the_queue_limit() -> None:
    sock, conn = attached(2)
    conn.hold()
    assert conn.push("a") and conn.push("b")
    assert not conn.push("c")  # a socket that cannot keep up is cut off, held or not
    assert conn.requested_close == (CloseCode.TRY_AGAIN_LATER, "send queue overflow")
    assert sock.stopped == [False]  # the endpoint closes it with 1013
    assert not conn.release("reply")
    assert sock.frames == []


async def test_a_send_that_raises_while_being_made_stops_only_that_connection() -> None:
    """The socket's sender makes the frame for its operator before sending (media
    URLs are signed per operator). If that raises, the push returns, the error is
    logged and that connection alone stops; a fan-out loop pushing to several
    connections goes on to the next."""
    healthy = FakeSocket()
    good = Connection("good", limit=4)
    healthy.attach(good)
    broken = Connection("broken", limit=4)
    stopped: list[bool] = []

    def personalizing_send(text: str):  # type: ignore[no-untyped-def]
        raise ValueError("cannot personalize this frame")

    broken.attach(personalizing_send, healthy.close, stopped.append)
    for conn in (broken, good):  # the fan-out loop: must reach `good`
        conn.push("frame")
    assert healthy.frames == ["frame"]
    assert stopped == [False]  # the broken one stopped writing (not cleanly)
    assert broken.closing
