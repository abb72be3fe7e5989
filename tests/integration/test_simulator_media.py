"""The simulator's media endpoint: the bytes become LINE's content of a new
message (the fake's content API serves them) and a signed webhook says so."""

from __future__ import annotations

import base64

from tests.integration.test_simulator import SIM, TOKEN, create_user, running_stack


async def test_a_simulated_user_sends_an_image_and_a_file() -> None:
    from linebot.v3.webhook import WebhookParser
    from linebot.v3.webhooks import FileMessageContent, ImageMessageContent

    from tests.integration.test_simulator import SECRET

    async with running_stack() as stack:
        user = (await create_user(stack))["user_id"]
        picture = b"\x89PNG fake picture"
        sent = await stack.client.post(
            f"{SIM}/api/users/{user}/media",
            json={
                "kind": "image",
                "file_name": None,
                "content_type": "image/png",
                "data_base64": base64.b64encode(picture).decode(),
            },
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["webhook_status"] == 200
        message = sent.json()["message"]
        assert message["type"] == "image" and message["file_size"] == len(picture)
        parser = WebhookParser(SECRET)
        [event] = parser.parse(*await stack.next_webhook(2), as_payload=True).events
        assert isinstance(event.message, ImageMessageContent)
        assert event.message.id == message["id"]
        assert event.message.content_provider.type == "line"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        base = f"/fake-line/v2/bot/message/{message['id']}/content"
        content = await stack.client.get(base, headers=auth)
        assert content.status_code == 200 and content.content == picture
        assert content.headers["content-type"] == "image/png"
        assert (await stack.client.get(f"{base}/preview", headers=auth)).content == picture

        report = b"%PDF-1.4 report"
        sent = await stack.client.post(
            f"{SIM}/api/users/{user}/media",
            json={
                "kind": "file",
                "file_name": "report.pdf",
                "content_type": "application/pdf",
                "data_base64": base64.b64encode(report).decode(),
            },
        )
        [event] = parser.parse(*await stack.next_webhook(3), as_payload=True).events
        assert isinstance(event.message, FileMessageContent)
        assert (event.message.file_name, event.message.file_size) == ("report.pdf", len(report))
        file_id = sent.json()["message"]["id"]
        got = await stack.client.get(f"/fake-line/v2/bot/message/{file_id}/content", headers=auth)
        assert got.content == report
        preview = f"/fake-line/v2/bot/message/{file_id}/content/preview"
        missing = await stack.client.get(preview, headers=auth)
        assert missing.status_code == 404


async def test_bad_media_is_refused_and_sends_nothing() -> None:
    async with running_stack() as stack:
        user = (await create_user(stack))["user_id"]
        for body in (
            {"kind": "image", "content_type": "image/png", "data_base64": "***"},
            {"kind": "sticker", "content_type": "image/png", "data_base64": "aGk="},
            {"kind": "image", "content_type": "not a type", "data_base64": "aGk="},
        ):
            answer = await stack.client.post(f"{SIM}/api/users/{user}/media", json=body)
            assert answer.status_code == 422, body
        assert len(stack.webhooks) == 1  # the follow only
        unknown = await stack.client.get(
            "/fake-line/v2/bot/message/123/content", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert unknown.status_code == 404
