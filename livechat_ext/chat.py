"""The frame handling core: a function of (session, frame) that returns what to
send back and publishes room events through the hub. No sockets here."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from .auth import Operator, TokenVerifier
from .cluster_sync import ClusterSync
from .connection import Connection
from .errors import AuthError, AuthErrorCode, CloseCode, ErrorCode, StoreError
from .hub import BROADCAST, Hub, admin_room, conversation_room
from .metrics import Metrics
from .outbound import Outbound
from .presence import Presence
from .protocol.client import (
    AuthFrame,
    ClientFrame,
    FrameError,
    JoinConversationFrame,
    LeaveConversationFrame,
    MessageSendFrame,
    PingFrame,
    TypingStartFrame,
    TypingStopFrame,
    parse_client_frame,
)
from .protocol.server import (
    AuthErrorPayload,
    AuthSuccess,
    ConversationJoined,
    ConversationLeft,
    OperatorState,
    OperatorStatus,
    Pong,
    UserTyping,
    encode,
    error,
)
from .ratelimit import FrameLimiter, Verdict
from .session import Outcome, Session
from .settings import LiveChatSettings
from .store import Store
from .typing_indicator import TypingTracker

log = logging.getLogger("livechat_ext.chat")

_CLUSTER_READ_SECONDS = 0.5  # a slow broker must not stall webhooks: local view instead
_VISIBILITY_TTL = 60.0  # seconds an authorize answer is reused for broadcasts
_VISIBILITY_MAX = 10_000

Authorize = Callable[[Operator, str], Awaitable[bool] | bool]


async def allow_all(operator: Operator, line_user_id: str) -> bool:
    """The default authorization hook: every authenticated operator may act."""
    return True


class Chat:
    """Serves the frames of every connection of this node."""

    def __init__(
        self,
        settings: LiveChatSettings,
        *,
        store: Store,
        hub: Hub,
        verifier: TokenVerifier,
        outbound: Outbound,
        authorize: Authorize = allow_all,
    ) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.verifier = verifier
        self.outbound = outbound
        self._authorize = authorize
        self.presence = Presence(settings.presence_grace, self._announce_presence)
        self.typing = TypingTracker(
            settings.typing_timeout,
            self._announce_typing_stop,
            on_remote_expired=self._remote_typing_expired,
        )
        self.on_typing: Callable[[Session, str], None] | None = None
        self.cluster_sync: ClusterSync | None = None
        self.metrics: Metrics | None = None
        self._sessions: dict[str, Session] = {}
        self._visible: OrderedDict[tuple[str, str], tuple[bool, float]] = OrderedDict()
        self._checking: dict[tuple[str, str], list[tuple[Connection, str]]] = {}
        if authorize is not allow_all:  # the default hook allows all: nothing to filter
            hub.visibility = self._visibility
            hub.visibility_pending = self._visibility_pending
        hub.listeners.append(self._on_remote_event)
        hub.on_conversation = self._conversation_occupancy
        self._handlers: dict[str, Callable[[Session, Any], Awaitable[Outcome]]] = {
            "auth": self._on_auth,
            "ping": self._on_ping,
            "join_conversation": self._on_join,
            "leave_conversation": self._on_leave,
            "typing_start": self._on_typing_start,
            "typing_stop": self._on_typing_stop,
            "message_send": self._on_send,
        }

    # connection lifecycle -------------------------------------------------

    def open(self, conn: Connection) -> Session:
        """A session for a freshly accepted connection, with its deadlines armed."""
        s = self.settings
        session = Session(
            conn, FrameLimiter(s.rate_limit_per_second, s.rate_limit_burst), s.heartbeat_interval
        )
        self.hub.add(conn)
        self._sessions[conn.id] = session
        session.start_deadlines(s.auth_timeout)
        return session

    def close(self, session: Session) -> None:
        """Clean up everything a connection held, however it ended."""
        session.cancel_timers()
        conn = session.conn
        self._sessions.pop(conn.id, None)
        self.hub.remove(conn)
        self.typing.connection_closed(conn.id)
        if session.operator is not None:
            self.presence.disconnected(session.operator.admin_id)

    # frames -----------------------------------------------------------------

    async def handle_text(self, session: Session, text: str) -> Outcome:
        """Serve one text frame: size, rate limit, parse, dispatch."""
        session.touch()
        if len(text) > self.settings.max_frame_bytes // 4 and (
            len(text.encode()) > self.settings.max_frame_bytes
        ):
            return Outcome(close=(CloseCode.MESSAGE_TOO_BIG, "frame too large"))
        verdict = session.limiter.check()
        if verdict is Verdict.ABUSE:
            return Outcome(close=(CloseCode.RATE_LIMIT_ABUSE, "rate limit abuse"))
        try:
            frame = parse_client_frame(text)
        except FrameError as exc:
            if verdict is Verdict.DROP:
                return self._rate_limited(exc.ref)
            return Outcome([error(exc.code, exc.message, ref=exc.ref, details=exc.details)])
        if verdict is Verdict.DROP:
            return self._rate_limited(frame.ref)
        if self.metrics is not None:
            self.metrics.frame_in(frame.type)
        return await self.dispatch(session, frame)

    def handle_binary(self, session: Session, size: int) -> Outcome:
        session.touch()
        if size > self.settings.max_frame_bytes:
            return Outcome(close=(CloseCode.MESSAGE_TOO_BIG, "frame too large"))
        verdict = session.limiter.check()
        if verdict is Verdict.ABUSE:
            return Outcome(close=(CloseCode.RATE_LIMIT_ABUSE, "rate limit abuse"))
        if verdict is Verdict.DROP:
            return self._rate_limited(None)
        return Outcome(
            [error(ErrorCode.BAD_FRAME, "binary frames are not supported; send JSON text")]
        )

    @staticmethod
    def _rate_limited(ref: str | None) -> Outcome:
        return Outcome([error(ErrorCode.RATE_LIMITED, "too many frames; slow down", ref=ref)])

    async def dispatch(self, session: Session, frame: ClientFrame) -> Outcome:
        """Run a parsed frame's handler; an unexpected failure answers `internal_error`."""
        if not session.authenticated and frame.type not in ("auth", "ping"):
            return Outcome([error(ErrorCode.NOT_AUTHENTICATED, "send auth first", ref=frame.ref)])
        try:
            return await self._handlers[frame.type](session, frame)
        except StoreError:
            log.exception("store failed serving %s on %s", frame.type, session.conn.id)
            return Outcome(
                [
                    error(
                        ErrorCode.INTERNAL_ERROR, "storage is unavailable; try again", ref=frame.ref
                    )
                ]
            )
        except Exception:
            log.exception("handler for %s failed on %s", frame.type, session.conn.id)
            return Outcome([error(ErrorCode.INTERNAL_ERROR, "internal error", ref=frame.ref)])

    async def authenticate(self, session: Session, token: str, ref: str | None) -> Outcome:
        """Verify a token (first auth, or in-band re-auth that extends the session)."""
        try:
            operator = self.verifier.verify(token)
        except AuthError as exc:
            return self._auth_failed(exc.code, exc.message, ref)
        current = session.operator
        if current is not None and current.admin_id != operator.admin_id:
            return self._auth_failed(
                AuthErrorCode.INVALID_TOKEN, "token is for another operator", ref
            )
        # read the operator list first: once this socket is in the broadcast room,
        # other frames could overtake its auth_success while we await
        operators = [s for s in await self.operators() if s.admin_id != operator.admin_id]
        operators.append(OperatorState(admin_id=operator.admin_id, status="online"))
        if session.conn.closing:
            return Outcome()
        session.operator = operator
        self._arm_expiry(session, operator)
        if current is None:
            session.disarm("auth")
            conn = session.conn
            conn.admin_id = operator.admin_id
            self.hub.join(conn, admin_room(operator.admin_id))
            self.hub.join(conn, BROADCAST)
            self.presence.connected(operator.admin_id)
        success = AuthSuccess(
            admin_id=operator.admin_id,
            session_id=session.conn.id,
            heartbeat_interval=self.settings.heartbeat_interval,
            operators=sorted(operators, key=lambda s: s.admin_id),
        )
        return Outcome([encode(success, ref)])

    async def operators(self) -> list[OperatorState]:
        """Every known operator with status: this node's view, merged with the cluster's."""
        known = {a: (st, seen) for a, st, seen in self.presence.snapshot()}
        sync = self.cluster_sync
        if sync is not None:
            try:
                online = await asyncio.wait_for(
                    sync.cluster.online_operators(), _CLUSTER_READ_SECONDS
                )
            except Exception as exc:
                log.warning("cluster unavailable for the operator list: %s", exc)
            else:
                for admin_id, (status, seen) in list(known.items()):
                    if (
                        status == "online"
                        and admin_id not in online
                        and self.presence.connections(admin_id) == 0
                    ):
                        known[admin_id] = ("offline", seen)
                for admin_id in online:
                    known[admin_id] = ("online", None)
        return [
            OperatorState(admin_id=a, status=st, last_seen=seen)
            for a, (st, seen) in sorted(known.items())
        ]

    async def room_open(self, line_user_id: str) -> bool:
        """Whether an operator has the conversation open on any node."""
        if self.hub.members(conversation_room(line_user_id)) > 0:
            return True
        sync = self.cluster_sync
        if sync is None:
            return False
        try:
            return await asyncio.wait_for(
                sync.cluster.room_open(line_user_id), _CLUSTER_READ_SECONDS
            )
        except Exception as exc:
            log.warning("cluster unavailable for room state: %s", exc)
            return False

    def _arm_expiry(self, session: Session, operator: Operator) -> None:
        if operator.expires_at is None:
            return
        leeway = self.settings.jwt_leeway
        from datetime import timedelta

        session.expire_at(
            Operator(
                operator.admin_id, operator.name, operator.expires_at + timedelta(seconds=leeway)
            )
        )

    @staticmethod
    def _auth_failed(code: AuthErrorCode, message: str, ref: str | None) -> Outcome:
        frame = encode(AuthErrorPayload(code=code, message=message), ref)
        return Outcome([frame], close=(CloseCode.UNAUTHORIZED, code.value))

    async def _on_auth(self, session: Session, frame: AuthFrame) -> Outcome:
        return await self.authenticate(session, frame.payload.token, frame.ref)

    async def _on_ping(self, session: Session, frame: PingFrame) -> Outcome:
        return Outcome([encode(Pong(), frame.ref)])

    async def allowed(self, operator: Operator, line_user_id: str) -> bool:
        """Ask the host's authorization hook (sync or async); the answer is also
        remembered for a while to filter broadcasts about the conversation."""
        result = self._authorize(operator, line_user_id)
        if inspect.isawaitable(result):
            result = await result
        allowed = bool(result)
        key = (operator.admin_id, line_user_id)
        self._visible[key] = (allowed, time.monotonic() + _VISIBILITY_TTL)
        self._visible.move_to_end(key)
        while len(self._visible) > _VISIBILITY_MAX:
            self._visible.popitem(last=False)
        return allowed

    def _visibility(self, conn: Connection, line_user_id: str) -> bool | None:
        """May this connection see broadcasts about the conversation? None: not known yet."""
        session = self._sessions.get(conn.id)
        if session is None or session.operator is None:
            return False
        entry = self._visible.get((session.operator.admin_id, line_user_id))
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def _visibility_pending(self, conn: Connection, line_user_id: str, frame: str) -> None:
        session = self._sessions.get(conn.id)
        if session is None or session.operator is None:
            return
        key = (session.operator.admin_id, line_user_id)
        waiting = self._checking.get(key)
        if waiting is not None:
            waiting.append((conn, frame))
            return
        self._checking[key] = [(conn, frame)]
        self.outbound.spawn(self._check_visibility(session.operator, line_user_id))

    async def _check_visibility(self, operator: Operator, line_user_id: str) -> None:
        key = (operator.admin_id, line_user_id)
        try:
            allowed = await self.allowed(operator, line_user_id)
        except Exception:
            log.exception("authorize hook failed; the broadcast is withheld")
            allowed = False
        for conn, frame in self._checking.pop(key, []):
            if allowed:
                conn.push(frame)

    def _forbidden(self, frame: ClientFrame, client_msg_id: str | None = None) -> Outcome:
        return Outcome(
            [
                error(
                    ErrorCode.FORBIDDEN,
                    "not allowed for this conversation",
                    ref=frame.ref,
                    client_msg_id=client_msg_id,
                )
            ]
        )

    async def _on_join(self, session: Session, frame: JoinConversationFrame) -> Outcome:
        operator = session.operator
        line_user_id = frame.payload.line_user_id
        if operator is None or not await self.allowed(operator, line_user_id):
            return self._forbidden(frame)
        if (
            line_user_id not in session.joined
            and len(session.joined) >= self.settings.max_conversations_per_connection
        ):
            return Outcome(
                [
                    error(
                        ErrorCode.RATE_LIMITED,
                        "too many open conversations on one connection; leave some first",
                        ref=frame.ref,
                    )
                ]
            )
        # join first, read second: a message stored in between arrives twice, never zero times
        self.hub.join(session.conn, conversation_room(line_user_id))
        session.joined.add(line_user_id)
        page = await self.store.history(
            line_user_id, limit=self.settings.history_limit, after_seq=frame.payload.after_seq
        )
        conversation = await self.store.get_conversation(line_user_id)
        return Outcome(
            [
                encode(
                    ConversationJoined(
                        line_user_id=line_user_id,
                        last_seq=conversation.last_seq if conversation else 0,
                        messages=page.messages,
                        has_more=page.has_more,
                        typing=self.typing.typing_in(line_user_id),
                    ),
                    frame.ref,
                )
            ]
        )

    async def _on_leave(self, session: Session, frame: LeaveConversationFrame) -> Outcome:
        line_user_id = frame.payload.line_user_id
        self.hub.leave(session.conn, conversation_room(line_user_id))
        session.joined.discard(line_user_id)
        operator = session.operator
        if operator is not None and self.typing.stop(line_user_id, operator.admin_id):
            await self._publish_typing(line_user_id, operator.admin_id, False, session.conn.id)
        return Outcome([encode(ConversationLeft(line_user_id=line_user_id), frame.ref)])

    async def _on_typing_start(self, session: Session, frame: TypingStartFrame) -> Outcome:
        operator = session.operator
        line_user_id = frame.payload.line_user_id
        if operator is None or not await self.allowed(operator, line_user_id):
            return self._forbidden(frame)
        if self.typing.start(line_user_id, operator.admin_id, session.conn.id):
            await self._publish_typing(line_user_id, operator.admin_id, True, session.conn.id)
        else:  # still typing: refresh the other nodes' timers, tell no socket again
            await self.hub.publish(
                conversation_room(line_user_id), "", typing=(line_user_id, operator.admin_id, True)
            )
        if self.on_typing is not None:
            self.on_typing(session, line_user_id)
        return Outcome()

    async def _on_typing_stop(self, session: Session, frame: TypingStopFrame) -> Outcome:
        operator = session.operator
        line_user_id = frame.payload.line_user_id
        if operator is None or not await self.allowed(operator, line_user_id):
            return self._forbidden(frame)
        if self.typing.stop(line_user_id, operator.admin_id):
            await self._publish_typing(line_user_id, operator.admin_id, False, session.conn.id)
        return Outcome()

    async def _on_send(self, session: Session, frame: MessageSendFrame) -> Outcome:
        operator = session.operator
        p = frame.payload
        if operator is None or not await self.allowed(operator, p.line_user_id):
            return self._forbidden(frame, p.client_msg_id)
        if self.typing.stop(p.line_user_id, operator.admin_id):
            await self._publish_typing(p.line_user_id, operator.admin_id, False, session.conn.id)
        try:
            replies = await self.outbound.submit(
                session.conn, operator, p.line_user_id, p.text, p.client_msg_id, frame.ref
            )
        except StoreError:
            log.exception("could not store an outbound message")
            return Outcome(
                [
                    error(
                        ErrorCode.DELIVERY_FAILED,
                        "the message could not be stored",
                        ref=frame.ref,
                        client_msg_id=p.client_msg_id,
                    )
                ]
            )
        return Outcome(replies)

    # typing and presence ---------------------------------------------------------

    async def _publish_typing(
        self, line_user_id: str, admin_id: str, is_typing: bool, exclude: str | None
    ) -> None:
        text = encode(UserTyping(line_user_id=line_user_id, admin_id=admin_id, is_typing=is_typing))
        await self.hub.publish(
            conversation_room(line_user_id),
            text,
            exclude=exclude,
            typing=(line_user_id, admin_id, is_typing),
        )

    def _announce_typing_stop(self, line_user_id: str, admin_id: str, is_typing: bool) -> None:
        self.outbound.spawn(self._publish_typing(line_user_id, admin_id, is_typing, None))

    async def publish_presence(self, admin_id: str, status: str, last_seen: Any = None) -> None:
        self.presence.remote(admin_id, status)  # our own events do not come back to us
        text = encode(OperatorStatus(admin_id=admin_id, status=status, last_seen=last_seen))
        await self.hub.publish(BROADCAST, text, presence=(admin_id, status))

    def _announce_presence(self, admin_id: str, status: str, last_seen: Any) -> None:
        sync = self.cluster_sync
        if sync is None:
            self.outbound.spawn(self.publish_presence(admin_id, status, last_seen))
            return

        async def change() -> None:
            try:
                await sync.cluster.set_operator(sync.node, admin_id, 1 if status == "online" else 0)
                if await sync.cluster.online_elsewhere(sync.node, admin_id):
                    return  # still online on another node: nothing changed for anyone
            except Exception as exc:
                log.warning(
                    "cluster unavailable; announcing %s %s from here: %s", admin_id, status, exc
                )
            await self.publish_presence(admin_id, status, last_seen)

        sync.submit(change)

    def _conversation_occupancy(self, line_user_id: str, open_here: bool) -> None:
        sync = self.cluster_sync
        if sync is not None:
            sync.submit(lambda: sync.cluster.set_room(sync.node, line_user_id, open_here))

    def _remote_typing_expired(self, line_user_id: str, admin_id: str) -> None:
        """Another node's typing entry ran out without news (that node may be gone):
        tell this node's sockets, and only them."""
        text = encode(UserTyping(line_user_id=line_user_id, admin_id=admin_id, is_typing=False))
        self.hub.deliver(conversation_room(line_user_id), text)

    def _on_remote_event(self, event: Any) -> None:
        if event.typing is not None:
            line_user_id, admin_id, is_typing = event.typing
            if is_typing:
                self.typing.start(line_user_id, admin_id, None)
            else:
                self.typing.stop(line_user_id, admin_id)
        if event.presence is not None:
            self.presence.remote(*event.presence)

    async def shutdown(self) -> None:
        """Announce now what the presence grace would have announced later."""
        for admin_id in self.presence.flush_pending():
            self._announce_presence(admin_id, "offline", self.presence.last_seen(admin_id))
        if self.cluster_sync is not None:
            try:
                await asyncio.wait_for(self.cluster_sync.settle(), 5.0)
            except TimeoutError:
                log.warning(
                    "cluster updates still queued at shutdown; the heartbeat expiry "
                    "takes this node's operators offline"
                )
        self.presence.close()
        self.typing.close()


def new_connection_id() -> str:
    return uuid.uuid4().hex
