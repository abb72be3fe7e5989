"""The frame handling core: a function of (session, frame) that returns what to
send back and publishes room events through the hub. No sockets here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from .access import Access, Authorize, allow_all
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
    Pong,
    encode,
    error,
)
from .ratelimit import FrameLimiter, Verdict
from .session import Outcome, Session
from .settings import LiveChatSettings
from .store import Store
from .team import Team
from .typing_indicator import TypingTracker

log = logging.getLogger("livechat_ext.chat")


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
        self.access = Access(authorize, outbound.spawn)
        self.access.install(hub)
        self.team = Team(settings, hub, outbound.spawn)
        self.on_typing: Callable[[Session, str], None] | None = None
        self.metrics: Metrics | None = None
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
        session.start_deadlines(s.auth_timeout)
        return session

    def close(self, session: Session) -> None:
        """Clean up everything a connection held, however it ended."""
        session.cancel_timers()
        conn = session.conn
        self.access.unbind(conn)
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
        if current is None and not self.hub.promote(
            session.conn, self.settings.max_connections_per_client
        ):
            log.warning("refused an operator from %s: connection limit reached", session.conn.peer)
            return Outcome(close=(CloseCode.TRY_AGAIN_LATER, "too many connections"))
        session.operator = operator
        self._arm_expiry(session, operator)
        if current is None:
            session.disarm("auth")
            conn = session.conn
            conn.admin_id = operator.admin_id
            self.access.bind(conn, operator)
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
        """Every known operator with status, across the cluster."""
        return await self.team.operators()

    async def room_open(self, line_user_id: str) -> bool:
        """Whether an operator has the conversation open on any node."""
        return await self.team.room_open(line_user_id)

    def _arm_expiry(self, session: Session, operator: Operator) -> None:
        # the verifier accepted the token up to `exp` + leeway: keep the session that long
        if operator.expires_at is not None:
            session.expire_at(operator.expires_at.timestamp() + self.settings.jwt_leeway)

    @staticmethod
    def _auth_failed(code: AuthErrorCode, message: str, ref: str | None) -> Outcome:
        frame = encode(AuthErrorPayload(code=code, message=message), ref)
        return Outcome([frame], close=(CloseCode.UNAUTHORIZED, code.value))

    async def _on_auth(self, session: Session, frame: AuthFrame) -> Outcome:
        return await self.authenticate(session, frame.payload.token, frame.ref)

    async def _on_ping(self, session: Session, frame: PingFrame) -> Outcome:
        return Outcome([encode(Pong(), frame.ref)])

    async def in_standby(self, line_user_id: str) -> bool:
        """Whether LINE's latest event in this chat came in `standby` mode (LINE: no
        sending then). Sends already stored are idempotent and unaffected."""
        latest = await self.store.last_inbound(line_user_id)
        return latest is not None and latest.data.get("mode") == "standby"

    async def allowed(self, operator: Operator, line_user_id: str) -> bool:
        """Ask the host's authorization hook."""
        return await self.access.allowed(operator, line_user_id)

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
            await self.team.publish_typing(line_user_id, operator.admin_id, False, session.conn.id)
        return Outcome([encode(ConversationLeft(line_user_id=line_user_id), frame.ref)])

    async def _on_typing_start(self, session: Session, frame: TypingStartFrame) -> Outcome:
        operator = session.operator
        line_user_id = frame.payload.line_user_id
        if operator is None or not await self.allowed(operator, line_user_id):
            return self._forbidden(frame)
        if self.typing.start(line_user_id, operator.admin_id, session.conn.id):
            await self.team.publish_typing(line_user_id, operator.admin_id, True, session.conn.id)
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
            await self.team.publish_typing(line_user_id, operator.admin_id, False, session.conn.id)
        return Outcome()

    async def _on_send(self, session: Session, frame: MessageSendFrame) -> Outcome:
        operator = session.operator
        p = frame.payload
        if operator is None or not await self.allowed(operator, p.line_user_id):
            return self._forbidden(frame, p.client_msg_id)
        try:
            if await self.in_standby(p.line_user_id):
                return self._send_refused(
                    frame,
                    ErrorCode.FORBIDDEN,
                    "the channel is in standby for this chat: "
                    "another channel answers it, so nothing is sent",
                )
            if self.typing.stop(p.line_user_id, operator.admin_id):
                await self.team.publish_typing(
                    p.line_user_id, operator.admin_id, False, session.conn.id
                )
            replies = await self.outbound.submit(
                session.conn, operator, p.line_user_id, p.text, p.client_msg_id, frame.ref
            )
        except StoreError:
            log.exception("could not store an outbound message")
            return self._send_refused(
                frame, ErrorCode.DELIVERY_FAILED, "the message could not be stored"
            )
        return Outcome(replies)

    @staticmethod
    def _send_refused(frame: MessageSendFrame, code: ErrorCode, message: str) -> Outcome:
        return Outcome(
            [error(code, message, ref=frame.ref, client_msg_id=frame.payload.client_msg_id)]
        )

    # typing and presence ---------------------------------------------------------

    @property
    def presence(self) -> Presence:
        return self.team.presence

    @property
    def typing(self) -> TypingTracker:
        return self.team.typing

    @property
    def cluster_sync(self) -> ClusterSync | None:
        return self.team.cluster_sync

    @cluster_sync.setter
    def cluster_sync(self, value: ClusterSync | None) -> None:
        self.team.cluster_sync = value

    async def publish_presence(self, admin_id: str, status: str, last_seen: Any = None) -> None:
        await self.team.publish_presence(admin_id, status, last_seen)

    async def shutdown(self) -> None:
        await self.team.shutdown()


def new_connection_id() -> str:
    return uuid.uuid4().hex
