"""Per-connection state and the timers that close a connection by themselves."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from .auth import Operator
from .connection import Connection
from .errors import AuthErrorCode, CloseCode
from .protocol.server import AuthErrorPayload, encode
from .ratelimit import FrameLimiter


@dataclass
class Outcome:
    """What handling one frame asks the endpoint to do: frames to send back, in
    order, and maybe a close afterwards."""

    replies: list[str] = field(default_factory=list)
    close: tuple[CloseCode, str] | None = None


class Session:
    """One connection's protocol state: who it is, which conversations it
    joined, its rate limiter and its deadlines (auth, token expiry, heartbeat)."""

    __slots__ = ("_timers", "conn", "heartbeat", "joined", "last_activity", "limiter", "operator")

    def __init__(self, conn: Connection, limiter: FrameLimiter, heartbeat: float) -> None:
        self.conn = conn
        self.limiter = limiter
        self.operator: Operator | None = None
        self.joined: set[str] = set()
        self.heartbeat = heartbeat
        self.last_activity = time.monotonic()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    @property
    def authenticated(self) -> bool:
        return self.operator is not None

    def touch(self) -> None:
        self.last_activity = time.monotonic()

    def arm(self, name: str, delay: float, callback: object) -> None:
        """(Re)schedule the named deadline."""
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[name] = loop.call_later(max(delay, 0.0), callback)  # type: ignore[arg-type]

    def disarm(self, name: str) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()

    def start_deadlines(self, auth_timeout: float) -> None:
        self.arm("auth", auth_timeout, self._auth_timed_out)
        self.arm("heartbeat", self.heartbeat * 2, self._check_heartbeat)

    def _auth_timed_out(self) -> None:
        if not self.authenticated:
            frame = encode(
                AuthErrorPayload(
                    code=AuthErrorCode.AUTH_TIMEOUT, message="no successful auth in time"
                )
            )
            self.conn.close(CloseCode.UNAUTHORIZED, "auth timeout", final=[frame])

    def _check_heartbeat(self) -> None:
        silent = time.monotonic() - self.last_activity
        limit = self.heartbeat * 2
        if silent >= limit:
            self.conn.close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
        else:
            self.arm("heartbeat", limit - silent, self._check_heartbeat)

    def expire_at(self, deadline: float) -> None:
        """Close with `token_expired` at `deadline` (a Unix time): the token runs out."""
        self.arm("expiry", deadline - time.time(), self._token_expired)

    def _token_expired(self) -> None:
        frame = encode(
            AuthErrorPayload(
                code=AuthErrorCode.TOKEN_EXPIRED,
                message="token has expired; reconnect with a new one",
            )
        )
        self.conn.close(CloseCode.UNAUTHORIZED, "token expired", final=[frame])

    def cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
