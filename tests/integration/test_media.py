"""Users' media against the fake LINE (real uvicorn, real WebSocket, both stores):
fetched in the background, served to allowed operators only through signed
URLs, 202 until fetched, 404, 410 after unsend, the size cap, Range, a restart
that resumes a pending fetch, two nodes; and operators' stickers out."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from livechat_ext import LiveChatSettings, mint_token
from livechat_ext.line import retry_key_for, sign
from livechat_ext.line.testing import (
    audio_event,
    file_event,
    image_event,
    text_event,
    unsend_event,
    webhook_body,
)
from livechat_ext.store.content import ContentFiles
from livechat_ext.store.media import MediaState
from tests.helpers import CHANNEL_SECRET, SECRET, Client, serve_with_fake_line

USER = "U" + "a" * 32
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
FAST = {"media_fetch_backoff": 0.02, "media_fetch_attempts": 3}


async def post_webhook(base: str, events: list[dict[str, Any]]) -> int:
    body = webhook_body(events)
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{base}/line/webhook",
            content=body,
            headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
        )
    return r.status_code


async def get(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(url, headers=headers)


async def until_status(url: str, status: int, bound: float = 10.0) -> httpx.Response:
    """GET `url` until it answers `status` (polled, with a bound)."""
    deadline = asyncio.get_running_loop().time() + bound
    while True:
        response = await get(url)
        if response.status_code == status:
            return response
        assert asyncio.get_running_loop().time() < deadline, (response.status_code, url)
        await asyncio.sleep(0.02)


def message_id(event: dict[str, Any]) -> str:
    return str(event["message"]["id"])


async def joined_message(srv: Any, admin_id: str) -> dict[str, Any]:
    op = await Client.connect(srv.ws_url, srv.token(admin_id))
    try:
        joined = await op.join(USER)
    finally:
        await op.close()
    messages = joined["payload"]["messages"]
    assert messages, joined
    message: dict[str, Any] = messages[-1]
    return message


async def test_an_image_answers_202_until_fetched_then_its_bytes_and_preview(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        event = image_event(USER)
        line_id = message_id(event)
        srv.fake.add_content(line_id, PNG, "image/png", preview=b"small", ready_after=10**6)
        op = await Client.connect(srv.ws_url, srv.token("op1"))
        await op.join(USER)
        assert await post_webhook(srv.http_url, [event]) == 200
        received = await op.wait_type("message_received")
        data = received["payload"]["message"]["data"]
        url = srv.http_url + data["content_url"]
        assert "sig=" in url and "op=op1" in url

        pending = await get(url)
        assert pending.status_code == 202  # LINE keeps answering 202: not fetched yet
        assert pending.content != PNG

        srv.fake.add_content(line_id, PNG, "image/png", preview=b"small")  # ready now
        fetched = await until_status(url, 200)
        assert fetched.content == PNG
        assert fetched.headers["content-type"] == "image/png"
        assert fetched.headers["content-length"] == str(len(PNG))
        assert fetched.headers["x-content-type-options"] == "nosniff"
        assert "attachment" not in fetched.headers.get("content-disposition", "")
        # a cached copy is checked again each time: an unsend or a revocation shows
        assert fetched.headers["cache-control"] == "private, no-cache"
        preview = await until_status(srv.http_url + data["preview_url"], 200)
        assert preview.content == b"small"

        # REST history carries working URLs signed for whoever asks
        async with httpx.AsyncClient() as http:
            r = await http.get(
                f"{srv.http_url}/live-chat/api/conversations/{USER}/messages",
                headers={"Authorization": f"Bearer {srv.token('op2')}"},
            )
        rest = r.json()["messages"][-1]["data"]
        assert "op=op2" in rest["content_url"]
        assert (await get(srv.http_url + rest["content_url"])).content == PNG
        await op.close()


async def test_unknown_content_is_404_and_unsent_content_is_410_and_deleted(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        unknown = srv.live_chat.media_urls.url("999999", "content", "op1")
        assert (await get(srv.http_url + unknown)).status_code == 404

        event = image_event(USER)
        line_id = message_id(event)
        srv.fake.add_content(line_id, PNG, "image/png", preview=PNG)
        assert await post_webhook(srv.http_url, [event]) == 200
        message = await joined_message(srv, "op1")
        url = srv.http_url + message["data"]["content_url"]
        await until_status(url, 200)
        kept = srv.live_chat.media.files.path(line_id, "content")
        assert kept.is_file()

        srv.fake.unsend_content(line_id)
        assert await post_webhook(srv.http_url, [unsend_event(USER, line_id)]) == 200
        assert not kept.exists()  # deleted by the unsend itself, before anyone asks
        gone = await get(url)
        assert gone.status_code == 410 and PNG not in gone.content
        after = await joined_message(srv, "op1")
        assert after["data"].get("unsent") is True and "content_url" not in after["data"]


async def test_an_unsend_naming_another_users_message_deletes_nothing(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        event = image_event(USER)
        line_id = message_id(event)
        srv.fake.add_content(line_id, PNG, "image/png", preview=PNG)
        assert await post_webhook(srv.http_url, [event]) == 200
        message = await joined_message(srv, "op1")
        url = srv.http_url + message["data"]["content_url"]
        await until_status(url, 200)
        kept = srv.live_chat.media.files.path(line_id, "content")
        other = "U" + "b" * 32
        assert await post_webhook(srv.http_url, [unsend_event(other, line_id)]) == 200
        assert kept.is_file()
        assert (await get(url)).content == PNG


async def test_content_over_the_size_cap_is_not_kept(tmp_path):
    async with serve_with_fake_line(tmp_path, media_max_bytes=1024, **FAST) as srv:
        event = file_event(USER, "big.bin", 5000)
        line_id = message_id(event)
        srv.fake.add_content(line_id, b"x" * 5000, "application/octet-stream")
        assert await post_webhook(srv.http_url, [event]) == 200
        message = await joined_message(srv, "op1")
        answer = await until_status(srv.http_url + message["data"]["content_url"], 413)
        assert b"x" * 100 not in answer.content
        record = await srv.live_chat.store.get_media(line_id)
        assert record is not None and record.state is MediaState.TOO_LARGE
        assert not srv.live_chat.media.files.path(line_id, "content").exists()


async def test_a_file_downloads_as_an_attachment_with_its_name(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        event = file_event(USER, "report.pdf", 11)
        line_id = message_id(event)
        srv.fake.add_content(line_id, b"%PDF-1.7 hi", "application/pdf")
        assert await post_webhook(srv.http_url, [event]) == 200
        message = await joined_message(srv, "op1")
        assert message["data"]["file_name"] == "report.pdf"
        assert "preview_url" not in message["data"]
        answer = await until_status(srv.http_url + message["data"]["content_url"], 200)
        assert answer.content == b"%PDF-1.7 hi"
        assert answer.headers["content-disposition"].startswith("attachment")
        assert "report.pdf" in answer.headers["content-disposition"]


async def test_a_denied_operator_gets_no_bytes(tmp_path):
    banned = {"outsider"}

    def authorize(operator: Any, line_user_id: str) -> bool:
        return operator.admin_id not in banned

    async with serve_with_fake_line(tmp_path, authorize=authorize, **FAST) as srv:
        event = image_event(USER)
        line_id = message_id(event)
        srv.fake.add_content(line_id, PNG, "image/png", preview=PNG)
        assert await post_webhook(srv.http_url, [event]) == 200
        message = await joined_message(srv, "op1")
        url = srv.http_url + message["data"]["content_url"]
        assert (await until_status(url, 200)).content == PNG

        async with httpx.AsyncClient() as http:
            history = await http.get(
                f"{srv.http_url}/live-chat/api/conversations/{USER}/messages",
                headers={"Authorization": f"Bearer {srv.token('outsider')}"},
            )
        assert history.status_code == 403
        outsider = await Client.connect(srv.ws_url, srv.token("outsider"))
        refused = await outsider.join(USER)
        assert refused["payload"]["code"] == "forbidden"
        await outsider.close()
        attempts = [
            await get(url.replace("op=op1", "op=outsider")),  # op1's signature, another name
            await get(url.split("?")[0] + "?op=outsider&exp=9999999999&sig=forged"),
            await get(url.split("?")[0], Authorization=f"Bearer {srv.token('outsider')}"),
            await get(url.split("?")[0]),  # no credentials at all
        ]
        for answer in attempts:
            assert answer.status_code == 403, answer.status_code
            assert PNG[:16] not in answer.content
        allowed = await get(url.split("?")[0], Authorization=f"Bearer {srv.token('op1')}")
        assert allowed.content == PNG

        # the hook changes its mind about op1: a link minted before stops working
        # as soon as this node hears the new answer
        banned.add("op1")
        op1 = await Client.connect(srv.ws_url, srv.token("op1"))
        assert (await op1.join(USER))["payload"]["code"] == "forbidden"
        await op1.close()
        revoked = await get(url)
        assert revoked.status_code == 403 and PNG[:16] not in revoked.content


async def test_a_link_minted_elsewhere_asks_the_hook_again(tmp_path):
    """This node never heard the hook about op1 (the link was minted by another
    node, with the same key): the hook is asked, and its no refuses the link."""
    banned: set[str] = set()
    asked: list[tuple[str, str]] = []

    def authorize(operator: Any, line_user_id: str) -> bool:
        asked.append((operator.admin_id, line_user_id))
        return operator.admin_id not in banned

    async with serve_with_fake_line(tmp_path, authorize=authorize, **FAST) as srv:
        event = image_event(USER)
        line_id = message_id(event)
        srv.fake.add_content(line_id, PNG, "image/png", preview=PNG)
        assert await post_webhook(srv.http_url, [event]) == 200
        urls = srv.live_chat.media_urls
        assert (
            await until_status(srv.http_url + urls.url(line_id, "content", "op2"), 200)
        ).content == PNG
        link = srv.http_url + urls.url(line_id, "content", "op1")
        banned.add("op1")  # revoked before this node ever asked about op1
        refused = await get(link)
        assert refused.status_code == 403 and PNG[:16] not in refused.content
        assert ("op1", USER) in asked
        banned.discard("op1")  # the refusal is cached a minute, like the hook's answers
        assert (await get(link)).status_code == 403


async def test_an_svg_image_is_downloaded_never_shown_inline(tmp_path):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        event = image_event(USER)
        line_id = message_id(event)
        srv.fake.add_content(line_id, svg, "image/svg+xml")
        assert await post_webhook(srv.http_url, [event]) == 200
        message = await joined_message(srv, "op1")
        answer = await until_status(srv.http_url + message["data"]["content_url"], 200)
        assert answer.content == svg
        assert answer.headers["content-disposition"].startswith("attachment")
        assert answer.headers["content-type"] == "application/octet-stream"


async def test_audio_is_served_in_ranges(tmp_path):
    audio = bytes(range(256)) * 8
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        event = audio_event(USER, duration=2000)
        line_id = message_id(event)
        srv.fake.add_content(line_id, audio, "audio/mp4")
        assert await post_webhook(srv.http_url, [event]) == 200
        message = await joined_message(srv, "op1")
        assert message["data"]["duration"] == 2000
        url = srv.http_url + message["data"]["content_url"]
        whole = await until_status(url, 200)
        assert whole.headers["accept-ranges"] == "bytes"
        part = await get(url, Range="bytes=100-199")
        assert part.status_code == 206
        assert part.content == audio[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(audio)}"
        assert part.headers["content-length"] == "100"


async def test_a_restart_resumes_a_pending_fetch(tmp_path):
    event = image_event(USER)
    line_id = message_id(event)
    async with serve_with_fake_line(tmp_path, media_fetch_attempts=1) as srv:
        srv.fake.add_content(line_id, PNG, "image/png", ready_after=10**6)
        assert await post_webhook(srv.http_url, [event]) == 200
        deadline = asyncio.get_running_loop().time() + 10
        while srv.fake.contents.requests.get(line_id, 0) < 1:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.02)
        record = await srv.live_chat.store.get_media(line_id)
        assert record is not None and record.state is MediaState.PENDING
    # a new process on the same store and data folder; LINE has the content now
    async with serve_with_fake_line(tmp_path, media_fetch_attempts=1) as srv:
        srv.fake.add_content(line_id, PNG, "image/png", preview=PNG)
        deadline = asyncio.get_running_loop().time() + 10
        while (record := await srv.live_chat.store.get_media(line_id)) is None or (
            record.state is not MediaState.READY
        ):
            assert asyncio.get_running_loop().time() < deadline, record
            await asyncio.sleep(0.02)
        assert srv.live_chat.media.files.path(line_id, "content").read_bytes() == PNG
        message = await joined_message(srv, "op1")
        assert (await get(srv.http_url + message["data"]["content_url"])).content == PNG


async def test_external_content_keeps_lines_own_urls(tmp_path):
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        event = image_event(
            USER, original_url="https://example.com/a.jpg", preview_url="https://example.com/p.jpg"
        )
        assert await post_webhook(srv.http_url, [event]) == 200
        message = await joined_message(srv, "op1")
        assert message["data"]["content_url"] == "https://example.com/a.jpg"
        assert message["data"]["preview_url"] == "https://example.com/p.jpg"
        assert await srv.live_chat.store.get_media(message_id(event)) is None


async def test_a_sticker_is_pushed_once_with_the_retry_key(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("op1"))
        await op.join(USER)
        sticker = {"package_id": "446", "sticker_id": "1988"}
        answers = [
            await op.request(
                "message_send",
                "message_sent",
                line_user_id=USER,
                sticker=sticker,
                client_msg_id="s1",
            )
            for _ in range(2)  # the same client_msg_id again: stored and pushed once
        ]
        assert [a["type"] for a in answers] == ["message_sent", "message_sent"]
        message = answers[0]["payload"]["message"]
        assert message["kind"] == "sticker" and message["text"] is None
        assert message["data"]["package_id"] == "446" and message["data"]["sticker_id"] == "1988"
        assert answers[1]["payload"]["message"]["id"] == message["id"]
        pushes = await srv.fake.wait_for_pushes(1)
        assert len(srv.fake.pushes) == 1
        assert pushes[0].messages == ({"type": "sticker", "packageId": "446", "stickerId": "1988"},)
        assert pushes[0].retry_key == retry_key_for(USER, "s1")
        await op.close()


async def test_message_send_takes_exactly_one_of_text_and_sticker(tmp_path):
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("op1"))
        sticker = {"package_id": "446", "sticker_id": "1988"}
        for payload in (
            {"text": "hi", "sticker": sticker},
            {},
            {"sticker": {"package_id": "446"}},
        ):
            answer = await op.request(
                "message_send", "error", line_user_id=USER, client_msg_id="c1", **payload
            )
            assert answer["type"] == "error"
            assert answer["payload"]["code"] == "invalid_message"
            assert answer["payload"]["details"]
        assert srv.fake.pushes == []
        assert await srv.live_chat.store.get_conversation(USER) is None  # nothing stored
        await op.close()


async def test_two_nodes_serve_the_same_content(tmp_path, store_backend, redis_url):
    """Each node has its own data folder: the node that did not fetch the content
    fetches it from LINE when asked (fetch-on-miss), and both serve the same bytes;
    a URL minted by one node works on the other (one signing key)."""
    from tests.cluster import Node, fake_line_server, node_env
    from tests.conftest import drop_keys, free_port, unique_prefix

    prefix = unique_prefix(redis_url)
    async with fake_line_server() as (fake, base):
        common = {
            "LIVECHAT_LINE_API_BASE_URL": base,
            "LIVECHAT_LINE_DATA_BASE_URL": base,
            "LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN": "cluster-access-token",
            "LIVECHAT_MEDIA_FETCH_BACKOFF": "0.02",
        }
        nodes = [
            Node(
                free_port(),
                node_env(
                    store_backend,
                    redis_url,
                    prefix,
                    LIVECHAT_DATA_DIR=str(tmp_path / f"data{i}"),
                    **common,
                ),
                log_path=f"{tmp_path}/node{i}.log",
            )
            for i in range(2)
        ]
        try:
            await nodes[0].start()
            await nodes[1].start()
            a, b = nodes
            event = image_event(USER)
            line_id = message_id(event)
            fake.add_content(line_id, PNG, "image/png", preview=b"tiny")
            assert await post_webhook(a.http_url, [event]) == 200
            token = mint_token(LiveChatSettings(jwt_secret=SECRET), "op1")
            async with httpx.AsyncClient() as http:
                r = await http.get(
                    f"{a.http_url}/live-chat/api/conversations/{USER}/messages",
                    headers={"Authorization": f"Bearer {token}"},
                )
            data = r.json()["messages"][-1]["data"]
            on_a = await until_status(a.http_url + data["content_url"], 200)
            assert on_a.content == PNG
            asked = fake.contents.requests[line_id]
            assert not (tmp_path / "data1" / "media").exists()  # b never fetched it
            on_b = await until_status(b.http_url + data["content_url"], 200)
            assert on_b.content == PNG and on_b.headers["content-type"] == "image/png"
            assert (await until_status(b.http_url + data["preview_url"], 200)).content == b"tiny"
            assert fake.contents.requests[line_id] > asked  # b fetched its own copy
            again = fake.contents.requests[line_id]
            assert (await get(b.http_url + data["content_url"])).content == PNG
            assert fake.contents.requests[line_id] == again  # and keeps it

            # an unsend that reaches a: b answers 410 too and drops its copy
            fake.unsend_content(line_id)
            assert await post_webhook(a.http_url, [unsend_event(USER, line_id)]) == 200
            b_copy = ContentFiles(tmp_path / "data1" / "media").path(line_id, "content")
            assert b_copy.is_file()
            assert (await get(b.http_url + data["content_url"])).status_code == 410
            assert not b_copy.exists()
        finally:
            for node in nodes:
                node.stop()
            drop_keys(redis_url, prefix)


async def test_a_webhook_of_photos_remembers_them_in_one_write_and_fetches_each(tmp_path):
    """The contents of a webhook's messages are recorded together, as the messages
    are stored together: one store call for the batch, none per message."""
    async with serve_with_fake_line(tmp_path, **FAST) as srv:
        store = srv.live_chat.store
        calls: list[int] = []
        add_many = store.add_media_many

        async def counted(records: Any) -> set[str]:
            calls.append(len(records))
            return await add_many(records)

        store.add_media_many = counted  # type: ignore[method-assign]
        events = [image_event(USER) for _ in range(3)]
        for event in events:
            srv.fake.add_content(message_id(event), PNG, "image/png", preview=PNG)
        assert await post_webhook(srv.http_url, [text_event(USER, "look"), *events]) == 200
        assert calls == [3]
        for event in events:
            path = srv.live_chat.media.files.path(message_id(event), "content")
            deadline = asyncio.get_running_loop().time() + 10
            while not path.is_file():
                assert asyncio.get_running_loop().time() < deadline, path
                await asyncio.sleep(0.02)
            assert path.read_bytes() == PNG
