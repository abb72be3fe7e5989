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
