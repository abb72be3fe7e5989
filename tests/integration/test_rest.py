"""REST history for pages: Bearer auth, paging, authorization."""

from __future__ import annotations

import httpx

from livechat_ext import LiveChat
from livechat_ext.models import MessageKind
from livechat_ext.store import NewInbound
from tests.helpers import make_settings, serve


async def test_rest_history_paging_and_auth(tmp_path):
    async def no_vip(operator, line_user_id):
        return not line_user_id.startswith("Uvip")

    async with serve(LiveChat(make_settings(tmp_path), authorize=no_vip)) as srv:
        store = srv.live_chat.store
        for user in ("Ua", "Ub", "Uvip"):
            for i in range(3):
                await store.add_inbound(NewInbound(user, MessageKind.TEXT, f"{user}-{i}"))
        auth = {"Authorization": f"Bearer {srv.token('alice')}"}
        base = f"{srv.http_url}/live-chat/api"
        async with httpx.AsyncClient() as http:
            missing = await http.get(f"{base}/conversations")
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
            bad = await http.get(f"{base}/conversations", headers={"Authorization": "Bearer x"})
            assert bad.status_code == 401 and "invalid_token" in bad.headers["www-authenticate"]

            first = (
                await http.get(f"{base}/conversations", params={"limit": 1}, headers=auth)
            ).json()
            assert [c["line_user_id"] for c in first["conversations"]] == [] or first[
                "conversations"
            ][0]["line_user_id"] in ("Ub", "Ua")
            ids, cursor = [], None
            while True:
                params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
                page = (await http.get(f"{base}/conversations", params=params, headers=auth)).json()
                ids += [c["line_user_id"] for c in page["conversations"]]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            assert ids == ["Ub", "Ua"]  # newest first; the VIP one is not visible

            msgs = (
                await http.get(
                    f"{base}/conversations/Ua/messages", params={"limit": 2}, headers=auth
                )
            ).json()
            assert [m["seq"] for m in msgs["messages"]] == [2, 3] and msgs["has_more"]
            older = (
                await http.get(
                    f"{base}/conversations/Ua/messages", params={"before_seq": 2}, headers=auth
                )
            ).json()
            assert [m["text"] for m in older["messages"]] == ["Ua-0"] and not older["has_more"]
            newer = (
                await http.get(
                    f"{base}/conversations/Ua/messages", params={"after_seq": 1}, headers=auth
                )
            ).json()
            assert [m["seq"] for m in newer["messages"]] == [2, 3]
            vip = await http.get(f"{base}/conversations/Uvip/messages", headers=auth)
            assert vip.status_code == 403
            bad_cursor = await http.get(
                f"{base}/conversations", params={"cursor": "zz"}, headers=auth
            )
            assert bad_cursor.status_code == 400
            me = (await http.get(f"{base}/me", headers=auth)).json()
            assert me["admin_id"] == "alice"


async def test_the_cursor_never_reveals_a_conversation_authorize_denies(tmp_path):
    """A page that `authorize` filtered used to end in a cursor holding the denied
    user id and time; now every cursor comes from a conversation returned."""

    async def no_vip(operator, line_user_id):
        return not line_user_id.startswith("Uvip")

    async with serve(LiveChat(make_settings(tmp_path), authorize=no_vip)) as srv:
        store = srv.live_chat.store
        for user in ("Ua", "Uvip1", "Uvip2", "Ub", "Uvip3", "Uvip4"):  # oldest first
            await store.add_inbound(NewInbound(user, MessageKind.TEXT, f"{user} says hi"))
        auth = {"Authorization": f"Bearer {srv.token('alice')}"}
        url = f"{srv.http_url}/live-chat/api/conversations"
        async with httpx.AsyncClient() as http:
            for limit in (1, 2, 3, 50):
                ids, cursor, seen = [], None, []
                while True:
                    params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
                    r = await http.get(url, params=params, headers=auth)
                    assert r.status_code == 200
                    page = r.json()
                    ids += [c["line_user_id"] for c in page["conversations"]]
                    cursor = page["next_cursor"]
                    seen.append(r.text + (_decoded(cursor) if cursor else ""))
                    if not cursor:
                        break
                assert ids == ["Ub", "Ua"], limit
                assert not any("Uvip" in text for text in seen), (limit, seen)


async def test_a_page_reads_on_past_many_denied_conversations(tmp_path):
    """More denied conversations than one read of the store: the page still fills."""

    async def no_vip(operator, line_user_id):
        return not line_user_id.startswith("Uvip")

    async with serve(LiveChat(make_settings(tmp_path), authorize=no_vip)) as srv:
        store = srv.live_chat.store
        for user in ["Ua", "Ub"] + [f"Uvip{i:03d}" for i in range(120)]:  # oldest first
            await store.update_conversation(user)
            await store.update_conversation(user, touch=True)
        auth = {"Authorization": f"Bearer {srv.token('alice')}"}
        url = f"{srv.http_url}/live-chat/api/conversations"
        async with httpx.AsyncClient() as http:
            first = (await http.get(url, params={"limit": 1}, headers=auth)).json()
            assert [c["line_user_id"] for c in first["conversations"]] == ["Ub"]
            params = {"limit": 1, "cursor": first["next_cursor"]}
            second = (await http.get(url, params=params, headers=auth)).json()
        assert [c["line_user_id"] for c in second["conversations"]] == ["Ua"]
        assert second["next_cursor"] is None


def _decoded(cursor: str) -> str:
    import base64

    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
