"""Protocol 1.1 on a live server (real uvicorn, real sockets, the fake LINE API):
catch-up by rev, assignment and status, the shared read state with LINE's
markAsRead, notes, the hook, is_live and the REST filters."""

from __future__ import annotations

from typing import Any

import httpx

from livechat_ext.line.testing import text_event, unsend_event
from tests.helpers import Client, eventually, serve_with_fake_line
from tests.integration.test_line_bridge import post_webhook

FAST = {"line_backoff_base": 0.01}


def messages_of(client: Client, *types: str) -> list[dict[str, Any]]:
    return [f["payload"]["message"] for f in client.frames if f["type"] in types]


async def test_a_client_that_keeps_the_highest_rev_misses_nothing_across_a_reconnect(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        joined = await op.join("Ur")
        assert joined["payload"]["last_rev"] == 0
        await post_webhook(srv, [text_event("Ur", "hello", message_id="900")])
        srv.fake.fail_next(1, status=400)
        failed = await op.request(
            "message_send", "message_sent", line_user_id="Ur", text="hi", client_msg_id="c1"
        )
        assert failed["payload"]["code"] == "delivery_failed"
        await op.wait_for(
            lambda f: (
                f["type"] == "message_updated" and f["payload"]["message"]["status"] == "failed"
            )
        )
        seen = max(m["rev"] for m in messages_of(op, "message_received", "message_updated"))
        await op.close()

        # while nobody watches: the failed one is sent again, the user unsends, writes again
        other = await Client.connect(srv.ws_url, srv.token("bob"))
        retried = await other.request(
            "message_send", "message_sent", line_user_id="Ur", text="hi", client_msg_id="c1"
        )
        assert retried["type"] == "message_sent"
        await post_webhook(srv, [unsend_event("Ur", "900"), text_event("Ur", "are you there?")])
        await eventually(lambda: len(srv.fake.pushes) == 1)

        back = await Client.connect(srv.ws_url, srv.token("alice"))
        caught = await back.request(
            "join_conversation", "conversation_joined", line_user_id="Ur", after_rev=seen
        )
        p = caught["payload"]
        got = [(m["seq"], m["status"], m["text"]) for m in p["messages"]]
        assert got == [(2, "sent", "hi"), (1, "received", None), (3, "received", "are you there?")]
        assert len({m["id"] for m in p["messages"]}) == 3  # each once, in its latest form
        assert p["last_rev"] == max(m["rev"] for m in p["messages"]) and not p["has_more"]
        with_seq_too = await back.request(
            "join_conversation",
            "conversation_joined",
            line_user_id="Ur",
            after_seq=2,
            after_rev=p["last_rev"],
        )
        assert with_seq_too["payload"]["messages"] == []  # after_rev wins
        await back.close()
        await other.close()


async def test_assign_resolve_reopen_are_answered_shown_to_the_team_and_idempotent(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        alice = await Client.connect(srv.ws_url, srv.token("alice"))
        bob = await Client.connect(srv.ws_url, srv.token("bob"))
        await post_webhook(srv, [text_event("Ua", "need help")])
        await bob.wait_type("conversation_updated")
        start = len(bob.frames)

        answer = await alice.request(
            "conversation_assign", "conversation_updated", line_user_id="Ua", admin_id="bob"
        )
        assert answer["type"] == "conversation_updated"
        assert answer["payload"]["conversation"]["assignee"] == "bob"
        notice = await bob.wait_type("notification", kind="assigned")
        assert notice["payload"]["line_user_id"] == "Ua"
        seen = await bob.wait_for(
            lambda f: (
                f["type"] == "conversation_updated"
                and f["payload"]["conversation"]["assignee"] == "bob"
            ),
            start=start,
        )
        assert "ref" not in seen
        assert await srv.live_chat.is_live("Ua")  # assigned: the bot stays quiet

        mine = await bob.request(
            "conversation_assign", "conversation_updated", line_user_id="Ua", admin_id="bob"
        )
        assert mine["payload"]["conversation"]["assignee"] == "bob"  # a repeat: unchanged
        assigned = [f for f in bob.of_type("notification") if f["payload"]["kind"] == "assigned"]
        assert len(assigned) == 1  # taking it yourself brings no notice

        resolved = await bob.request("conversation_resolve", "", line_user_id="Ua")
        assert resolved["payload"]["conversation"]["status"] == "resolved"
        await alice.wait_for(
            lambda f: (
                f["type"] == "conversation_updated"
                and f["payload"]["conversation"]["status"] == "resolved"
            )
        )
        before = len(alice.frames)
        again = await bob.request("conversation_resolve", "", line_user_id="Ua")
        assert again["payload"]["conversation"]["status"] == "resolved"
        await bob.join("Ua")  # an open room does not make a resolved chat live
        assert not await srv.live_chat.is_live("Ua")

        reopened = await alice.request("conversation_reopen", "", line_user_id="Ua")
        assert reopened["payload"]["conversation"]["status"] == "open"
        statuses = [
            f["payload"]["conversation"]["status"]
            for f in alice.frames[before:]
            if f["type"] == "conversation_updated"
        ]
        assert statuses == ["open"]  # the repeated resolve told nobody
        await alice.close()
        await bob.close()


async def test_a_message_from_the_user_reopens_a_resolved_chat_for_the_bot(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        alice = await Client.connect(srv.ws_url, srv.token("alice"))
        await post_webhook(srv, [text_event("Ub", "hi")])
        await alice.request("conversation_assign", "", line_user_id="Ub", admin_id="alice")
        await alice.request("conversation_resolve", "", line_user_id="Ub")
        assert not await srv.live_chat.is_live("Ub")

        await post_webhook(srv, [text_event("Ub", "one more question")])

        update = await alice.wait_for(
            lambda f: (
                f["type"] == "conversation_updated"
                and f["payload"]["conversation"]["status"] == "open"
                and f.get("ref") is None
            )
        )
        assert update["payload"]["conversation"]["assignee"] is None
        assert not await srv.live_chat.is_live("Ub")  # unassigned, nobody watching
        await alice.close()


async def test_mark_read_is_shared_and_tells_line_with_the_newest_token(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        events = [
            text_event("Um", "one", markAsReadToken="tok-1"),
            text_event("Um", "two", markAsReadToken="tok-2"),
            text_event("Um", "three", markAsReadToken="tok-3"),
        ]
        await post_webhook(srv, events)
        alice = await Client.connect(srv.ws_url, srv.token("alice"))
        await alice.join("Um")
        # a console opened now learns what nobody has read from the server
        listed = await rest(srv, "alice", "/conversations")
        assert listed["conversations"][0]["unread_count"] == 3
        bob = await Client.connect(srv.ws_url, srv.token("bob"))

        answer = await alice.request("mark_read", "", line_user_id="Um", seq=2)

        conversation = answer["payload"]["conversation"]
        assert (conversation["read_seq"], conversation["unread_count"]) == (2, 1)
        updated = [
            (m["seq"], m["data"].get("read"))
            for m in messages_of(await wait_updates(alice, 2), "message_updated")
        ]
        assert updated == [(1, True), (2, True)]
        await bob.wait_for(
            lambda f: (
                f["type"] == "conversation_updated"
                and f["payload"]["conversation"]["read_seq"] == 2
            )
        )
        await eventually(lambda: srv.fake.read_tokens == ["tok-2"])

        lower = await bob.request("mark_read", "", line_user_id="Um", seq=1)
        assert lower["payload"]["conversation"]["read_seq"] == 2  # never lowered
        srv.fake.fail_next_reads(1, status=500)  # LINE fails once: retried, nobody waits
        last = await bob.request("mark_read", "", line_user_id="Um", seq=3)
        assert last["payload"]["conversation"]["unread_count"] == 0
        await eventually(lambda: srv.fake.read_tokens == ["tok-2", "tok-3"])
        fresh = await rest(srv, "carol", "/conversations")
        assert fresh["conversations"][0]["unread_count"] == 0
        await alice.close()
        await bob.close()


async def wait_updates(client: Client, n: int) -> Client:
    await client.wait_for(lambda f: len(client.of_type("message_updated")) >= n)
    return client


async def test_a_note_stays_with_the_team_and_never_reaches_line(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        alice = await Client.connect(srv.ws_url, srv.token("alice"))
        bob = await Client.connect(srv.ws_url, srv.token("bob"))
        await alice.join("Un")
        await bob.join("Un")

        sent = await alice.request(
            "note_send", "message_sent", line_user_id="Un", text="VIP, be kind", client_msg_id="n1"
        )

        note = sent["payload"]["message"]
        assert sent["type"] == "message_sent" and sent["payload"]["client_msg_id"] == "n1"
        assert (note["kind"], note["direction"], note["status"]) == ("note", "internal", "sent")
        seen = await bob.wait_type("message_received")
        assert seen["payload"]["message"]["id"] == note["id"]
        again = await alice.request(
            "note_send", "message_sent", line_user_id="Un", text="VIP, be kind", client_msg_id="n1"
        )
        assert again["payload"]["message"]["id"] == note["id"]
        history = await rest(srv, "bob", "/conversations/Un/messages")
        assert [m["kind"] for m in history["messages"]] == ["note"]
        assert alice.of_type("message_received") == []  # the sender's own connection
        assert len(bob.of_type("message_received")) == 1
        assert srv.fake.pushes == []
        await alice.close()
        await bob.close()


async def test_the_hook_decides_every_workflow_frame(tmp_path):
    def authorize(operator: Any, line_user_id: str) -> bool:
        return operator.admin_id == "alice" or line_user_id != "Usecret"

    async with serve_with_fake_line(tmp_path, authorize=authorize) as srv:
        bob = await Client.connect(srv.ws_url, srv.token("bob"))
        for type_, payload in (
            ("conversation_assign", {"admin_id": "bob"}),
            ("conversation_resolve", {}),
            ("conversation_reopen", {}),
            ("mark_read", {"seq": 1}),
            ("note_send", {"text": "x", "client_msg_id": "n"}),
        ):
            answer = await bob.request(type_, "", line_user_id="Usecret", **payload)
            assert answer["payload"]["code"] == "forbidden", (type_, answer)
        assert await srv.live_chat.store.get_conversation("Usecret") is None
        await bob.close()


async def test_rest_lists_by_status_and_assignee_and_pages_history_by_rev(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        await post_webhook(srv, [text_event(u, "hi") for u in ("U1", "U2", "U3", "U4")])
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        await op.request("conversation_assign", "", line_user_id="U1", admin_id="alice")
        await op.request("conversation_assign", "", line_user_id="U2", admin_id="bob")
        await op.request("conversation_assign", "", line_user_id="U3", admin_id="alice")
        await op.request("conversation_resolve", "", line_user_id="U3")

        async def ids(query: str, who: str = "alice") -> list[str]:
            body = await rest(srv, who, f"/conversations?{query}")
            return sorted(c["line_user_id"] for c in body["conversations"])

        assert await ids("status=open&assignee=mine") == ["U1"]
        assert await ids("status=open&assignee=mine", who="bob") == ["U2"]
        assert await ids("status=open&assignee=unassigned") == ["U4"]
        assert await ids("status=open") == ["U1", "U2", "U4"]
        assert await ids("status=resolved") == ["U3"]
        assert await ids("assignee=alice") == ["U1", "U3"]
        one = await rest(srv, "alice", "/conversations/U3")
        assert (one["status"], one["assignee"], one["unread_count"]) == ("resolved", "alice", 1)
        async with httpx.AsyncClient() as http:
            bad = await http.get(
                f"{srv.http_url}/live-chat/api/conversations?status=closed",
                headers={"Authorization": f"Bearer {srv.token('alice')}"},
            )
        assert bad.status_code == 422

        await op.request("mark_read", "", line_user_id="U1", seq=1)
        page = await rest(srv, "alice", "/conversations/U1/messages?after_rev=1")
        assert [(m["seq"], m["rev"], m["data"]["read"]) for m in page["messages"]] == [(1, 2, True)]
        await op.close()


async def rest(srv: Any, who: str, path: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{srv.http_url}/live-chat/api{path}",
            headers={"Authorization": f"Bearer {srv.token(who)}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
