"""The fake LINE Messaging API over HTTP, plus a JSON control API under `/_fake/`.

Mount the app anywhere and point `LIVECHAT_LINE_API_BASE_URL` at the mount
point. Nothing here reaches LINE.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from livechat_ext.simulator.fake_records import FakeReply, Profile
from livechat_ext.simulator.fake_state import DEFAULT_ACCESS_TOKEN, FakeLine
from livechat_ext.simulator.webhooks import JSONDict


class FailRequest(BaseModel):
    n: int = Field(1, ge=0)
    status: int = Field(500, ge=400, le=599)
    retry_after: int | None = Field(None, ge=0)
    message: str = ""


class FailureRateRequest(BaseModel):
    rate: float = Field(ge=0.0, le=1.0)
    seed: int | None = None


class DelayRequest(BaseModel):
    seconds: float = Field(ge=0.0, le=120.0)


class ProfileRequest(BaseModel):
    user_id: str = Field(pattern=r"^U[0-9a-f]{32}$")
    display_name: str = Field(min_length=1, max_length=100)
    picture_url: str | None = None
    status_message: str | None = None
    language: str = "en"


def _respond(reply: FakeReply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)


def _add_line_routes(app: FastAPI, fake: FakeLine) -> None:
    async def pause() -> None:
        if fake.delay > 0:
            await asyncio.sleep(fake.delay)

    @app.post("/v2/bot/message/push")
    async def push(request: Request) -> JSONResponse:
        raw = await request.body()
        await pause()
        auth = request.headers.get("authorization")
        return _respond(fake.handle_push(auth, request.headers.get("x-line-retry-key"), raw))

    @app.post("/v2/bot/chat/loading/start")
    async def loading(request: Request) -> JSONResponse:
        raw = await request.body()
        await pause()
        return _respond(fake.handle_loading(request.headers.get("authorization"), raw))

    @app.get("/v2/bot/profile/{user_id}")
    async def profile(user_id: str, request: Request) -> JSONResponse:
        await pause()
        return _respond(fake.handle_profile(request.headers.get("authorization"), user_id))

    async def content(message_id: str, request: Request, preview: bool) -> Response:
        await pause()
        auth = request.headers.get("authorization")
        reply = fake.handle_content(auth, message_id, preview)
        return Response(
            reply.body,
            status_code=reply.status,
            media_type=reply.content_type,
            headers=reply.headers,
        )

    @app.get("/v2/bot/message/{message_id}/content")
    async def message_content(message_id: str, request: Request) -> Response:
        return await content(message_id, request, False)

    @app.get("/v2/bot/message/{message_id}/content/preview")
    async def message_preview(message_id: str, request: Request) -> Response:
        return await content(message_id, request, True)

    @app.post("/v2/bot/chat/markAsRead")
    async def mark_as_read(request: Request) -> JSONResponse:
        raw = await request.body()
        await pause()
        return _respond(fake.handle_mark_as_read(request.headers.get("authorization"), raw))


def _add_control_routes(app: FastAPI, fake: FakeLine) -> None:
    @app.post("/_fake/fail")
    async def fail(body: FailRequest) -> JSONDict:
        fake.fail_next(body.n, body.status, body.retry_after, body.message)
        return {"ok": True}

    @app.post("/_fake/failure_rate")
    async def failure_rate(body: FailureRateRequest) -> JSONDict:
        fake.set_failure_rate(body.rate, body.seed)
        return {"ok": True}

    @app.post("/_fake/delay")
    async def delay(body: DelayRequest) -> JSONDict:
        fake.delay = body.seconds
        return {"ok": True}

    @app.get("/_fake/pushes")
    async def pushes() -> list[JSONDict]:
        return [p.to_json() for p in fake.pushes]

    @app.get("/_fake/loading")
    async def loading_calls() -> list[JSONDict]:
        return [c.to_json() for c in fake.loading_calls]

    @app.post("/_fake/profiles")
    async def add_profile(body: ProfileRequest) -> JSONDict:
        return fake.add_profile(Profile(**body.model_dump())).to_json()

    @app.get("/_fake/profiles")
    async def profiles() -> list[JSONDict]:
        return [p.to_json() for p in fake.profiles]

    @app.post("/_fake/reset")
    async def reset() -> JSONDict:
        fake.reset()
        return {"ok": True}


def create_fake_line_app(fake: FakeLine | None = None) -> FastAPI:
    """An ASGI app serving the fake LINE API for `fake` (a new `FakeLine` if None).

    LINE routes: `POST /v2/bot/message/push`, `POST /v2/bot/chat/loading/start`,
    `GET /v2/bot/profile/{userId}`, `POST /v2/bot/chat/markAsRead`, and the
    content API's `GET /v2/bot/message/{id}/content` and `/content/preview`
    (point `LIVECHAT_LINE_DATA_BASE_URL` at the same mount). Control
    routes (JSON): `POST /_fake/fail`, `/_fake/failure_rate`, `/_fake/delay`,
    `/_fake/profiles`, `/_fake/reset`; `GET /_fake/pushes`, `/_fake/loading`,
    `/_fake/profiles`. The `FakeLine` is also at `app.state.fake_line`.
    """
    fake = fake if fake is not None else FakeLine()
    app = FastAPI(title="Fake LINE Messaging API", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.fake_line = fake
    _add_line_routes(app, fake)
    _add_control_routes(app, fake)
    return app


__all__ = ["DEFAULT_ACCESS_TOKEN", "FakeLine", "create_fake_line_app"]
