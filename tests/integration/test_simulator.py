"""The simulator and the fake LINE API in a real uvicorn, with a stand-in webhook receiver."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from livechat_ext.simulator import FakeLine, create_fake_line_app, create_simulator_app, sign
from tests.conftest import free_port

SECRET = "integration-channel-secret"
TOKEN = "integration-access-token"
SIM = "/live-chat/simulator"


class _Server(uvicorn.Server):
    """uvicorn with an event set once it listens, so tests wait without sleeping."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@dataclass
class Stack:
    fake: FakeLine
    client: httpx.AsyncClient
    server: _Server
    task: asyncio.Task[None]
    webhooks: list[tuple[str, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def next_webhook(self, count: int) -> tuple[str, str]:
        async with asyncio.timeout(5):
            while len(self.webhooks) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.webhooks[count - 1]


def build_app(
    stack_webhooks: list[tuple[str, str]], arrived: asyncio.Event, port: int, fake: FakeLine
) -> FastAPI:
    app = FastAPI()

    @app.post("/line/webhook")
    async def webhook(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-line-signature")
        if signature is None or not hmac.compare_digest(signature, sign(body, SECRET)):
            return Response(status_code=400)
        stack_webhooks.append((body.decode(), signature))
        arrived.set()
        return Response(status_code=200)

    app.mount("/fake-line", create_fake_line_app(fake))
    app.mount(
        SIM,
        create_simulator_app(
            fake, webhook_url=f"http://127.0.0.1:{port}/line/webhook", channel_secret=SECRET
        ),
    )
    return app


@contextlib.asynccontextmanager
async def running_stack() -> AsyncIterator[Stack]:
    port = free_port()
    fake = FakeLine(TOKEN)
    webhooks: list[tuple[str, str]] = []
    arrived = asyncio.Event()
    app = build_app(webhooks, arrived, port, fake)
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if not server.ready.is_set():
        ready.cancel()
        pytest.fail("uvicorn did not start")
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        stack = Stack(fake, client, server, task, webhooks, arrived)
        try:
            yield stack
        finally:
            fake.close()
            server.should_exit = True
            async with asyncio.timeout(10):
                await task


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with running_stack() as running:
        yield running


async def create_user(stack: Stack, name: str = "Alice") -> dict[str, Any]:
    response = await stack.client.post(f"{SIM}/api/users", json={"display_name": name})
    assert response.status_code == 201
    user: dict[str, Any] = response.json()
    return user


async def push(stack: Stack, to: str, text: str) -> httpx.Response:
    body = {"to": to, "messages": [{"type": "text", "text": text}]}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return await stack.client.post("/fake-line/v2/bot/message/push", json=body, headers=headers)


async def test_user_message_becomes_a_signed_webhook_the_sdk_parses(stack: Stack) -> None:
    from linebot.v3.webhook import WebhookParser
    from linebot.v3.webhooks import FollowEvent, MessageEvent, TextMessageContent

    user = await create_user(stack)
    assert user["webhook_status"] == 200
    assert user["following"] is True
    profile = await stack.client.get(
        f"/fake-line/v2/bot/profile/{user['user_id']}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert profile.json()["displayName"] == "Alice"

    sent = await stack.client.post(
        f"{SIM}/api/users/{user['user_id']}/messages", json={"type": "text", "text": "Hello 👋"}
    )

    assert sent.status_code == 200
    assert sent.json()["webhook_status"] == 200
    parser = WebhookParser(SECRET)
    follow = parser.parse(*await stack.next_webhook(1), as_payload=True).events[0]
    assert isinstance(follow, FollowEvent)
    [event] = parser.parse(*await stack.next_webhook(2), as_payload=True).events
    assert isinstance(event, MessageEvent)
    assert isinstance(event.message, TextMessageContent)
    assert event.message.text == "Hello 👋"
    assert event.message.id == sent.json()["message"]["id"]
    assert event.source.user_id == user["user_id"]


async def read_events(lines: AsyncIterator[str], until: str) -> list[tuple[str, Any]]:
    """(event, data) pairs from an SSE stream, up to and including the `until` event."""
    seen: list[tuple[str, Any]] = []
    name = ""
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            seen.append((name, json.loads(line.removeprefix("data: "))))
            if name == until:
                return seen
    return seen


async def test_push_and_loading_reach_the_users_event_stream(stack: Stack) -> None:
    user_id = (await create_user(stack))["user_id"]
    url = f"{SIM}/api/users/{user_id}/events"
    async with stack.client.stream("GET", url) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        async with asyncio.timeout(5):
            assert (await read_events(lines, "ready"))[-1][0] == "ready"
            loading = {"chatId": user_id, "loadingSeconds": 10}
            await stack.client.post(
                "/fake-line/v2/bot/chat/loading/start",
                json=loading,
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert (await read_events(lines, "loading"))[-1] == ("loading", {"seconds": 10})
            assert (await push(stack, user_id, "Hi, how can I help?")).status_code == 200
            name, data = (await read_events(lines, "message"))[-1]
            assert name == "message"

    assert data["sender"] == "account"
    assert data["text"] == "Hi, how can I help?"
    conversation = (await stack.client.get(f"{SIM}/api/users/{user_id}/messages")).json()
    assert [(m["sender"], m["text"]) for m in conversation] == [("account", "Hi, how can I help?")]


async def test_conversation_follow_and_unfollow(stack: Stack) -> None:
    user_id = (await create_user(stack, "Bob"))["user_id"]
    api = f"{SIM}/api/users/{user_id}"
    sticker = {"type": "sticker", "package_id": "446", "sticker_id": "1988"}
    assert (await stack.client.post(f"{api}/messages", json=sticker)).status_code == 200
    await push(stack, user_id, "delivered")

    unfollowed = await stack.client.post(f"{api}/unfollow")
    await push(stack, user_id, "not delivered")
    refused = await stack.client.post(f"{api}/messages", json={"type": "text", "text": "x"})
    followed = await stack.client.post(f"{api}/follow")

    assert unfollowed.json()["following"] is False
    assert refused.status_code == 409
    assert followed.json()["following"] is True
    last_event = json.loads((await stack.next_webhook(4))[0])["events"][0]
    assert last_event["follow"] == {"isUnblocked": True}
    conversation = (await stack.client.get(f"{api}/messages")).json()
    assert [(m["sender"], m["type"]) for m in conversation] == [
        ("user", "sticker"),
        ("account", "text"),
    ]
    assert [u["display_name"] for u in (await stack.client.get(f"{SIM}/api/users")).json()] == [
        "Bob"
    ]


async def test_bad_requests(stack: Stack) -> None:
    unknown = "U" + "f" * 32
    assert (await stack.client.get(f"{SIM}/api/users/{unknown}/messages")).status_code == 404
    assert (await stack.client.get(f"{SIM}/api/users/{unknown}/events")).status_code == 404
    user_id = (await create_user(stack))["user_id"]
    empty = await stack.client.post(
        f"{SIM}/api/users/{user_id}/messages", json={"type": "text", "text": ""}
    )
    assert empty.status_code == 422


async def test_the_page_is_served(stack: Stack) -> None:
    page = await stack.client.get(f"{SIM}/")
    script = await stack.client.get(f"{SIM}/simulator.js")

    assert page.status_code == 200
    assert "simulator.js" in page.text
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_shutdown_ends_open_event_streams() -> None:
    async with running_stack() as stack:
        user_id = (await create_user(stack))["user_id"]
        async with stack.client.stream("GET", f"{SIM}/api/users/{user_id}/events") as response:
            lines = response.aiter_lines()
            async with asyncio.timeout(5):
                await read_events(lines, "ready")
                stack.fake.close()
                stack.server.should_exit = True
                await stack.task
                assert [line async for line in lines if line.startswith("event:")] == []
