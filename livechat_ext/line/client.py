"""The LINE Messaging API over one shared `httpx.AsyncClient`.

Push is retried with the same `X-Line-Retry-Key` on network errors, 5xx and
rate limits, so a retry can never deliver twice. The other calls are cheap and
idempotent: they are tried at most twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from livechat_ext.errors import DeliveryError, describe
from livechat_ext.line.responses import error_for, json_object, log_response, retry_after_seconds
from livechat_ext.models import utf16_length

logger = logging.getLogger("livechat_ext.line")

MAX_TEXT_LENGTH = 5000
MAX_MESSAGES_PER_PUSH = 5
_OTHER_CALL_ATTEMPTS = 2
# Fixed forever: changing it would change every retry key derived before.
_RETRY_KEY_NAMESPACE = uuid.UUID("5b0d7a52-1c1e-4b6a-9f57-2f3c8e0c4a1d")


def retry_key_for(line_user_id: str, client_msg_id: str) -> str:
    """The `X-Line-Retry-Key` for one operator message: a UUID derived from the
    pair, so sending the same (user, client message id) again reuses it."""
    name = json.dumps([line_user_id, client_msg_id])
    return str(uuid.uuid5(_RETRY_KEY_NAMESPACE, name))


@dataclass(frozen=True)
class PushResult:
    """A push LINE accepted. `accepted_earlier` is True when LINE answered 409:
    an earlier attempt with the same retry key went through (then `request_id`
    is that attempt's, from `x-line-accepted-request-id`)."""

    message_ids: list[str]
    request_id: str | None
    accepted_earlier: bool


@dataclass(frozen=True)
class Profile:
    """A LINE user's profile."""

    user_id: str
    display_name: str | None
    picture_url: str | None
    status_message: str | None
    language: str | None


class LineClient:
    """Push messages, the loading animation, profiles and read marks.

    Pass `http` to share a client (it is then not closed here); `sleep` and
    `rng` are injectable so tests need not wait.
    """

    def __init__(
        self,
        channel_access_token: str,
        *,
        base_url: str = "https://api.line.me",
        data_base_url: str = "https://api-data.line.me",
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._token = channel_access_token
        self._base_url = base_url.rstrip("/")
        self.data_base_url = data_base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http  # made on first use when ours: a closed client can open again
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        return self._http

    def __repr__(self) -> str:  # never show the token
        return f"LineClient(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP client, if this object created it."""
        if self._owns_http and self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def __aenter__(self) -> LineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def push_text(
        self, to: str, text: str, *, retry_key: str, notification_disabled: bool = False
    ) -> PushResult:
        """Push one text message. Raises `DeliveryError` (not transient) without
        calling LINE when the text is empty or over `MAX_TEXT_LENGTH` UTF-16 units."""
        if not text:
            raise DeliveryError("text is empty", transient=False)
        if (length := utf16_length(text)) > MAX_TEXT_LENGTH:
            raise DeliveryError(
                f"text is {length} UTF-16 code units; LINE allows {MAX_TEXT_LENGTH}",
                transient=False,
            )
        return await self.push(
            to,
            [{"type": "text", "text": text}],
            retry_key=retry_key,
            notification_disabled=notification_disabled,
        )

    async def push(
        self,
        to: str,
        messages: list[dict[str, Any]],
        *,
        retry_key: str,
        notification_disabled: bool = False,
    ) -> PushResult:
        """Push 1 to 5 message objects to a user, group or room.

        Retries network errors, timeouts, 5xx and rate-limit 429s up to
        `max_attempts` in all, with the same `retry_key`. Raises `DeliveryError`:
        not transient for other 4xx (including the monthly limit), transient
        when the retries ran out. Raises `ValueError` for 0 or over 5 messages.
        """
        if not 1 <= len(messages) <= MAX_MESSAGES_PER_PUSH:
            raise ValueError(f"a push carries 1 to {MAX_MESSAGES_PER_PUSH} messages")
        body = {"to": to, "messages": messages, "notificationDisabled": notification_disabled}
        response = await self._call(
            "POST",
            f"{self._base_url}/v2/bot/message/push",
            json_body=body,
            extra_headers={"X-Line-Retry-Key": retry_key},
            attempts=self._max_attempts,
            accept=_push_accepted,
        )
        sent = json_object(response).get("sentMessages")
        message_ids = [
            str(item["id"])
            for item in (sent if isinstance(sent, list) else [])
            if isinstance(item, dict) and "id" in item
        ]
        if response.status_code == httpx.codes.CONFLICT:
            accepted_id = response.headers.get("x-line-accepted-request-id")
            return PushResult(message_ids, accepted_id, accepted_earlier=True)
        return PushResult(
            message_ids, response.headers.get("x-line-request-id"), accepted_earlier=False
        )

    async def start_loading(self, chat_id: str, seconds: int = 5) -> None:
        """Show the loading animation in a one-on-one chat (LINE answers 202).

        `seconds` is rounded up to a multiple of 5 within 5..60. Raises
        `DeliveryError` on failure (a group id is a non-transient 400).
        """
        loading_seconds = min(60, max(5, math.ceil(seconds / 5) * 5))
        await self._call(
            "POST",
            f"{self._base_url}/v2/bot/chat/loading/start",
            json_body={"chatId": chat_id, "loadingSeconds": loading_seconds},
        )

    async def get_profile(self, user_id: str) -> Profile | None:
        """A user's profile, or None when LINE has none to give (404).
        Raises `DeliveryError` on other failures."""
        response = await self._call(
            "GET",
            f"{self._base_url}/v2/bot/profile/{quote(user_id, safe='')}",
            accept=lambda r: r.is_success or r.status_code == httpx.codes.NOT_FOUND,
        )
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        data = json_object(response)
        return Profile(
            user_id=str(data.get("userId", user_id)),
            display_name=_opt_str(data.get("displayName")),
            picture_url=_opt_str(data.get("pictureUrl")),
            status_message=_opt_str(data.get("statusMessage")),
            language=_opt_str(data.get("language")),
        )

    async def mark_as_read(self, mark_as_read_token: str) -> None:
        """Mark a message, and every earlier one, read. Raises `DeliveryError`."""
        await self._call(
            "POST",
            f"{self._base_url}/v2/bot/chat/markAsRead",
            json_body={"markAsReadToken": mark_as_read_token},
        )

    @asynccontextmanager
    async def content(
        self, message_id: str, *, preview: bool = False
    ) -> AsyncIterator[httpx.Response]:
        """Stream a content a user sent (`preview`: its preview image) from the
        content API: the response as LINE gave it (200 with the bytes, 202 not
        ready yet, 404, 410 unsent), its body not read yet. Raises a transient
        `DeliveryError` when LINE cannot be reached, or when reading the body
        inside the block fails (a timeout, a reset connection)."""
        suffix = "/content/preview" if preview else "/content"
        url = f"{self.data_base_url}/v2/bot/message/{quote(message_id, safe='')}{suffix}"
        http = self._client()
        request = http.build_request(
            "GET", url, headers={"Authorization": f"Bearer {self._token}"}, timeout=self._timeout
        )
        try:
            response = await http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise DeliveryError(
                f"LINE unreachable: {type(exc).__name__}", transient=True, detail=str(exc)
            ) from exc
        try:
            log_response("GET", request.url.path, 1, response)
            yield response
        except httpx.TransportError as exc:  # reading the body: a timeout, a reset
            raise DeliveryError(
                f"LINE's content broke off: {type(exc).__name__}", transient=True, detail=str(exc)
            ) from exc
        finally:
            await response.aclose()

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json_body: dict[str, Any] | None = None,
        extra_headers: dict[str, str] | None = None,
        attempts: int = _OTHER_CALL_ATTEMPTS,
        accept: Callable[[httpx.Response], bool] = lambda r: r.is_success,
    ) -> httpx.Response:
        """Send one request, retrying transient failures; the accepted response."""
        headers = {"Authorization": f"Bearer {self._token}", **(extra_headers or {})}
        path = httpx.URL(url).path
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            cause: httpx.TransportError | None = None
            try:
                response = await self._client().request(
                    method, url, json=json_body, headers=headers, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                # one line: the traceback is httpx's and httpcore's own frames only,
                # and a closed keep-alive connection or a timeout is routine
                logger.warning("LINE %s %s attempt %d: %s", method, path, attempt, describe(exc))
                failure = DeliveryError(
                    f"LINE unreachable: {type(exc).__name__}", transient=True, detail=str(exc)
                )
                cause = exc
            else:
                log_response(method, path, attempt, response)
                if accept(response):
                    return response
                failure = error_for(response)
                retry_after = retry_after_seconds(response)
            if not failure.transient:
                raise failure
            if attempt >= attempts:
                raise DeliveryError(
                    f"{failure.message} (gave up after {attempts} attempts)",
                    status=failure.status,
                    transient=True,
                    detail=failure.detail,
                ) from cause
            await self._sleep(self._delay(attempt, retry_after))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Backoff before attempt `attempt + 1`: LINE's Retry-After when given
        (capped), else exponential with jitter in [half, whole] of the step."""
        if retry_after is not None:
            return min(retry_after, self._backoff_max * 4)
        step = min(self._backoff_max, self._backoff_base * 2.0 ** (attempt - 1))
        return step * (0.5 + self._rng.random() / 2)


def _push_accepted(response: httpx.Response) -> bool:
    # 409 with this header: the same retry key was accepted before, so it is sent.
    return response.is_success or (
        response.status_code == httpx.codes.CONFLICT
        and "x-line-accepted-request-id" in response.headers
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
