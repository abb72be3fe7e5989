"""A conversation's messages reach each operator in `seq` order: when two
webhooks for one user are published in the other order than they were stored,
on one node and across two nodes on Redis. A store that holds one webhook's
fan-out back after storing it makes the race happen every time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from livechat_ext import LiveChat
from livechat_ext.line import sign
from livechat_ext.line.testing import text_event, webhook_body
from livechat_ext.store import InboundResult, NewInbound, Store, create_store
from tests.helpers import CHANNEL_SECRET, Client, Server, make_settings, serve


@dataclass
class Gate:
    stored: asyncio.Event = field(default_factory=asyncio.Event)
    open: asyncio.Event = field(default_factory=asyncio.Event)


class GatedStore:
    """The real store; a message whose text has a gate is stored, then its
    `add_inbound` waits for the gate to open (its fan-out comes late)."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.gates: dict[str, Gate] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def hold(self, text: str) -> Gate:
        gate = self.gates[text] = Gate()
        return gate

    async def add_inbound(self, new: NewInbound) -> InboundResult | None:
        result = await self._inner.add_inbound(new)
        gate = self.gates.get(new.text or "")
        if gate is not None:
            gate.stored.set()
            await gate.open.wait()
        return result


async def post(server: Server, text: str, user: str = "Uorder") -> int:
    body = webhook_body([text_event(user, text)])
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{server.http_url}/line/webhook",
            content=body,
            headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
            timeout=30,
        )
    return response.status_code


def first_seen(client: Client) -> list[int]:
    """The seqs of message_received in the order the client first saw each."""
    seqs = [f["payload"]["message"]["seq"] for f in client.of_type("message_received")]
    return list(dict.fromkeys(seqs))


@contextlib.asynccontextmanager
async def node(tmp_path: Any, store: Store | None = None, **settings: Any) -> AsyncIterator[Server]:
    live_chat = LiveChat(make_settings(tmp_path, **settings), store=store)
    async with serve(live_chat) as server:
        yield server


async def stored_late_then_published(first_node: Server, gate: Gate, second_node: Server) -> None:
    """ "first" is stored (seq 1) on `first_node` and its fan-out held back while
    "second" (seq 2) is stored and published on `second_node`; then "first" goes."""
    first = asyncio.create_task(post(first_node, "first"))
    await gate.stored.wait()
    assert await post(second_node, "second") == 200
    gate.open.set()
    assert await first == 200


async def test_on_one_node_messages_published_out_of_order_reach_the_room_in_order(tmp_path):
    store = GatedStore(create_store(make_settings(tmp_path).store_url))
    gate = store.hold("first")
    async with node(tmp_path, store) as server:  # type: ignore[arg-type]
        op = await Client.connect(server.ws_url, server.token("op"))
        await op.join("Uorder")
        await stored_late_then_published(server, gate, server)
        await op.wait_for(lambda _f: len(first_seen(op)) == 2)
        assert first_seen(op) == [1, 2]
        texts = [f["payload"]["message"]["text"] for f in op.of_type("message_received")]
        assert texts[:2] == ["first", "second"]
        await op.close()


async def test_across_nodes_a_local_message_waits_for_the_earlier_one_from_redis(
    tmp_path, redis_url, redis_prefix
):
    """Node B stores seq 2 and delivers it to its operator at once; seq 1, stored
    earlier on node A, is still on its way through Redis. B's operator gets 1, 2."""
    shared = {"broker_url": redis_url, "broker_prefix": redis_prefix}
    url = make_settings(tmp_path).store_url
    store = GatedStore(create_store(url))
    gate = store.hold("first")
    async with node(tmp_path, store, **shared) as a:  # type: ignore[arg-type]
        async with node(tmp_path, **shared) as b:
            on_b = await Client.connect(b.ws_url, b.token("op-b"))
            on_a = await Client.connect(a.ws_url, a.token("op-a"))
            await on_b.join("Uorder")
            await on_a.join("Uorder")
            await stored_late_then_published(a, gate, b)
            for op in (on_b, on_a):
                await op.wait_for(lambda _f, op=op: len(first_seen(op)) == 2)
                assert first_seen(op) == [1, 2], op.of_type("message_received")
            # later messages flow at once, in order, from either node
            assert await post(a, "third") == 200
            assert await post(b, "fourth") == 200
            for op in (on_b, on_a):
                await op.wait_for(lambda _f, op=op: len(first_seen(op)) == 4)
                assert first_seen(op) == [1, 2, 3, 4]
            await on_a.close()
            await on_b.close()


async def test_a_senders_confirmation_does_not_overtake_an_earlier_message(
    tmp_path, redis_url, redis_prefix
):
    """Seq 1 is stored on node A, its fan-out late; the operator on node B sends
    seq 2, which LINE takes at once. `message_sent` for seq 2 comes after seq 1,
    as the room's own frames do (read from the store when it does not come): a
    client counting its own messages' seqs in its catch-up point would skip
    seq 1 otherwise."""
    from tests.cluster import fake_line_server

    async with fake_line_server() as (fake, base):
        line = {"line_channel_access_token": "cluster-access-token", "line_api_base_url": base}
        shared = {"broker_url": redis_url, "broker_prefix": redis_prefix, **line}
        store = GatedStore(create_store(make_settings(tmp_path).store_url))
        gate = store.hold("first")
        async with node(tmp_path, store, **shared) as a:  # type: ignore[arg-type]
            async with node(tmp_path, **shared) as b:
                sender = await Client.connect(b.ws_url, b.token("op-b"))
                await sender.join("Uorder")
                first = asyncio.create_task(post(a, "first"))
                await gate.stored.wait()
                await sender.send(
                    "message_send", line_user_id="Uorder", text="reply", client_msg_id="c1"
                )
                # LINE takes seq 2 at once; seq 1 is not published yet: the room
                # waits for it, then reads it from the store
                sent = await sender.wait_type("message_sent", timeout=10)
                assert sent["payload"]["message"]["seq"] == 2
                assert len(fake.pushes) == 1
                kinds = [
                    (f["type"], f["payload"]["message"]["seq"])
                    for f in sender.frames
                    if f["type"] in ("message_received", "message_sent")
                ]
                assert kinds[:2] == [("message_received", 1), ("message_sent", 2)], kinds
                gate.open.set()
                assert await first == 200
                await sender.close()
