"""The fake LINE Messaging API, driven in-process through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from livechat_ext.simulator import (
    FakeLine,
    LoadingCall,
    Profile,
    Push,
    create_fake_line_app,
    follow_event,
    new_user_id,
    new_webhook_event_id,
    sign,
    signed_webhook,
    sticker_message_event,
    text_message_event,
    unfollow_event,
)

TOKEN = "test-access-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
USER = "U" + "a" * 32


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def push_body(*messages: dict[str, Any], to: str = USER) -> dict[str, Any]:
    return {"to": to, "messages": list(messages) or [text("hello")]}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeLine:
    return FakeLine(TOKEN, seed=7, clock=clock)


@pytest.fixture
async def client(fake: FakeLine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_fake_line_app(fake))
    async with httpx.AsyncClient(transport=transport, base_url="http://fake-line") as c:
        yield c


async def push(
    client: httpx.AsyncClient, body: object = None, *, retry_key: str | None = None
) -> httpx.Response:
    headers = dict(AUTH)
    if retry_key is not None:
        headers["X-Line-Retry-Key"] = retry_key
    return await client.post(
        "/v2/bot/message/push", json=push_body() if body is None else body, headers=headers
    )


async def test_push_is_accepted_and_recorded(client: httpx.AsyncClient, fake: FakeLine) -> None:
    response = await push(
        client, push_body(text("hi"), {"type": "sticker", "packageId": "446", "stickerId": "1988"})
    )

    assert response.status_code == 200
    sent = response.json()["sentMessages"]
    assert [set(m) for m in sent] == [{"id", "quoteToken"}] * 2
    [record] = fake.pushes
    assert record.to == USER
    assert record.messages[0] == text("hi")
    assert record.request_id == response.headers["x-line-request-id"]
    assert record.retry_key is None
    assert record.delivered
    assert [dict(m) for m in record.sent_messages] == sent


async def test_retry_key_accepted_once_then_409(client: httpx.AsyncClient, fake: FakeLine) -> None:
    key = str(uuid.uuid4())
    first = await push(client, retry_key=key)
    second = await push(client, retry_key=key)

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert second.headers["x-line-request-id"] != first.headers["x-line-request-id"]
    assert second.json() == {
        "message": "The retry key is already accepted",
        "sentMessages": first.json()["sentMessages"],
    }
    assert len(fake.pushes) == 1
    assert fake.pushes[0].retry_key == key


async def test_retry_key_expires_after_24_hours(
    client: httpx.AsyncClient, fake: FakeLine, clock: Clock
) -> None:
    key = str(uuid.uuid4())
    assert (await push(client, retry_key=key)).status_code == 200
    clock.now += 24 * 60 * 60 + 1
    assert (await push(client, retry_key=key)).status_code == 200
    assert len(fake.pushes) == 2


async def test_retry_key_must_be_a_uuid(client: httpx.AsyncClient) -> None:
    response = await push(client, retry_key="not-a-uuid")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("headers", "message_start"),
    [
        ({"Authorization": "Bearer wrong"}, "Authentication failed"),
        ({}, "Authorization header required"),
    ],
)
async def test_bad_token_is_401(
    client: httpx.AsyncClient, fake: FakeLine, headers: dict[str, str], message_start: str
) -> None:
    response = await client.post("/v2/bot/message/push", json=push_body(), headers=headers)

    assert response.status_code == 401
    assert response.json()["message"].startswith(message_start)
    assert response.json()["details"] == []
    assert "x-line-request-id" in response.headers
    assert fake.pushes == []


@pytest.mark.parametrize(
    ("body", "prop"),
    [
        ({"messages": [text("x")]}, "to"),
        (push_body(to="Xnot-an-id"), "to"),
        ({"to": USER, "messages": []}, "messages"),
        ({"to": USER, "messages": [text("x")] * 6}, "messages"),
        (push_body(text("a" * 5001)), "messages[0].text"),
        (push_body(text("😀" * 2501)), "messages[0].text"),
        (push_body(text("")), "messages[0].text"),
        (push_body(text("ok"), {"type": "text"}), "messages[1].text"),
        (push_body({"type": "hologram"}), "messages[0].type"),
        (push_body({"type": "sticker", "packageId": "1"}), "messages[0].stickerId"),
        ({**push_body(), "notificationDisabled": "yes"}, "notificationDisabled"),
    ],
)
async def test_invalid_push_is_400_with_details(
    client: httpx.AsyncClient, fake: FakeLine, body: dict[str, Any], prop: str
) -> None:
    response = await push(client, body)

    assert response.status_code == 400
    assert response.json()["message"].startswith("The request body has")
    assert prop in [d["property"] for d in response.json()["details"]]
    assert fake.pushes == []


async def test_text_limit_counts_utf16_units(client: httpx.AsyncClient) -> None:
    assert (await push(client, push_body(text("😀" * 2500)))).status_code == 200
    assert (await push(client, push_body(text("a" * 5000)))).status_code == 200


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]"])
async def test_unparsable_body_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post("/v2/bot/message/push", content=raw, headers=AUTH)
    assert response.status_code == 400
    assert set(response.json()) == {"message", "details"}


async def test_body_over_2mb_is_413(client: httpx.AsyncClient) -> None:
    raw = json.dumps(push_body(text("a" * (2 * 1024 * 1024)))).encode()
    response = await client.post("/v2/bot/message/push", content=raw, headers=AUTH)
    assert response.status_code == 413


async def test_fail_next_then_success(client: httpx.AsyncClient, fake: FakeLine) -> None:
    fake.fail_next(2, status=503, retry_after=3)
    key = str(uuid.uuid4())

    statuses = [(await push(client, retry_key=key)) for _ in range(3)]

    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].headers["retry-after"] == "3"
    assert statuses[0].json() == {"message": "Service Unavailable", "details": []}
    assert len(fake.pushes) == 1
    assert fake.pushes[0].request_id == statuses[2].headers["x-line-request-id"]


async def test_fail_next_with_a_monthly_limit_message(
    client: httpx.AsyncClient, fake: FakeLine
) -> None:
    fake.fail_next(1, status=429, message="You have reached your monthly limit.")
    response = await push(client)
    assert response.status_code == 429
    assert response.json()["message"] == "You have reached your monthly limit."
    assert "retry-after" not in response.headers


def test_fail_next_rejects_nonsense(fake: FakeLine) -> None:
    with pytest.raises(ValueError):
        fake.fail_next(1, status=200)
    with pytest.raises(ValueError):
        fake.set_failure_rate(1.5)


async def statuses_with_rate(seed: int, rate: float, n: int = 40) -> list[int]:
    fake = FakeLine(TOKEN)
    fake.set_failure_rate(rate, seed=seed)
    transport = httpx.ASGITransport(app=create_fake_line_app(fake))
    async with httpx.AsyncClient(transport=transport, base_url="http://f") as client:
        return [(await push(client)).status_code for _ in range(n)]


async def test_failure_rate_is_deterministic_with_a_seed() -> None:
    first = await statuses_with_rate(seed=42, rate=0.3)
    again = await statuses_with_rate(seed=42, rate=0.3)

    assert first == again
    assert set(first) == {200, 500}
    assert await statuses_with_rate(seed=1, rate=0.0) == [200] * 40
    assert await statuses_with_rate(seed=1, rate=1.0) == [500] * 40


async def test_push_to_a_blocked_user_is_200_but_not_delivered(
    client: httpx.AsyncClient, fake: FakeLine
) -> None:
    fake.block(USER)
    assert (await push(client)).status_code == 200
    assert not fake.pushes[0].delivered


@pytest.mark.parametrize(("seconds", "status"), [(5, 202), (20, 202), (60, 202)])
async def test_loading_accepted(
    client: httpx.AsyncClient, fake: FakeLine, seconds: int, status: int
) -> None:
    body = {"chatId": USER, "loadingSeconds": seconds}
    response = await client.post("/v2/bot/chat/loading/start", json=body, headers=AUTH)

    assert response.status_code == status
    assert response.json() == {}
    assert fake.loading_calls[0].loading_seconds == seconds
    assert fake.loading_seconds_left(USER) == seconds


@pytest.mark.parametrize(
    "body",
    [
        {"chatId": USER, "loadingSeconds": 0},
        {"chatId": USER, "loadingSeconds": 7},
        {"chatId": USER, "loadingSeconds": 65},
        {"chatId": USER, "loadingSeconds": True},
        {"chatId": "C" + "b" * 32, "loadingSeconds": 5},
        {"chatId": "R" + "b" * 32, "loadingSeconds": 5},
    ],
)
async def test_loading_rejected(
    client: httpx.AsyncClient, fake: FakeLine, body: dict[str, Any]
) -> None:
    response = await client.post("/v2/bot/chat/loading/start", json=body, headers=AUTH)
    assert response.status_code == 400
    assert fake.loading_calls == []


async def test_a_delivered_push_ends_the_loading_animation(
    client: httpx.AsyncClient, fake: FakeLine
) -> None:
    body = {"chatId": USER, "loadingSeconds": 30}
    await client.post("/v2/bot/chat/loading/start", json=body, headers=AUTH)
    await push(client)
    assert fake.loading_seconds_left(USER) == 0


async def test_profile(client: httpx.AsyncClient, fake: FakeLine) -> None:
    fake.add_profile(Profile(USER, "Alice", picture_url="https://example.invalid/a.png"))

    known = await client.get(f"/v2/bot/profile/{USER}", headers=AUTH)
    generated = await client.get(f"/v2/bot/profile/U{'c' * 32}", headers=AUTH)
    group = await client.get(f"/v2/bot/profile/C{'c' * 32}", headers=AUTH)
    no_auth = await client.get(f"/v2/bot/profile/{USER}")

    assert known.status_code == 200
    assert known.json() == {
        "userId": USER,
        "displayName": "Alice",
        "language": "en",
        "pictureUrl": "https://example.invalid/a.png",
    }
    assert generated.status_code == 200
    assert generated.json()["displayName"]
    assert group.status_code == 404
    assert no_auth.status_code == 401


async def test_mark_as_read(client: httpx.AsyncClient, fake: FakeLine) -> None:
    ok = await client.post("/v2/bot/chat/markAsRead", json={"markAsReadToken": "t1"}, headers=AUTH)
    bad = await client.post("/v2/bot/chat/markAsRead", json={}, headers=AUTH)

    assert (ok.status_code, ok.json()) == (200, {})
    assert "x-line-request-id" in ok.headers
    assert bad.status_code == 400
    assert fake.read_tokens == ["t1"]


async def test_control_api(client: httpx.AsyncClient, fake: FakeLine) -> None:
    assert (await client.post("/_fake/fail", json={"n": 1, "status": 502})).status_code == 200
    assert (await push(client)).status_code == 502
    await push(client)
    await client.post("/v2/bot/chat/loading/start", json={"chatId": USER}, headers=AUTH)

    pushes = (await client.get("/_fake/pushes")).json()
    loading = (await client.get("/_fake/loading")).json()
    assert [p["to"] for p in pushes] == [USER]
    assert pushes[0]["messages"] == [text("hello")]
    assert loading[0] == {**loading[0], "chat_id": USER, "loading_seconds": 20}

    await client.post("/_fake/failure_rate", json={"rate": 1.0, "seed": 3})
    assert (await push(client)).status_code == 500
    await client.post("/_fake/delay", json={"seconds": 0.25})
    assert fake.delay == 0.25
    profile = {"user_id": USER, "display_name": "Bob"}
    assert (await client.post("/_fake/profiles", json=profile)).json()["displayName"] == "Bob"

    assert (await client.post("/_fake/reset")).status_code == 200
    assert (await client.get("/_fake/pushes")).json() == []
    assert (await client.get("/_fake/loading")).json() == []
    assert (fake.failure_rate, fake.delay) == (0.0, 0.0)
    assert (await push(client)).status_code == 200
    assert [p["userId"] for p in (await client.get("/_fake/profiles")).json()] == [USER]


async def test_control_api_validates(client: httpx.AsyncClient) -> None:
    assert (await client.post("/_fake/fail", json={"status": 200})).status_code == 422
    assert (await client.post("/_fake/failure_rate", json={"rate": 2})).status_code == 422


async def test_wait_for_pushes(client: httpx.AsyncClient, fake: FakeLine) -> None:
    waiter = asyncio.create_task(fake.wait_for_pushes(2, timeout=5))
    await push(client)
    assert not waiter.done()
    await push(client)
    pushes = await waiter
    assert len(pushes) == 2

    with pytest.raises(TimeoutError):
        await fake.wait_for_pushes(3, timeout=0.01)


async def test_wait_for_loading(client: httpx.AsyncClient, fake: FakeLine) -> None:
    waiter = asyncio.create_task(fake.wait_for_loading(1))
    await client.post("/v2/bot/chat/loading/start", json={"chatId": USER}, headers=AUTH)
    assert [c.chat_id for c in await waiter] == [USER]


async def test_subscribers_get_pushes_and_loading(
    client: httpx.AsyncClient, fake: FakeLine
) -> None:
    with fake.subscribe() as queue:
        await push(client)
        await client.post("/v2/bot/chat/loading/start", json={"chatId": USER}, headers=AUTH)
        first, second = queue.get_nowait(), queue.get_nowait()
    assert isinstance(first, Push)
    assert isinstance(second, LoadingCall)
    await push(client)
    assert queue.empty()


# -- webhook bodies the simulator sends ------------------------------------------


def test_webhook_event_id_is_ulid_shaped() -> None:
    event_id = new_webhook_event_id(1_700_000_000_000)
    assert len(event_id) == 26
    assert set(event_id) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert new_webhook_event_id(1) < new_webhook_event_id(2)


def test_sign_matches_line_sdk() -> None:
    from linebot.v3.webhook import SignatureValidator

    body = b'{"destination":"x","events":[]}'
    assert SignatureValidator("secret").validate(body.decode(), sign(body, "secret"))
    assert not SignatureValidator("other").validate(body.decode(), sign(body, "secret"))


def test_webhook_bodies_parse_with_line_sdk() -> None:
    from linebot.v3.webhook import WebhookParser
    from linebot.v3.webhooks import (
        FollowEvent,
        MessageEvent,
        StickerMessageContent,
        TextMessageContent,
        UnfollowEvent,
    )

    user = new_user_id()
    events = [
        text_message_event(user, "こんにちは 😀"),
        sticker_message_event(user, "446", "1988", keywords=["hello"]),
        follow_event(user, is_unblocked=True),
        unfollow_event(user),
    ]
    body, headers = signed_webhook(events, "channel-secret")

    payload = WebhookParser("channel-secret").parse(
        body.decode(), headers["X-Line-Signature"], as_payload=True
    )

    text_event, sticker_event, follow, unfollow = payload.events
    assert isinstance(text_event, MessageEvent)
    assert isinstance(text_event.message, TextMessageContent)
    assert text_event.message.text == "こんにちは 😀"
    assert text_event.source.user_id == user
    assert text_event.delivery_context.is_redelivery is False
    assert isinstance(sticker_event, MessageEvent)
    assert isinstance(sticker_event.message, StickerMessageContent)
    assert isinstance(follow, FollowEvent)
    assert follow.follow.is_unblocked is True
    assert isinstance(unfollow, UnfollowEvent)
    assert len({e.webhook_event_id for e in payload.events}) == 4
