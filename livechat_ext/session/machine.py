"""`Session`: one connection's protocol state, driven by frames and `tick(now)`.

Every method takes the time as an argument and returns effects; nothing here
awaits, sleeps or touches a socket, so a test drives it frame by frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AuthError, AuthErrorCode, CloseCode, ErrorCode
from ..models import ConversationStatus
from ..operator import Operator
from ..protocol.client import (
    AuthFrame,
    ClientFrame,
    ConversationAssignFrame,
    ConversationReopenFrame,
    ConversationResolveFrame,
    FrameError,
    JoinConversationFrame,
    LeaveConversationFrame,
    MarkReadFrame,
    MessageSendFrame,
    NoteSendFrame,
    TypingStartFrame,
    TypingStopFrame,
    parse_client_frame,
)
from ..protocol.server import AuthErrorPayload, ConversationLeft, Pong, encode, error
from .effects import (
    Assign,
    Authenticated,
    Close,
    Effect,
    Join,
    Leave,
    MarkRead,
    Note,
    Reply,
    Send,
    SetStatus,
    Step,
    Typing,
)
from .ratelimit import FrameLimiter, Verdict


@dataclass(frozen=True, slots=True)
class Verified:
    """A token's operator and how many seconds the session may last on it
    (None: no expiry)."""

    operator: Operator
    lifetime: float | None


# raises AuthError; the caller turns the token's wall-clock `exp` into a lifetime
Verify = Callable[[str], Verified]


@dataclass(frozen=True, slots=True)
class Limits:
    """The settings a session enforces."""

    max_frame_bytes: int
    rate_per_second: float
    rate_burst: int
    heartbeat_interval: float
    auth_timeout: float
    max_conversations: int


_PRE_AUTH = frozenset({"auth", "ping"})


class Session:
    """The state of one connection: who it is, what it joined, its rate limit
    and its deadlines (authentication, heartbeat, token expiry)."""

    __slots__ = (
        "_auth_deadline",
        "_expires",
        "_joined",
        "_limiter",
        "_limits",
        "_verify",
        "closed",
        "id",
        "last_activity",
        "operator",
    )

    def __init__(self, conn_id: str, limits: Limits, verify: Verify, now: float) -> None:
        self.id = conn_id
        self._limits = limits
        self._verify = verify
        self._limiter = FrameLimiter(limits.rate_per_second, limits.rate_burst, now)
        self.operator: Operator | None = None
        # a tuple, not a set: most sockets open one or a few (a set is 216 bytes)
        self._joined: tuple[str, ...] = ()
        self.last_activity = now
        self.closed = False
        self._auth_deadline: float | None = now + limits.auth_timeout
        self._expires: float | None = None

    @property
    def joined(self) -> frozenset[str]:
        """The conversations this session asked to open and has not left."""
        return frozenset(self._joined)

    @property
    def authenticated(self) -> bool:
        return self.operator is not None

    # frames ---------------------------------------------------------------------

    def receive_text(self, text: str, now: float) -> Step:
        """One text frame: size, rate limit, parse, then what it asks for."""
        if self.closed:
            return Step(None, ())
        self.last_activity = now
        limit = self._limits.max_frame_bytes
        if len(text) > limit // 4 and len(text.encode()) > limit:
            return Step(None, self._close(CloseCode.MESSAGE_TOO_BIG, "frame too large"))
        verdict = self._limiter.check(now)
        if verdict is Verdict.ABUSE:
            return Step(None, self._close(CloseCode.RATE_LIMIT_ABUSE, "rate limit abuse"))
        try:
            frame = parse_client_frame(text)
        except FrameError as exc:
            if verdict is Verdict.DROP:
                return Step(None, _rate_limited(exc.ref))
            reply = error(exc.code, exc.message, ref=exc.ref, details=exc.details)
            return Step(None, (Reply(reply),))
        if verdict is Verdict.DROP:
            return Step(frame.type, _rate_limited(frame.ref))
        return Step(frame.type, self._dispatch(frame, now))

    def receive_binary(self, size: int, now: float) -> Step:
        """A binary frame: never served, but it counts for size and rate."""
        if self.closed:
            return Step(None, ())
        self.last_activity = now
        if size > self._limits.max_frame_bytes:
            return Step(None, self._close(CloseCode.MESSAGE_TOO_BIG, "frame too large"))
        verdict = self._limiter.check(now)
        if verdict is Verdict.ABUSE:
            return Step(None, self._close(CloseCode.RATE_LIMIT_ABUSE, "rate limit abuse"))
        if verdict is Verdict.DROP:
            return Step(None, _rate_limited(None))
        reply = error(ErrorCode.BAD_FRAME, "binary frames are not supported; send JSON text")
        return Step(None, (Reply(reply),))

    def authenticate(self, token: str, ref: str | None, now: float) -> tuple[Effect, ...]:
        """A token, from an `auth` frame or the handshake's query string."""
        if self.closed:
            return ()
        try:
            verified = self._verify(token)
        except AuthError as exc:
            return self._auth_failed(exc.code, exc.message, ref)
        current = self.operator
        operator = verified.operator
        if current is not None and current.admin_id != operator.admin_id:
            return self._auth_failed(
                AuthErrorCode.INVALID_TOKEN, "token is for another operator", ref
            )
        self.operator = operator
        self._auth_deadline = None
        lifetime = verified.lifetime
        self._expires = None if lifetime is None else now + lifetime
        return (Authenticated(operator, ref, first=current is None),)

    def join_refused(self, line_user_id: str) -> None:
        """The caller did not open a conversation this session asked for."""
        self._leave(line_user_id)

    def _dispatch(self, frame: ClientFrame, now: float) -> tuple[Effect, ...]:
        if self.operator is None and frame.type not in _PRE_AUTH:
            return (Reply(error(ErrorCode.NOT_AUTHENTICATED, "send auth first", ref=frame.ref)),)
        if isinstance(frame, AuthFrame):
            return self.authenticate(frame.payload.token, frame.ref, now)
        if isinstance(frame, JoinConversationFrame):
            return self._join(frame)
        if isinstance(frame, LeaveConversationFrame):
            line_user_id = frame.payload.line_user_id
            self._leave(line_user_id)
            left = encode(ConversationLeft(line_user_id=line_user_id), frame.ref)
            return (Leave(line_user_id, frame.ref), Reply(left))
        if isinstance(frame, TypingStartFrame | TypingStopFrame):
            is_typing = isinstance(frame, TypingStartFrame)
            return (Typing(frame.payload.line_user_id, is_typing, frame.ref),)
        if isinstance(frame, MessageSendFrame):
            return (Send(frame.payload, frame.ref),)
        if isinstance(frame, NoteSendFrame):
            return (Note(frame.payload, frame.ref),)
        change = _workflow(frame)
        if change is not None:
            return (change,)
        return (Reply(encode(Pong(), frame.ref)),)

    def _join(self, frame: JoinConversationFrame) -> tuple[Effect, ...]:
        line_user_id = frame.payload.line_user_id
        joined = self._joined
        if line_user_id not in joined:
            if len(joined) >= self._limits.max_conversations:
                message = "too many open conversations on one connection; leave some first"
                return (Reply(error(ErrorCode.RATE_LIMITED, message, ref=frame.ref)),)
            self._joined = (*joined, line_user_id)
        p = frame.payload
        return (Join(line_user_id, p.after_seq, frame.ref, after_rev=p.after_rev),)

    def _leave(self, line_user_id: str) -> None:
        if line_user_id in self._joined:
            self._joined = tuple(j for j in self._joined if j != line_user_id)

    # deadlines --------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When `tick` may next have something to do (None once closed)."""
        if self.closed:
            return None
        due = self.last_activity + 2 * self._limits.heartbeat_interval
        for deadline in (self._auth_deadline, self._expires):
            if deadline is not None and deadline < due:
                due = deadline
        return due

    def tick(self, now: float) -> tuple[Effect, ...]:
        """Close the connection if a deadline has passed."""
        if self.closed:
            return ()
        if self._auth_deadline is not None and now >= self._auth_deadline:
            frame = encode(
                AuthErrorPayload(
                    code=AuthErrorCode.AUTH_TIMEOUT, message="no successful auth in time"
                )
            )
            return self._close(CloseCode.UNAUTHORIZED, "auth timeout", frame)
        if self._expires is not None and now >= self._expires:
            frame = encode(
                AuthErrorPayload(
                    code=AuthErrorCode.TOKEN_EXPIRED,
                    message="token has expired; reconnect with a new one",
                )
            )
            return self._close(CloseCode.UNAUTHORIZED, "token expired", frame)
        if now >= self.last_activity + 2 * self._limits.heartbeat_interval:
            return self._close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
        return ()

    def _close(self, code: CloseCode, reason: str, *final: str) -> tuple[Effect, ...]:
        self.closed = True
        return (Close(code, reason, final),)

    def _auth_failed(
        self, code: AuthErrorCode, message: str, ref: str | None
    ) -> tuple[Effect, ...]:
        frame = encode(AuthErrorPayload(code=code, message=message), ref)
        return self._close(CloseCode.UNAUTHORIZED, code.value, frame)


def _workflow(frame: ClientFrame) -> Effect | None:
    """The team workflow's frames (1.1) as the change each asks for."""
    if isinstance(frame, ConversationAssignFrame):
        return Assign(frame.payload.line_user_id, frame.payload.admin_id, frame.ref)
    if isinstance(frame, ConversationResolveFrame | ConversationReopenFrame):
        resolve = isinstance(frame, ConversationResolveFrame)
        status = ConversationStatus.RESOLVED if resolve else ConversationStatus.OPEN
        return SetStatus(frame.payload.line_user_id, status, frame.ref)
    if isinstance(frame, MarkReadFrame):
        return MarkRead(frame.payload.line_user_id, frame.payload.seq, frame.ref)
    return None


def _rate_limited(ref: str | None) -> tuple[Effect, ...]:
    return (Reply(error(ErrorCode.RATE_LIMITED, "too many frames; slow down", ref=ref)),)
