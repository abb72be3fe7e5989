"""Inputs that used to reach the code as a 500 or a 503 get a defined answer, on
both stores: a token whose `exp` is beyond any date, a user id with NUL (which
PostgreSQL cannot hold) in REST paths and in signed webhooks, NUL in webhook text."""

from __future__ import annotations

import httpx
import jwt
import pytest

from livechat_ext import LiveChat
from livechat_ext.line import sign
from livechat_ext.line.testing import follow_event, text_event, webhook_body
from tests.helpers import CHANNEL_SECRET, SECRET, Client, make_settings, serve

BAD_IDS = ["U\x00x", "U" * 65]


async def test_a_token_expiring_beyond_any_date_is_refused_not_a_crash(tmp_path):
    token = jwt.encode({"sub": "alice", "exp": 10**20}, SECRET, algorithm="HS256")
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        c = await Client.connect(srv.ws_url)
        answer = await c.auth(token)
        assert answer["type"] == "auth_error"
        assert answer["payload"]["code"] == "invalid_token"
        assert await c.wait_closed() == 4001
        async with httpx.AsyncClient() as http:
            r = await http.get(
                f"{srv.http_url}/live-chat/api/conversations",
                headers={"Authorization": f"Bearer {token}"},
            )
        assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]


@pytest.mark.parametrize(
    "path",
    [
        "/conversations/%00x",
        "/conversations/%00x/messages",
        "/conversations/" + "U" * 65 + "/messages",
    ],
)
async def test_rest_refuses_an_impossible_user_id_with_400(tmp_path, path):
    asked: list[str] = []

    async def authorize(operator, line_user_id):
        asked.append(line_user_id)
        return True

    async with serve(LiveChat(make_settings(tmp_path), authorize=authorize)) as srv:
        async with httpx.AsyncClient() as http:
            r = await http.get(
                f"{srv.http_url}/live-chat/api{path}",
                headers={"Authorization": f"Bearer {srv.token('alice')}"},
            )
    assert r.status_code == 400 and "line_user_id" in r.json()["detail"]
    assert asked == []  # the host's hook never sees it


async def test_rest_refuses_a_cursor_naming_an_impossible_user_id(tmp_path):
    import base64

    raw = b'["2026-01-01T00:00:00+00:00", "U\\u0000"]'
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        async with httpx.AsyncClient() as http:
            r = await http.get(
                f"{srv.http_url}/live-chat/api/conversations",
                params={"cursor": cursor},
                headers={"Authorization": f"Bearer {srv.token('alice')}"},
            )
    assert r.status_code == 400


async def test_webhook_events_with_an_impossible_user_id_are_skipped(tmp_path):
    """A signed body whose events name a user id no store can keep: those events
    are skipped (a 503 made LINE redeliver it for ever), the others are stored."""
    events = [text_event(bad, "lost") for bad in BAD_IDS] + [follow_event(BAD_IDS[0])]
    events.append(text_event("Ugood", "kept"))
    body = webhook_body(events)
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        async with httpx.AsyncClient() as http:
            r = await http.post(
                f"{srv.http_url}/line/webhook",
                content=body,
                headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
            )
        assert r.status_code == 200
        page = await srv.live_chat.store.list_conversations(limit=10)
        assert [c.line_user_id for c in page.conversations] == ["Ugood"]
        metrics = srv.live_chat.metrics.render().decode()
        assert 'livechat_webhook_events_total{outcome="stored"} 1.0' in metrics


async def test_nul_in_webhook_text_is_stored_as_a_stand_in(tmp_path):
    body = webhook_body([text_event("Unul", "a\x00b")])
    async with serve(LiveChat(make_settings(tmp_path))) as srv:
        watcher = await Client.connect(srv.ws_url, srv.token("alice"))
        await watcher.join("Unul")
        async with httpx.AsyncClient() as http:
            r = await http.post(
                f"{srv.http_url}/line/webhook",
                content=body,
                headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
            )
            assert r.status_code == 200
            got = await watcher.wait_type("message_received")
            assert got["payload"]["message"]["text"] == "a\ufffdb"
            history = await http.get(
                f"{srv.http_url}/live-chat/api/conversations/Unul/messages",
                headers={"Authorization": f"Bearer {srv.token('alice')}"},
            )
        assert [m["text"] for m in history.json()["messages"]] == ["a\ufffdb"]
        await watcher.close()
