"""Sends left pending longer than LINE keeps a retry key are failed, never pushed
again: LINE may have taken them already. Through a real start, on both stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from livechat_ext.models import MessageStatus, utcnow
from livechat_ext.store import create_store
from tests import helpers
from tests.helpers import Client, serve_with_fake_line


async def test_sends_older_than_the_retry_window_fail_at_start_instead_of_going_out(tmp_path):
    url = helpers.make_settings(tmp_path).store_url
    now = utcnow()
    for user, age in (("Uold", timedelta(hours=25)), ("Urecent", timedelta(hours=1))):
        seeder = create_store(url, clock=lambda age=age: now - age)
        await seeder.start()
        await seeder.create_schema()
        await seeder.add_outbound(user, f"c-{user}", "alice", f"to {user}")
        await seeder.close()
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        old = await settled(op, "Uold")
        assert old["status"] == "failed"
        assert "24-hour" in old["error"]
        assert (await settled(op, "Urecent"))["status"] == "sent"
        assert [p.to for p in srv.fake.pushes] == ["Urecent"]  # the old one never went out
        await op.close()


async def test_a_failed_send_older_than_the_retry_window_is_not_retried(tmp_path):
    seeder = create_store(
        helpers.make_settings(tmp_path).store_url, clock=lambda: utcnow() - timedelta(hours=25)
    )
    await seeder.start()
    await seeder.create_schema()
    stored = await seeder.add_outbound("Uretry", "c-1", "alice", "did this go out?")
    await seeder.set_status(stored.message.id, MessageStatus.FAILED, error="timed out")
    await seeder.close()
    async with serve_with_fake_line(tmp_path) as srv:
        op = await Client.connect(srv.ws_url, srv.token("alice"))
        again = await op.request(
            "message_send",
            "message_sent",
            line_user_id="Uretry",
            text="did this go out?",
            client_msg_id="c-1",
        )
        assert again["payload"]["code"] == "delivery_failed"
        assert "24-hour" in again["payload"]["message"]
        assert srv.fake.pushes == []
        await op.close()


async def settled(op: Client, user: str) -> dict[str, Any]:
    """The conversation's one message once it is no longer pending: as joined,
    or as the room is told later (joining comes before reading, so nothing is missed)."""
    (message,) = (await op.join(user))["payload"]["messages"]
    if message["status"] != "pending":
        return dict(message)
    frame = await op.wait_for(
        lambda f: (
            f["type"] == "message_updated"
            and f["payload"]["message"]["line_user_id"] == user
            and f["payload"]["message"]["status"] != "pending"
        )
    )
    return dict(frame["payload"]["message"])
