"""The WebSocket endpoint: checks the handshake, then only moves frames between
the socket and the `Chat` core."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import CloseCode
from ..logging_filters import connection_id
from ..realtime.chat import Chat, new_connection_id
from ..realtime.connection import Connection
from ..session import Session
from .direct_write import direct_writer

log = logging.getLogger("livechat_ext.ws")

Personalize = Callable[[str, str], str]
"""(frame, admin id) -> the frame as that operator gets it."""

CLOSE_HANDSHAKE_SECONDS = 5.0
# RFC 6455 status codes that no close frame carries: for the metric of closes
_NO_STATUS = 1005  # a close frame without a status code
_ABNORMAL = 1006  # the connection ended without a close frame


# what a send raises when the peer went away (besides OSError and RuntimeError)
_GONE = (WebSocketDisconnect,)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PAGE_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def origin_allowed(
    origin: str | None, host: str | None, allowed: list[str], scheme: str = "ws"
) -> bool:
    """Same-origin, listed, or no Origin at all (a non-browser client). Origins
    are compared by scheme, host and port; `scheme` is the request's (`ws` is
    the origin `http://` + Host, `wss` is `https://` + Host)."""
    if origin is None or "*" in allowed:
        return True
    key = _origin_key(origin)
    if key is None:  # "null" (a sandboxed page, a file) or not an origin
        return False
    if key in {_origin_key(a) for a in allowed}:
        return True
    page_scheme = _PAGE_SCHEME.get(scheme.lower())
    return bool(host and page_scheme) and key == _origin_key(f"{page_scheme}://{host}")


def _origin_key(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url.strip().rstrip("/").lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


class _ReadStopper:
    """One socket's writing end for its `Connection` (send a text frame, close),
    and what stops the reading task once the connection has stopped writing."""

    __slots__ = (
        "_handle",
        "_reading",
        "_send",
        "_write",
        "conn",
        "failed",
        "personalize",
        "stopping",
        "task",
        "ws",
    )

    def __init__(
        self,
        task: asyncio.Task[object] | None,
        ws: WebSocket,
        send: Send,
        conn: Connection,
        personalize: Personalize | None,
    ) -> None:
        self.task = task
        self.ws = ws
        self.conn = conn
        self.personalize = personalize  # content references -> URLs for the operator
        # the app's ASGI send: a frame needs none of WebSocket.send's checks. `Connection`
        # steps the coroutine a send returns; any other awaitable gets wrapped in one
        self._send: Callable[[Message], Coroutine[Any, Any, None]] = (
            send if inspect.iscoroutinefunction(send) else _coroutine(send)
        )
        self.stopping = False
        self.failed = False
        self._reading = True
        self._handle: asyncio.TimerHandle | None = None
        self._write: Callable[[str], bool] | None = None

    def writer_stopped(self, clean: bool) -> None:
        """At once if the peer cannot take frames, after a moment for the close
        handshake otherwise."""
        self.failed = not clean
        if not self._reading:
            return
        delay = CLOSE_HANDSHAKE_SECONDS if clean else 0.0
        self._handle = asyncio.get_running_loop().call_later(delay, self._stop)

    def _stop(self) -> None:
        if self._reading and self.task is not None:
            self.stopping = True
            self.task.cancel()

    def finish(self) -> None:
        self._reading = False
        if self._handle is not None:
            self._handle.cancel()

    def writer(self, send: Send) -> Callable[[str], bool] | None:
        """Writing a frame straight to the server's transport (`direct_write`),
        for this socket's operator; None when frames must take the ASGI send."""
        self._write = direct_writer(send)
        if self._write is None:
            return None
        return self.write_now if self.personalize is not None else self._write

    def write_now(self, text: str) -> bool:
        if self.conn.admin_id is not None:
            assert self.personalize is not None and self._write is not None
            text = self.personalize(text, self.conn.admin_id)
        return self._write(text)  # type: ignore[misc]

    def send_text(self, text: str) -> Coroutine[Any, Any, None]:
        """The ASGI send of one text frame (the `Connection` is its only caller and
        never sends after a close). A frame is made for the operator behind the
        socket just before it goes: the content URLs it carries are signed for them."""
        if self.personalize is not None and self.conn.admin_id is not None:
            text = self.personalize(text, self.conn.admin_id)
        return self._send({"type": "websocket.send", "text": text})

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            await self.ws.close(code=code, reason=reason[:120])


def _coroutine(send: Send) -> Callable[[Message], Coroutine[Any, Any, None]]:
    async def sending(message: Message) -> None:
        await send(message)

    return sending


def _origin_and_host(scope: Scope) -> tuple[str | None, str | None]:
    """The first `Origin` and `Host` headers of the handshake."""
    origin = host = None
    for name, value in scope["headers"]:
        if name == b"origin" and origin is None:
            origin = value.decode("latin-1")
        elif name == b"host" and host is None:
            host = value.decode("latin-1")
    return origin, host


def _token(scope: Scope) -> str | None:
    """The handshake's `?token=` (the last one, as Starlette's query_params reads it)."""
    query = scope.get("query_string", b"")
    if not query:
        return None
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    tokens = [value for key, value in pairs if key == "token"]
    return tokens[-1] if tokens else None


class Endpoint:
    """`GET /ws/live-chat`, a plain ASGI app (a Starlette `WebSocketRoute` calls it
    as one). Nothing is kept per socket for dependency injection or a route-level
    exception wrapper, and a frame goes to the ASGI `send` with no layer between."""

    def __init__(self, chat: Chat, personalize: Personalize | None = None) -> None:
        self.chat = chat
        self.personalize = personalize
        # set when the host's app puts dependencies on the route (see `guard`)
        self._guarded: ASGIApp | None = None
        self._decided = False
        # the host's dependencies for the serving app, when no lifespan found them
        self.find_guards: Callable[[Any], list[Any]] | None = None

    def guard(self, path: str, dependencies: Sequence[Any], app: Any = None) -> None:
        """Run the host's route dependencies (`include_router(router,
        dependencies=[...])`, `FastAPI(dependencies=[...])`) before each socket, as
        FastAPI does for its own WebSocket routes: a guard that raises refuses the
        socket. Only a host that has some pays FastAPI's per-socket state for them;
        without any, the endpoint stays a plain ASGI app. Called when the
        router's lifespan starts; when none does (a mounted sub-app, a host that
        runs `live_chat.lifespan` itself), at the first socket instead."""
        self._decided = True
        if not dependencies:
            self._guarded = None
            return
        from fastapi.routing import APIWebSocketRoute

        inner = Endpoint(self.chat, self.personalize)  # the same, unguarded

        async def guarded(websocket: WebSocket) -> None:
            await inner(websocket.scope, websocket._receive, websocket._send)

        route = APIWebSocketRoute(
            path,
            guarded,
            dependencies=list(dependencies),
            dependency_overrides_provider=app,
        )
        self._guarded = route.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._decided and self.find_guards is not None:
            app = scope.get("app")
            self.guard(scope.get("path", "/"), self.find_guards(app), app)
        if self._guarded is not None:  # (inline: no extra frame per socket without)
            await self._guarded(scope, receive, send)
            return
        settings = self.chat.settings
        origin, host = _origin_and_host(scope)
        # read from the scope, not through WebSocket.headers/url/query_params: those
        # would be parsed and then kept for the life of the socket
        if not origin_allowed(origin, host, settings.allowed_origins, scope.get("scheme", "ws")):
            log.warning("refused a WebSocket from origin %r", origin)
            await send({"type": "websocket.close", "code": CloseCode.POLICY_VIOLATION})  # 403
            return
        ws = WebSocket(scope, receive=receive, send=send)
        await ws.accept()
        client = scope.get("client")
        peer = client[0] if client else ""
        refusal = self.chat.hub.admit(peer, settings)
        if refusal is not None:
            log.warning("refused a connection from %s: %s", peer, refusal)
            await ws.close(CloseCode.TRY_AGAIN_LATER, "too many connections")
            return
        conn = Connection(new_connection_id(), limit=settings.send_queue_size, peer=peer)
        connection_id.set(conn.id)
        log.info("connection opened from %s", peer)
        session = self.chat.open(conn)
        # the reader runs in this task; frames go out from whichever task pushes
        # them (a writer task exists only while a backlog does); when writing
        # stops, reading stops too
        stopper = _ReadStopper(asyncio.current_task(), ws, send, conn, self.personalize)
        conn.attach(
            stopper.send_text,
            stopper.close,
            stopper.writer_stopped,
            gone=_GONE,
            write=stopper.writer(send) if self.chat.settings.direct_write else None,
        )
        peer_code: int | None = None  # the close code the socket ended with, as ASGI tells it
        try:
            peer_code = await self._read(ws, conn, session, _token(scope))
        except asyncio.CancelledError:
            if not stopper.stopping:
                raise
            stopper.task.uncancel()  # type: ignore[union-attr]
        finally:
            stopper.finish()
            await conn.detach()
            if stopper.failed:  # overflowed or a send failed: no close frame went out
                with contextlib.suppress(Exception):  # the peer may not even take a close
                    await asyncio.wait_for(ws.close(CloseCode.TRY_AGAIN_LATER), 1.0)
            self.chat.close(conn, session)
            code = _close_code(conn.close_code, peer_code, stopper.failed)
            log.info("connection closed (%s)", code)
            if self.chat.metrics is not None:
                self.chat.metrics.closes.labels(str(code)).inc()

    async def _read(
        self, ws: WebSocket, conn: Connection, session: Session, token: str | None
    ) -> int | None:
        """Serve frames until the socket ends; the close code it ended with (None
        when the transport failed without saying)."""
        if token:
            await self.chat.authenticate(conn, session, token)
        try:
            while not conn.closing:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return _disconnect_code(message)
                if conn.closing:  # closed while we waited (token expiry, overflow)
                    break
                text = message.get("text")
                if text is None:
                    size = len(message.get("bytes") or b"")
                    await self.chat.receive_binary(conn, session, size)
                else:
                    await self.chat.receive_text(conn, session, text)
            # a close was asked for: wait for the peer's side of the handshake
            while (message := await ws.receive())["type"] != "websocket.disconnect":
                pass
            return _disconnect_code(message)
        except WebSocketDisconnect as exc:
            return exc.code
        except (RuntimeError, OSError):
            return None


def _disconnect_code(message: Message) -> int:
    """The code of an ASGI `websocket.disconnect`: the peer's close frame's, or
    the server's own (uvicorn: 1009 for a frame too large, 1012 at shutdown)."""
    code = int(message.get("code", _NO_STATUS))
    # uvicorn reports a connection lost without a close frame as 1005, as it
    # does a close frame without a status; only the frame's event has a reason
    if code == _NO_STATUS and "reason" not in message:
        return _ABNORMAL
    return code


def _close_code(ours: int | None, theirs: int | None, failed: bool) -> int:
    """The close code to count: the one this side sent; otherwise the one the
    socket ended with; 1006 for a transport that failed without one."""
    if failed:  # the 1013 closed by the endpoint, not whatever the writer had planned
        return int(CloseCode.TRY_AGAIN_LATER)
    if ours is not None:
        return ours
    return theirs if theirs is not None else _ABNORMAL
