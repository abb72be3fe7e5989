"""Fault injection: two server processes serve 20 operators and a stream of
webhooks and replies while one process is killed, Redis restarts and the LINE
API fails 30% of calls. Afterwards nothing is lost, nothing is sent twice and
nothing is left pending."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

import httpx

from livechat_ext.line import sign
from livechat_ext.line.testing import text_event, webhook_body
from livechat_ext.models import MessageStatus
from livechat_ext.store import create_store
from tests.cluster import PrivateRedis, cluster, fake_line_server
from tests.helpers import CHANNEL_SECRET, Client

USERS = [f"Ufault{i}" for i in range(5)]


@dataclass
class Operator:
    """An operator's console: reconnects to a live node and catches up, as the
    JavaScript client does."""

    admin_id: str
    token: str
    node: int
    client: Client | None = None
    last_seq: dict[str, int] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)

    async def connect(self, url: str) -> None:
        self.client = await Client.connect(url, self.token)
        for user in USERS:
            await self.catch_up(user)

    async def catch_up(self, user: str) -> None:
        assert self.client is not None
        after = self.last_seq.get(user, 0)
        while True:
            page = (await self.client.join(user, after_seq=after))["payload"]
            for m in page["messages"]:
                self.seen.setdefault(user, set()).add(m["id"])
            if page["messages"]:
                after = page["messages"][-1]["seq"]
            if not page["has_more"]:
                break
        self.last_seq[user] = after

    def live_ids(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        if self.client is not None:
            for f in self.client.of_type("message_received"):
                m = f["payload"]["message"]
                out.setdefault(m["line_user_id"], set()).add(m["id"])
        return out


async def post_until_accepted(urls: list[str], body: bytes) -> None:
    """LINE redelivers until a node answers 2xx; here the test does it."""
    headers = {"X-Line-Signature": sign(body, CHANNEL_SECRET)}
    async with httpx.AsyncClient(timeout=10) as http:
        for attempt in range(60):
            try:
                r = await http.post(urls[attempt % len(urls)], content=body, headers=headers)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("no node accepted the webhook")


async def test_kill_a_node_restart_redis_and_flaky_line(tmp_path, store_backend):
    rng = random.Random(7)
    redis = PrivateRedis()
    await redis.start()
    try:
        async with fake_line_server() as (fake, base):
            fake.set_failure_rate(0.3, seed=11)
            async with cluster(
                tmp_path,
                store_backend,
                redis.url,
                LIVECHAT_LINE_API_BASE_URL=base,
                LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN="cluster-access-token",
                LIVECHAT_LINE_TIMEOUT="2",
                LIVECHAT_SEND_LEASE="3",
                LIVECHAT_RATE_LIMIT_BURST="200",
            ) as c:
                await _run(c, fake, redis, rng)
    finally:
        redis.stop()


async def _run(c, fake, redis, rng) -> None:
    a, b = c.nodes
    webhook_urls = [f"{n.http_url}/line/webhook" for n in (a, b)]
    ops = [Operator(f"op{i}", c.token(f"op{i}"), i % 2) for i in range(20)]
    for op in ops:
        await op.connect(c.nodes[op.node].ws_url)

    sent_texts: dict[str, list[str]] = {u: [] for u in USERS}
    replies: dict[str, tuple[str, str, Operator]] = {}
    for step in range(60):
        if step == 15:
            a.kill()  # SIGKILL: its operators drop, its in-flight work stops
        if step == 25:
            redis.stop()
        if step == 30:
            await redis.start()
        if step == 40:
            await a.start()  # the restarted process resumes what it left pending
        user = rng.choice(USERS)
        if step % 3 == 2:
            op = rng.choice(ops)
            cmid = f"reply-{step}"
            replies[cmid] = (user, f"answer {step}", op)
            if op.client is not None and op.client.close_code is None:
                await op.client.send(
                    "message_send", line_user_id=user, text=f"answer {step}", client_msg_id=cmid
                )
        else:
            text = f"question {step}"
            sent_texts[user].append(text)
            live = webhook_urls[1:] if 15 <= step < 40 else webhook_urls
            await post_until_accepted(live, webhook_body([text_event(user, text)]))

    # every operator reconnects where a node lives and catches up, like the client
    for op in ops:
        if op.client is None or op.client.close_code is not None or op.node == 0:
            op.client = None
            await op.connect(b.ws_url)
            op.node = 1
    # unconfirmed replies are sent again with the same client_msg_id
    for cmid, (user, text, op) in replies.items():
        for _ in range(20):
            assert op.client is not None
            answer = await op.client.request(
                "message_send",
                "message_sent",
                timeout=20,
                line_user_id=user,
                text=text,
                client_msg_id=cmid,
            )
            if answer["type"] == "message_sent":
                break
            assert answer["payload"]["code"] == "delivery_failed", answer
        else:
            raise AssertionError(f"{cmid} never went through")

    store = create_store(c.nodes[1].env["LIVECHAT_STORE_URL"])
    await store.start()
    try:
        all_ids: dict[str, set[str]] = {}
        for user in USERS:
            page = await store.history(user, limit=1000)
            inbound = [m.text for m in page.messages if m.direction.value == "inbound"]
            assert inbound == sent_texts[user]  # each webhook message stored once, in order
            assert [m.seq for m in page.messages] == list(range(1, len(page.messages) + 1))
            assert all(m.status is not MessageStatus.PENDING for m in page.messages)
            outbound = [m for m in page.messages if m.direction.value == "outbound"]
            assert all(m.status is MessageStatus.SENT for m in outbound)
            all_ids[user] = {m.id for m in page.messages}
    finally:
        await store.close()

    # every reply reached LINE exactly once
    texts = [p.messages[0]["text"] for p in fake.pushes]
    for cmid, (_user, text, _op) in replies.items():
        assert texts.count(text) == 1, (cmid, texts.count(text))

    # every operator has seen every message of every conversation after catch-up
    for op in ops:
        for user in USERS:
            await op.catch_up(user)
            seen = op.seen.get(user, set()) | op.live_ids().get(user, set())
            assert all_ids[user] <= seen, (op.admin_id, user)
    for op in ops:
        if op.client is not None:
            await op.client.close()
