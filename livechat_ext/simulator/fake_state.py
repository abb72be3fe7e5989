"""The state and request handling of the fake LINE Messaging API, without HTTP.

`FakeLine` answers requests the way LINE does (`handle_*` return a `FakeReply`),
records what it accepted, injects failures on demand and lets tests and the
simulator wait for or subscribe to what happens, without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from livechat_ext.simulator.fake_content import ContentReply, FakeContents
from livechat_ext.simulator.fake_records import (
    FakeEvent,
    FakeReply,
    LoadingCall,
    Profile,
    Push,
)
from livechat_ext.simulator.fake_rules import (
    RETRY_KEY_TTL_SECONDS,
    Rejection,
    check_authorization,
    check_loading_body,
    check_push_body,
    check_read_body,
    check_retry_key,
    parse_json_object,
)
from livechat_ext.simulator.notifier import Notifier
from livechat_ext.simulator.webhooks import JSONDict, new_message_id, new_quote_token

DEFAULT_ACCESS_TOKEN = "fake-channel-access-token"


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: int | None
    message: str


def _reply(request_id: str, status: int, body: JSONDict, **headers: str) -> FakeReply:
    return FakeReply(status, body, {"x-line-request-id": request_id, **headers})


def _rejected(request_id: str, rejection: Rejection) -> FakeReply:
    return _reply(request_id, rejection.status, rejection.body())


class FakeLine:
    """In-memory fake of the LINE Messaging API (push, loading, profile, read).

    Failure controls: `fail_next(...)`, `failure_rate` with the seeded `rng`,
    and `delay` (seconds before each API call is answered).

    With `known_users_only`, a push or loading call to a user without a
    registered profile is refused (400) as LINE refuses an id it does not know;
    otherwise any `U...` id is accepted. `on_change` is called after every
    change to users or pushes (the simulator saves its state then).
    """

    def __init__(
        self,
        channel_access_token: str = DEFAULT_ACCESS_TOKEN,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        known_users_only: bool = False,
    ) -> None:
        self.channel_access_token = channel_access_token
        self.known_users_only = known_users_only
        self.on_change: Callable[[], None] | None = None
        self.failure_rate = 0.0
        self.delay = 0.0
        self.rng = random.Random(seed)
        self._seed = seed
        self._clock = clock
        self._profiles: dict[str, Profile] = {}
        self._blocked: set[str] = set()
        self._notifier: Notifier[FakeEvent] = Notifier()
        self._closed = False
        self.contents = FakeContents()  # kept across `reset`, like the users
        self._clear()

    def _clear(self) -> None:
        self._pushes: list[Push] = []
        self._loading: list[LoadingCall] = []
        self._read_tokens: list[str] = []
        self._retry_keys: dict[str, Push] = {}
        self._failures: deque[_Failure] = deque()
        self._read_failures: deque[int] = deque()
        self._profile_failures: deque[int] = deque()
        self._loading_until: dict[str, float] = {}

    # -- controls ---------------------------------------------------------

    def fail_next(
        self, n: int = 1, status: int = 500, retry_after: int | None = None, message: str = ""
    ) -> None:
        """Make the next `n` push calls fail with `status` (they are not recorded).

        Raises ValueError when `n` is negative or `status` is not an error status.
        """
        if n < 0 or not 400 <= status <= 599:
            raise ValueError("n must be >= 0 and status a 4xx or 5xx code")
        text = message or http.HTTPStatus(status).phrase
        self._failures.extend(_Failure(status, retry_after, text) for _ in range(n))

    def fail_next_reads(self, n: int = 1, status: int = 500) -> None:
        """Make the next `n` markAsRead calls fail with `status` (not recorded)."""
        if n < 0 or not 400 <= status <= 599:
            raise ValueError("n must be >= 0 and status a 4xx or 5xx code")
        self._read_failures.extend([status] * n)

    def fail_next_profiles(self, n: int = 1, status: int = 500) -> None:
        """Make the next `n` profile calls fail with `status`."""
        if n < 0 or not 400 <= status <= 599:
            raise ValueError("n must be >= 0 and status a 4xx or 5xx code")
        self._profile_failures.extend([status] * n)

    def set_failure_rate(self, rate: float, seed: int | None = None) -> None:
        """Fail this share of push calls with 500, drawn from `rng` (reseeded if given)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self.failure_rate = rate
        if seed is not None:
            self.rng.seed(seed)

    def reset(self) -> None:
        """Forget pushes, loading calls, retry keys and failure settings; keep users."""
        self._clear()
        self.failure_rate = 0.0
        self.delay = 0.0
        self.rng.seed(self._seed)

    def close(self) -> None:
        """Ask every live subscription stream to end (call before server shutdown)."""
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    # -- users ------------------------------------------------------------

    def add_profile(self, profile: Profile) -> Profile:
        """Register (or replace) a user the profile endpoint knows."""
        self._profiles[profile.user_id] = profile
        self._changed()
        return profile

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def restore_pushes(self, pushes: list[Push]) -> None:
        """Take back pushes accepted by an earlier run (and their retry keys)."""
        self._pushes = list(pushes)
        self._retry_keys = {p.retry_key: p for p in pushes if p.retry_key}

    def profile(self, user_id: str) -> Profile | None:
        """The registered profile, a generated one for other `U...` ids, else None."""
        known = self._profiles.get(user_id)
        if known is not None or not user_id.startswith("U"):
            return known
        return Profile(user_id, f"LINE user {user_id[-4:]}")

    @property
    def profiles(self) -> list[Profile]:
        """The registered profiles, in registration order."""
        return list(self._profiles.values())

    def block(self, user_id: str) -> None:
        """The user blocked the account: pushes still answer 200 but are not
        delivered, and no loading animation shows."""
        self._blocked.add(user_id)
        self._loading_until.pop(user_id, None)
        self._changed()

    def unblock(self, user_id: str) -> None:
        self._blocked.discard(user_id)
        self._changed()

    @property
    def blocked(self) -> list[str]:
        """The users who block the account."""
        return sorted(self._blocked)

    def is_blocked(self, user_id: str) -> bool:
        return user_id in self._blocked

    # -- records ----------------------------------------------------------

    @property
    def pushes(self) -> list[Push]:
        """Accepted pushes, oldest first."""
        return list(self._pushes)

    @property
    def loading_calls(self) -> list[LoadingCall]:
        return list(self._loading)

    @property
    def read_tokens(self) -> list[str]:
        """The `markAsReadToken`s received, oldest first."""
        return list(self._read_tokens)

    def loading_seconds_left(self, user_id: str) -> float:
        """How long the user's loading animation still shows (0 when none)."""
        until = self._loading_until.get(user_id)
        return 0.0 if until is None else max(0.0, until - self._clock())

    async def wait_for_pushes(self, n: int, timeout: float = 5.0) -> list[Push]:  # noqa: ASYNC109
        """Wait until at least `n` pushes are accepted; raises TimeoutError."""
        await self._notifier.wait_until(lambda: len(self._pushes) >= n, timeout)
        return self.pushes

    async def wait_for_loading(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[LoadingCall]:
        """Wait until at least `n` loading calls are accepted; raises TimeoutError."""
        await self._notifier.wait_until(lambda: len(self._loading) >= n, timeout)
        return self.loading_calls

    @contextlib.contextmanager
    def subscribe(self, maxsize: int = 1000) -> Iterator[asyncio.Queue[FakeEvent]]:
        """A queue receiving every accepted push and loading call while the block runs."""
        with self._notifier.subscribe(maxsize) as queue:
            yield queue

    # -- API handlers -----------------------------------------------------

    def _auth(self, authorization: str | None) -> Rejection | None:
        return check_authorization(authorization, self.channel_access_token)

    def handle_push(
        self, authorization: str | None, retry_key: str | None, raw: bytes
    ) -> FakeReply:
        """Answer `POST /v2/bot/message/push` as LINE does."""
        request_id = uuid.uuid4().hex
        body = parse_json_object(raw)
        if isinstance(body, Rejection):
            return _rejected(request_id, self._auth(authorization) or body)
        rejection = (
            self._auth(authorization)
            or check_push_body(body)
            or check_retry_key(retry_key)
            or self._unknown(body.get("to"))
        )
        if rejection is not None:
            return _rejected(request_id, rejection)
        failure = self._next_failure()
        if failure is not None:
            headers = (
                {} if failure.retry_after is None else {"retry-after": str(failure.retry_after)}
            )
            return _reply(
                request_id, failure.status, {"message": failure.message, "details": []}, **headers
            )
        now = self._clock()
        earlier = self._retry_keys.get(retry_key) if retry_key else None
        if earlier is not None and now - earlier.accepted_at < RETRY_KEY_TTL_SECONDS:
            conflict = {
                "message": "The retry key is already accepted",
                "sentMessages": list(earlier.sent_messages),
            }
            return _reply(
                request_id, 409, conflict, **{"x-line-accepted-request-id": earlier.request_id}
            )
        return self._accept_push(request_id, body, retry_key, now)

    def _next_failure(self) -> _Failure | None:
        if self._failures:
            return self._failures.popleft()
        if self.failure_rate > 0 and self.rng.random() < self.failure_rate:
            return _Failure(500, None, "An error occurred in the server")
        return None

    def _accept_push(
        self, request_id: str, body: dict[str, Any], retry_key: str | None, now: float
    ) -> FakeReply:
        to: str = body["to"]
        sent = tuple(
            {"id": new_message_id(), "quoteToken": new_quote_token()} for _ in body["messages"]
        )
        push = Push(
            request_id=request_id,
            to=to,
            messages=tuple(body["messages"]),
            sent_messages=sent,
            retry_key=retry_key,
            notification_disabled=bool(body.get("notificationDisabled", False)),
            accepted_at=now,
            delivered=to not in self._blocked,
        )
        self._pushes.append(push)
        if retry_key:
            self._retry_keys[retry_key] = push
        if push.delivered:
            self._loading_until.pop(to, None)
        self._notifier.publish(push)
        self._changed()
        return _reply(request_id, 200, {"sentMessages": list(sent)})

    def _unknown(self, user_id: object) -> Rejection | None:
        if not self.known_users_only or user_id in self._profiles:
            return None
        return Rejection(400, f"The property, 'to', in the request body is invalid ({user_id})")

    def handle_loading(self, authorization: str | None, raw: bytes) -> FakeReply:
        """Answer `POST /v2/bot/chat/loading/start` (202 and recorded)."""
        request_id = uuid.uuid4().hex
        body = parse_json_object(raw)
        if isinstance(body, Rejection):
            return _rejected(request_id, self._auth(authorization) or body)
        rejection = self._auth(authorization) or check_loading_body(body)
        if rejection is None:
            rejection = self._unknown(body["chatId"])
        if rejection is not None:
            return _rejected(request_id, rejection)
        now = self._clock()
        call = LoadingCall(request_id, body["chatId"], body.get("loadingSeconds", 20), now)
        self._loading.append(call)
        if call.chat_id not in self._blocked:  # a user who blocks the account sees nothing
            self._loading_until[call.chat_id] = now + call.loading_seconds
        self._notifier.publish(call)
        return _reply(request_id, 202, {})

    def handle_profile(self, authorization: str | None, user_id: str) -> FakeReply:
        """Answer `GET /v2/bot/profile/{userId}` (404 for ids not starting with U)."""
        request_id = uuid.uuid4().hex
        rejection = self._auth(authorization)
        if rejection is not None:
            return _rejected(request_id, rejection)
        if self._profile_failures:
            status = self._profile_failures.popleft()
            return _reply(request_id, status, {"message": http.HTTPStatus(status).phrase})
        profile = self.profile(user_id)
        if profile is None:
            return _reply(request_id, 404, {"message": "Not found", "details": []})
        return _reply(request_id, 200, profile.to_json())

    # -- content --------------------------------------------------------

    def add_content(
        self,
        message_id: str,
        body: bytes,
        content_type: str,
        preview: bytes | None = None,
        ready_after: int = 0,
    ) -> None:
        """Serve `body` for LINE message `message_id` (and `preview` for
        `/content/preview`), after `ready_after` answers of 202 (not ready)."""
        self.contents.add(message_id, body, content_type, preview, ready_after)

    def unsend_content(self, message_id: str) -> None:
        """The user unsent the message: its content answers 410."""
        self.contents.unsend(message_id)

    def handle_content(
        self, authorization: str | None, message_id: str, preview: bool
    ) -> ContentReply:
        """Answer `GET /v2/bot/message/{id}/content[/preview]` as LINE's content API does."""
        request_id = uuid.uuid4().hex
        rejection = self._auth(authorization)
        if rejection is not None:
            body = json.dumps(rejection.body()).encode()
            return ContentReply(rejection.status, body, "application/json")
        reply = self.contents.answer(message_id, preview)
        return ContentReply(
            reply.status, reply.body, reply.content_type, {"x-line-request-id": request_id}
        )

    def handle_mark_as_read(self, authorization: str | None, raw: bytes) -> FakeReply:
        """Answer `POST /v2/bot/chat/markAsRead` (200 `{}`)."""
        request_id = uuid.uuid4().hex
        body = parse_json_object(raw)
        if isinstance(body, Rejection):
            return _rejected(request_id, self._auth(authorization) or body)
        rejection = self._auth(authorization) or check_read_body(body)
        if rejection is not None:
            return _rejected(request_id, rejection)
        if self._read_failures:
            status = self._read_failures.popleft()
            return _reply(request_id, status, {"message": http.HTTPStatus(status).phrase})
        token: str = body["markAsReadToken"]
        self._read_tokens.append(token)
        return _reply(request_id, 200, {})


__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "FakeEvent",
    "FakeLine",
    "FakeReply",
    "LoadingCall",
    "Profile",
    "Push",
]
