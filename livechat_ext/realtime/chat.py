"""Carries out what the sessions of this node decide: replies, closes, joins,
typing, sends. The decisions are made by `session.Session` without I/O; this
is where they meet the hub, the store, the hook and the outbound flow."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from ..auth import TokenVerifier
from ..errors import CloseCode, ErrorCode, StoreError
from ..flows.inbound import in_standby
from ..flows.outbound import Outbound, Sticker
from ..flows.workflow import Workflow
from ..metrics import Metrics
from ..models import Conversation
from ..protocol.server import (
    AuthSuccess,
    ConversationJoined,
    ConversationUpdated,
    encode,
    encode_with_operators,
    error,
)
from ..session import (
    Assign,
    Authenticated,
    Close,
    ConversationChange,
    Effect,
    Join,
    Leave,
    Limits,
    MarkRead,
    Note,
    Reply,
    Send,
    Session,
    SetStatus,
    Typing,
    Verified,
)
from ..settings import LiveChatSettings
from ..store.base import Page, ReadStore
from .access import Access
from .connection import Connection
from .deadlines import Deadlines
from .hub import BROADCAST, Hub, admin_room, conversation_room
from .shared_reads import SharedReads
from .team import Team

log = logging.getLogger("livechat_ext.realtime.chat")


class Chat:
    """The sessions of this node and the effects they ask for."""

    def __init__(
        self,
        settings: LiveChatSettings,
        *,
        store: ReadStore,
        hub: Hub,
        verifier: TokenVerifier,
        outbound: Outbound,
        team: Team,
        access: Access,
        workflow: Workflow,
        metrics: Metrics | None = None,
        on_typing: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.workflow = workflow
        self.store = store
        self.hub = hub
        self.outbound = outbound
        self.team = team
        self.access = access
        self.metrics = metrics
        self._on_typing = on_typing
        self._verifier = verifier
        self._limits = Limits(
            max_frame_bytes=settings.max_frame_bytes,
            rate_per_second=settings.rate_limit_per_second,
            rate_burst=settings.rate_limit_burst,
            heartbeat_interval=settings.heartbeat_interval,
            auth_timeout=settings.auth_timeout,
            max_conversations=settings.max_conversations_per_connection,
        )
        self._live: dict[str, tuple[Connection, Session]] = {}
        self._reads: SharedReads[tuple[Conversation | None, Page]] = SharedReads()
        self.deadlines = Deadlines(self._expire)

    # connection lifecycle -------------------------------------------------

    def open(self, conn: Connection) -> Session:
        """A session for a freshly accepted connection, its deadlines filed."""
        session = Session(conn.id, self._limits, self._verify, self.deadlines.now())
        self._live[conn.id] = (conn, session)
        self.hub.add(conn)
        self.deadlines.watch(conn.id, session)
        return session

    def close(self, conn: Connection, session: Session) -> None:
        """Clean up everything a connection held, however it ended."""
        session.closed = True
        self._live.pop(conn.id, None)
        self.deadlines.forget(conn.id)
        self.access.unbind(conn)
        self.hub.remove(conn)
        self.team.connection_closed(conn.id)
        if conn.admin_id is not None:  # counted online (a refused operator never was)
            self.team.presence.disconnected(conn.admin_id)

    def _expire(self, conn_id: str, now: float) -> None:
        live = self._live.get(conn_id)
        if live is None:
            return
        conn, session = live
        for effect in session.tick(now):
            if isinstance(effect, Close):
                conn.close(effect.code, effect.reason, final=list(effect.final))
        self.deadlines.watch(conn_id, session)

    def _verify(self, token: str) -> Verified:
        operator = self._verifier.verify(token)
        if operator.expires_at is None:
            return Verified(operator, None)
        # the verifier accepted the token up to `exp` + leeway: keep the session that long
        left = operator.expires_at.timestamp() + self.settings.jwt_leeway - time.time()
        return Verified(operator, left)

    # frames -----------------------------------------------------------------

    async def receive_text(self, conn: Connection, session: Session, text: str) -> None:
        """Serve one text frame of a connection."""
        step = session.receive_text(text, self.deadlines.now())
        if step.type is not None and self.metrics is not None:
            self.metrics.frame_in(step.type)
        await self.perform(conn, session, step.effects)

    async def receive_binary(self, conn: Connection, session: Session, size: int) -> None:
        step = session.receive_binary(size, self.deadlines.now())
        await self.perform(conn, session, step.effects)

    async def authenticate(self, conn: Connection, session: Session, token: str) -> None:
        """A token from the handshake's query string."""
        await self.perform(conn, session, session.authenticate(token, None, self.deadlines.now()))

    async def perform(
        self, conn: Connection, session: Session, effects: tuple[Effect, ...]
    ) -> None:
        """Carry out a session's effects in order; a store failure or a bug in one
        answers `internal_error` instead of ending the connection."""
        for effect in effects:
            if isinstance(effect, Reply):
                self._push(conn, effect.frame)
            elif isinstance(effect, Close):
                self._count(effect.final)
                conn.close(effect.code, effect.reason, final=list(effect.final))
            else:
                try:
                    await self._request(conn, session, effect)
                except StoreError:
                    log.exception("store failed serving %s on %s", type(effect).__name__, conn.id)
                    self._failed(conn, effect, "storage is unavailable; try again")
                except Exception:
                    log.exception("serving %s failed on %s", type(effect).__name__, conn.id)
                    self._failed(conn, effect, "internal error")
        self.deadlines.watch(conn.id, session)  # a token may have brought an earlier expiry

    async def _request(
        self,
        conn: Connection,
        session: Session,
        effect: Authenticated | Join | Leave | Typing | Send | Note | ConversationChange,
    ) -> None:
        if isinstance(effect, Note | Assign | SetStatus | MarkRead):
            await self._workflow(conn, session, effect)
        elif isinstance(effect, Authenticated):
            await self._authenticated(conn, session, effect)
        elif isinstance(effect, Join):
            await self._join(conn, session, effect)
        elif isinstance(effect, Leave):
            await self._leave(conn, session, effect)
        elif isinstance(effect, Typing):
            await self._typing(conn, session, effect)
        else:
            await self._send(conn, session, effect)

    def _push(self, conn: Connection, frame: str) -> None:
        if conn.push(frame) and self.metrics is not None:
            self.metrics.frames_sent(frame)

    def _release(self, conn: Connection, frame: str) -> None:
        if conn.release(frame) and self.metrics is not None:
            self.metrics.frames_sent(frame)

    def _count(self, frames: tuple[str, ...]) -> None:
        if self.metrics is not None:
            for frame in frames:
                self.metrics.frames_sent(frame)

    def _failed(self, conn: Connection, effect: Effect, message: str) -> None:
        ref = getattr(effect, "ref", None)
        client_msg_id = effect.payload.client_msg_id if isinstance(effect, Send | Note) else None
        if isinstance(effect, Join):
            live = self._live.get(conn.id)
            if live is not None:
                live[1].join_refused(effect.line_user_id)
        self._push(
            conn, error(ErrorCode.INTERNAL_ERROR, message, ref=ref, client_msg_id=client_msg_id)
        )

    def _forbidden(
        self, conn: Connection, ref: str | None, client_msg_id: str | None = None
    ) -> None:
        message = "not allowed for this conversation"
        self._push(conn, error(ErrorCode.FORBIDDEN, message, ref=ref, client_msg_id=client_msg_id))

    # what the effects do ------------------------------------------------------

    async def _authenticated(self, conn: Connection, session: Session, auth: Authenticated) -> None:
        operator = auth.operator
        self.team.remember(operator)
        if auth.first and not self.hub.promote(conn, self.settings.max_connections_per_client):
            log.warning("refused an operator from %s: connection limit reached", conn.peer)
            session.closed = True
            conn.close(CloseCode.TRY_AGAIN_LATER, "too many connections")
            return
        # in the broadcast room before the list is read, with the frames held back
        # until auth_success is out: a change made while the list is read reaches
        # this socket after the list, never falls between the two
        conn.hold()
        try:
            if auth.first:
                conn.admin_id = operator.admin_id
                self.access.bind(conn, operator)
                self.hub.join(conn, admin_room(operator.admin_id))
                self.hub.join(conn, BROADCAST)
                self.team.presence.connected(operator.admin_id)
            # what this node's sockets were told, cached between presence changes
            listed = await self.team.operators_json(operator.admin_id, operator.display_name)
        except BaseException:
            conn.release()
            raise
        success = AuthSuccess(
            admin_id=operator.admin_id,
            session_id=conn.id,
            heartbeat_interval=self.settings.heartbeat_interval,
            operators=[],
            server_instance=self.hub.instance,
        )
        self._release(conn, encode_with_operators(success, listed, auth.ref))

    async def _join(self, conn: Connection, session: Session, join: Join) -> None:
        operator = session.operator
        line_user_id = join.line_user_id
        if operator is None or not await self.access.allowed(operator, line_user_id):
            session.join_refused(line_user_id)
            self._forbidden(conn, join.ref)
            return
        # join first, read second, with the room's frames held back until the
        # answer is out: a message stored in between comes after the history
        # (twice at worst, never zero times), and the room's messages stay in seq order
        room = conversation_room(line_user_id)
        conn.hold()
        self.hub.join(conn, room)
        self.hub.order.reading(room)
        try:
            conversation, page = await self._reads.read(
                (line_user_id, join.after_seq, join.after_rev),
                lambda: self._read_conversation(line_user_id, join.after_seq, join.after_rev),
            )
        except BaseException:
            self.hub.order.baseline(room, None)
            self.hub.leave(conn, room)
            conn.release()
            raise
        last_seq = conversation.last_seq if conversation else 0
        self.hub.order.baseline(room, last_seq)  # read before the history: all in it
        joined = ConversationJoined(
            line_user_id=line_user_id,
            last_seq=max([last_seq, *(m.seq for m in page.messages)]),
            last_rev=max(
                [conversation.last_rev if conversation else 0, *(m.rev for m in page.messages)]
            ),
            messages=page.messages,
            has_more=page.has_more,
            typing=self.team.typing.typing_in(line_user_id),
        )
        self._release(conn, encode(joined, join.ref))

    async def _read_conversation(
        self, line_user_id: str, after_seq: int | None, after_rev: int | None
    ) -> tuple[Conversation | None, Page]:
        """A conversation and its history page: one read for every join that
        asked at the same time (a reconnect storm joins the same conversations)."""
        conversation = await self.store.get_conversation(line_user_id)
        page = await self.store.history(
            line_user_id,
            limit=self.settings.history_limit,
            after_seq=after_seq,
            after_rev=after_rev,
        )
        return conversation, page

    async def _leave(self, conn: Connection, session: Session, leave: Leave) -> None:
        self.hub.leave(conn, conversation_room(leave.line_user_id))
        operator = session.operator
        if operator is not None:
            await self.team.operator_typing(leave.line_user_id, operator.admin_id, False, conn.id)

    async def _typing(self, conn: Connection, session: Session, typing: Typing) -> None:
        operator = session.operator
        line_user_id = typing.line_user_id
        if operator is None or not await self.access.allowed(operator, line_user_id):
            self._forbidden(conn, typing.ref)
            return
        await self.team.operator_typing(line_user_id, operator.admin_id, typing.is_typing, conn.id)
        if typing.is_typing and self._on_typing is not None:
            self._on_typing(line_user_id)  # LINE's loading animation for the user

    async def _send(self, conn: Connection, session: Session, send: Send) -> None:
        operator = session.operator
        p = send.payload
        if operator is None or not await self.access.allowed(operator, p.line_user_id):
            self._forbidden(conn, send.ref, p.client_msg_id)
            return
        try:
            if await in_standby(self.store, p.line_user_id):
                message = (
                    "the channel is in standby for this chat: "
                    "another channel answers it, so nothing is sent"
                )
                self._refuse_send(conn, send, ErrorCode.FORBIDDEN, message)
                return
            await self.team.operator_typing(p.line_user_id, operator.admin_id, False, conn.id)
            sticker = None if p.sticker is None else Sticker(**p.sticker.model_dump())
            replies = await self.outbound.submit(
                conn, operator, p.line_user_id, p.text, p.client_msg_id, send.ref, sticker=sticker
            )
        except StoreError:
            log.exception("could not store an outbound message")
            self._refuse_send(
                conn, send, ErrorCode.DELIVERY_FAILED, "the message could not be stored"
            )
            return
        for frame in replies:
            self._push(conn, frame)

    async def _workflow(
        self, conn: Connection, session: Session, effect: Note | ConversationChange
    ) -> None:
        """Notes and the team's changes to a conversation, each asked of the hook;
        a change is answered with the conversation and shown to every operator."""
        operator = session.operator
        note = effect.payload if isinstance(effect, Note) else None
        line_user_id = note.line_user_id if note else effect.line_user_id  # type: ignore[union-attr]
        if operator is None or not await self.access.allowed(operator, line_user_id):
            self._forbidden(conn, effect.ref, note.client_msg_id if note else None)
            return
        flow = self.workflow
        if isinstance(effect, Note):
            p = effect.payload
            answer = await flow.note(
                conn.id, operator, line_user_id, p.text, p.client_msg_id, effect.ref
            )
            self._push(conn, answer)
            return
        if isinstance(effect, Assign):
            conversation, changed = await flow.assign(operator, line_user_id, effect.admin_id)
        elif isinstance(effect, SetStatus):
            conversation, changed = await flow.set_status(line_user_id, effect.status)
        else:
            conversation, changed = await flow.mark_read(line_user_id, effect.seq)
        self._push(conn, encode(ConversationUpdated(conversation=conversation), effect.ref))
        if changed:
            await flow.announce(conversation, exclude=conn.id)

    def _refuse_send(self, conn: Connection, send: Send, code: ErrorCode, message: str) -> None:
        frame = error(code, message, ref=send.ref, client_msg_id=send.payload.client_msg_id)
        self._push(conn, frame)

    async def shutdown(self) -> None:
        self.deadlines.close()
        self.hub.order.close_all()
        await self._reads.close()
        await self.team.shutdown()


def new_connection_id() -> str:
    return uuid.uuid4().hex
