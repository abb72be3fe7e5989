"""A frame that a whole room gets, built once and written to each socket.

Through ASGI every `websocket.send` is one frame that uvicorn's websockets-sansio
implementation builds in Python for that socket (websockets' `Frame.serialize`)
before writing it to the socket's transport. A server's frames are not masked,
so a room's frame is the same bytes on every socket that negotiated no
extension: here it is built once and handed to each transport.

That is only done where nothing stands between the plugin and the server's own
send that could see or change a frame: the ASGI send the endpoint gets is
uvicorn's websockets-sansio `send` itself, or that send inside the pass-through
wrapper of Starlette's exception handling (which only notes an HTTP response's
start). Any other server or implementation, a host middleware that wraps
sends, or permessage-deflate on the socket keeps the plain ASGI send, and so
does every frame the fast path cannot write at once (the transport still holding
bytes, or paused for a slow reader, the socket closing): the ASGI send then
waits and raises as it always does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.types import Send

log = logging.getLogger("livechat_ext.ws")

Write = Callable[[str], bool]
"""Write one text frame now; False when it cannot be written at once (use the ASGI send)."""

# the wrapper Starlette's ExceptionMiddleware puts around a send: it passes every
# WebSocket message through unchanged
_PASS_THROUGH = (
    (
        "starlette._exception_handler",
        "wrap_app_handling_exceptions.<locals>.wrapped_app.<locals>.sender",
    ),
)
_MAX_WRAPPERS = 4

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import (
        WebSocketsSansIOProtocol as _Sansio,
    )
    from websockets.frames import Frame, Opcode
    from websockets.protocol import State

    # uvicorn's own `send`, as imported: one patched in later (an APM tool that
    # wraps it) must run, so its sockets take the ASGI send
    _SANSIO_SEND: Any = _Sansio.__dict__.get("send")
except ImportError:  # pragma: no cover - another server, or a uvicorn without it
    _Sansio = None  # type: ignore[assignment,misc]
    _SANSIO_SEND = None

# the last frame built: a fan-out hands the same str to every socket of a room
_built: tuple[str, bytes] = ("", b"")


def direct_writer(send: Send) -> Write | None:
    """A writer for the socket behind `send`, or None when frames must go through
    the ASGI send (see the module's docstring)."""
    protocol = _server_protocol(send)
    if protocol is None:
        return None
    try:
        transport = protocol.transport
        conn = protocol.conn
        writable = protocol.writable
        # every attribute `write` reads, read once here: a uvicorn that renamed
        # one gets the ASGI send, not an error on every frame
        if (
            conn.extensions
            or conn.debug  # websockets logs each frame it sends: let it
            or conn.state is not State.OPEN
            or not protocol.handshake_complete
            or protocol.close_sent
            or protocol.disconnected
            or not callable(writable.is_set)
            or not callable(transport.is_closing)
            or not callable(transport.get_write_buffer_size)
        ):
            return None
    except AttributeError:  # a uvicorn whose protocol is not as this module knows it
        log.debug("uvicorn's WebSocket protocol has changed; frames go through ASGI")
        return None
    open_ = State.OPEN

    def write(text: str) -> bool:
        if (
            protocol.close_sent
            or protocol.disconnected
            or not writable.is_set()
            or conn.state is not open_
            or transport.is_closing()
            # bytes the socket has not taken yet: the ASGI send queues behind them
            # (a guard from the hunt for a two-node test's lost frames, which were
            # the room order's; harmless: those frames take the ASGI send)
            or transport.get_write_buffer_size()
        ):
            return False
        transport.write(_frame(text))
        return True

    return write


def _server_protocol(send: Any) -> Any | None:
    """uvicorn's websockets-sansio protocol object whose `send` is at the bottom
    of `send`, through known pass-through wrappers only."""
    if _Sansio is None:
        return None
    for _ in range(_MAX_WRAPPERS):
        owner = getattr(send, "__self__", None)
        if owner is not None:
            if (
                type(owner) is _Sansio
                and getattr(send, "__func__", None) is _SANSIO_SEND
                and _Sansio.__dict__.get("send") is _SANSIO_SEND
            ):
                return owner
            return None
        key = (getattr(send, "__module__", None), getattr(send, "__qualname__", None))
        if key not in _PASS_THROUGH:
            return None
        inner = _closure_variable(send, "send")
        if inner is None:
            return None
        send = inner
    return None


def _closure_variable(function: Any, name: str) -> Any | None:
    code = getattr(function, "__code__", None)
    closure = getattr(function, "__closure__", None)
    if code is None or closure is None or name not in code.co_freevars:
        return None
    try:
        return closure[code.co_freevars.index(name)].cell_contents
    except ValueError:  # an empty cell
        return None


def _frame(text: str) -> bytes:
    """A final, unmasked text frame of `text`, as websockets builds it."""
    global _built
    last_text, last_frame = _built
    if text is last_text:
        return last_frame
    frame = Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    _built = (text, frame)
    return frame
