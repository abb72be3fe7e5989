"""The LINE simulator: a phone-like page and the API it uses to act as LINE users.

A user's message becomes a webhook event, signed with the channel secret and
posted to the plugin's webhook URL, as LINE would; the account's pushes reach
the page through the `FakeLine` the plugin's Messaging API client talks to.
"""

from __future__ import annotations

import base64
import binascii
import time
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, model_validator

from livechat_ext.simulator.events import user_event_stream
from livechat_ext.simulator.fake_records import Profile
from livechat_ext.simulator.fake_rules import MAX_TEXT_UTF16, utf16_length
from livechat_ext.simulator.fake_state import FakeLine
from livechat_ext.simulator.phone import PhoneMessage, Phones
from livechat_ext.simulator.saved import SavedState
from livechat_ext.simulator.webhooks import (
    DEFAULT_DESTINATION,
    JSONDict,
    follow_event,
    media_message_event,
    new_message_id,
    new_user_id,
    signed_webhook,
    sticker_message_event,
    text_message_event,
    unfollow_event,
)
from livechat_ext.web.security_headers import SECURITY_HEADERS

STATIC_DIR = Path(__file__).parent / "static"
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class NewUser(BaseModel):
    display_name: str = Field(min_length=1, max_length=20)
    follow: bool = True


class UserMessage(BaseModel):
    type: Literal["text", "sticker"]
    text: str | None = None
    package_id: str | None = None
    sticker_id: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> UserMessage:
        if self.type == "text":
            if not self.text or utf16_length(self.text) > MAX_TEXT_UTF16:
                raise ValueError(f"text must have 1 to {MAX_TEXT_UTF16} UTF-16 code units")
        elif not (self.package_id and self.sticker_id):
            raise ValueError("a sticker needs package_id and sticker_id")
        return self


MAX_MEDIA_BYTES = 20 * 1024 * 1024


class UserMedia(BaseModel):
    """An image, video, audio or file a simulated user sends (base64 bytes)."""

    kind: Literal["image", "video", "audio", "file"]
    file_name: str | None = Field(default=None, min_length=1, max_length=255)
    content_type: str = Field(min_length=3, max_length=255, pattern=r"^[\w.+-]+/[\w.+-]+$")
    data_base64: str = Field(min_length=1, max_length=MAX_MEDIA_BYTES * 4 // 3 + 8)

    def body(self) -> bytes:
        """The bytes; raises ValueError for invalid base64."""
        try:
            return base64.b64decode(self.data_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("data_base64 is not valid base64") from exc


class _Webhook:
    """Signs and posts webhook bodies; reports the status or the transport error."""

    def __init__(
        self, url: str, secret: str, destination: str, http: httpx.AsyncClient | None
    ) -> None:
        self.url, self.secret, self.destination, self.http = url, secret, destination, http

    async def post(self, event: JSONDict) -> JSONDict:
        body, headers = signed_webhook([event], self.secret, self.destination)
        try:
            if self.http is not None:
                response = await self.http.post(self.url, content=body, headers=headers)
            else:
                # A mounted sub-app gets no lifespan, so there is no shared client to close.
                async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT) as client:
                    response = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return {"webhook_status": None, "webhook_error": f"{type(exc).__name__}: {exc}"}
        return {"webhook_status": response.status_code, "webhook_error": None}


def _user_message(body: UserMessage) -> PhoneMessage:
    return PhoneMessage(
        id=new_message_id(),
        sender="user",
        type=body.type,
        at=time.time(),
        text=body.text if body.type == "text" else None,
        package_id=body.package_id if body.type == "sticker" else None,
        sticker_id=body.sticker_id if body.type == "sticker" else None,
    )


def _event_for(user_id: str, message: PhoneMessage) -> JSONDict:
    ts = int(message.at * 1000)
    if message.type == "text" and message.text is not None:
        return text_message_event(user_id, message.text, message_id=message.id, timestamp_ms=ts)
    return sticker_message_event(
        user_id,
        message.package_id or "",
        message.sticker_id or "",
        message_id=message.id,
        timestamp_ms=ts,
    )


def _add_api_routes(app: FastAPI, fake: FakeLine, phones: Phones, webhook: _Webhook) -> None:
    def known(user_id: str) -> str:
        if not phones.knows(user_id):
            raise HTTPException(404, f"unknown simulator user {user_id}")
        return user_id

    @app.get("/api/users")
    async def list_users() -> list[JSONDict]:
        return phones.users_json()

    @app.post("/api/users", status_code=201)
    async def create_user(body: NewUser) -> JSONDict:
        user_id = new_user_id()
        fake.add_profile(Profile(user_id, body.display_name, status_message="Simulated user"))
        result: JSONDict = {"webhook_status": None, "webhook_error": None}
        if body.follow:
            phones.follow(user_id)
            result = await webhook.post(follow_event(user_id))
        return {**phones.user_json(user_id), **result}

    @app.get("/api/users/{user_id}/messages")
    async def conversation(user_id: str) -> list[JSONDict]:
        return [m.to_json() for m in phones.conversation(known(user_id))]

    @app.post("/api/users/{user_id}/messages")
    async def send(user_id: str, body: UserMessage) -> JSONDict:
        if not phones.is_following(known(user_id)):
            raise HTTPException(409, "the user has blocked the account: follow it first")
        message = _user_message(body)
        phones.record_sent(user_id, message)
        result = await webhook.post(_event_for(user_id, message))
        return {"message": message.to_json(), **result}

    @app.post("/api/users/{user_id}/media")
    async def send_media(user_id: str, body: UserMedia) -> JSONDict:
        """The user sends an image, video, audio or file: its bytes become LINE's
        content of a new message (an image's preview is the same bytes)."""
        if not phones.is_following(known(user_id)):
            raise HTTPException(409, "the user has blocked the account: follow it first")
        try:
            raw = body.body()
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        message = PhoneMessage(
            id=new_message_id(),
            sender="user",
            type=body.kind,
            at=time.time(),
            file_name=body.file_name if body.kind == "file" else None,
            file_size=len(raw),
            content_type=body.content_type,
        )
        preview = raw if body.kind == "image" else None
        fake.add_content(message.id, raw, body.content_type, preview=preview)
        phones.record_sent(user_id, message)
        event = media_message_event(
            user_id,
            body.kind,
            message_id=message.id,
            file_name=body.file_name,
            file_size=len(raw),
            timestamp_ms=int(message.at * 1000),
        )
        result = await webhook.post(event)
        return {"message": message.to_json(), **result}

    @app.post("/api/users/{user_id}/follow")
    async def follow(user_id: str) -> JSONDict:
        unblocked = phones.follow(known(user_id))
        result = await webhook.post(follow_event(user_id, is_unblocked=unblocked))
        return {**phones.user_json(user_id), **result}

    @app.post("/api/users/{user_id}/unfollow")
    async def unfollow(user_id: str) -> JSONDict:
        phones.unfollow(known(user_id))
        result = await webhook.post(unfollow_event(user_id))
        return {**phones.user_json(user_id), **result}


def create_simulator_app(
    fake: FakeLine,
    *,
    webhook_url: str,
    channel_secret: str,
    http: httpx.AsyncClient | None = None,
    destination: str = DEFAULT_DESTINATION,
    stream_seconds: float = 60.0,
    state_file: Path | None = None,
) -> FastAPI:
    """The simulator page and its API, to mount at e.g. `/live-chat/simulator`.

    Webhooks are signed with `channel_secret` and posted to `webhook_url`
    through `http` (or a short-lived client per request when None). Call
    `fake.close()` before the server shuts down to end the live streams.
    With `state_file`, users, their chats and the fake's pushes are loaded
    from it and saved to it after every change.
    """
    app = FastAPI(title="LINE simulator", openapi_url=None, docs_url=None, redoc_url=None)
    phones = Phones(fake)
    if state_file is not None:
        saved = SavedState(state_file, fake, phones)
        saved.load()
        saved.watch()
    app.state.fake_line = fake
    app.state.phones = phones
    _add_api_routes(app, fake, phones, _Webhook(webhook_url, channel_secret, destination, http))

    @app.get("/api/users/{user_id}/events")
    async def events(user_id: str, request: Request) -> StreamingResponse:
        if not phones.knows(user_id):
            raise HTTPException(404, f"unknown simulator user {user_id}")
        stream = user_event_stream(
            fake, user_id, request.is_disconnected, max_seconds=stream_seconds
        )
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    app.mount("/", _SecureStaticFiles(directory=STATIC_DIR, html=True), name="simulator-static")
    return app


class _SecureStaticFiles(StaticFiles):
    """The simulator's page and scripts, with the console's security headers."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(SECURITY_HEADERS)
        return response


__all__ = ["NewUser", "UserMessage", "create_simulator_app"]
