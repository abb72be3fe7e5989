"""SIGTERM under load, many times in a row: a real `livechat-ext serve` process on
Redis takes the graceful path and exits, every time.

On Python 3.11, redis-py can lose the cancellation meant for the broker's
publish loop; before every loop had a stop event, some of these stops never ended."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import websockets

from livechat_ext import LiveChatSettings, mint_token
from livechat_ext.line import sign
from livechat_ext.line.testing import text_event, webhook_body
from livechat_ext.models import MessageStatus
from livechat_ext.store import create_store
from tests.cluster import Node, fake_line_server, node_env
from tests.conftest import free_port
from tests.helpers import CHANNEL_SECRET, SECRET, Client

CYCLES = {"redis": 8, "memory": 3}  # the memory broker has no driver to lose a cancel
EXIT_BOUND = 10.0  # seconds; a failure detector for a hang, not a speed requirement
USERS = ("Ustop0", "Ustop1")


@dataclass
class Load:
    """Webhook posts and operator sends in loops until the node goes away."""

    node: Node
    operators: list[Client]
    webhooks: int = 0
    sends: int = 0
    flowing: asyncio.Event = field(default_factory=asyncio.Event)

    def _progress(self) -> None:
        if self.webhooks >= 5 and self.sends >= 5:
            self.flowing.set()

    async def post_webhooks(self, user: str) -> None:
        async with httpx.AsyncClient() as http:
            for i in itertools.count():
                body = webhook_body([text_event(user, f"w{i}")])
                response = await http.post(
                    f"{self.node.http_url}/line/webhook",
                    content=body,
                    headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
                )
                assert response.status_code == 200, response.text
                self.webhooks += 1
                self._progress()

    async def send(self, operator: Client, user: str) -> None:
        for _ in itertools.count():
            answer = await operator.request(
                "message_send",
                "message_sent",
                line_user_id=user,
                text="hello",
                client_msg_id=uuid.uuid4().hex,
            )
            assert answer["type"] == "message_sent", answer
            self.sends += 1
            self._progress()


@contextlib.asynccontextmanager
async def loaded(node: Node, operators: list[Client]) -> AsyncIterator[Load]:
    load = Load(node, operators)
    loops = [asyncio.create_task(load.post_webhooks(user)) for user in USERS]
    loops += [
        asyncio.create_task(load.send(op, USERS[i % len(USERS)])) for i, op in enumerate(operators)
    ]
    try:
        await asyncio.wait_for(load.flowing.wait(), 30)
        yield load
    finally:
        # the node is gone: each loop ends on a refused request or a closed socket
        for task in loops:
            task.cancel()
        for result in await asyncio.gather(*loops, return_exceptions=True):
            gone = (asyncio.CancelledError, httpx.TransportError, ConnectionError)
            gone += (websockets.ConnectionClosed, TimeoutError)
            assert isinstance(result, gone), result


async def exit_code(proc: subprocess.Popen[bytes]) -> int | None:
    """The process's exit status, or None if it is still running after EXIT_BOUND."""
    try:
        return await asyncio.to_thread(proc.wait, EXIT_BOUND)
    except subprocess.TimeoutExpired:
        return None


async def registered_nodes(redis_url: str, prefix: str) -> int:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        return int(await client.zcard(f"{prefix}:nodes"))
    finally:
        await client.aclose()


async def outbound_statuses(store_url: str) -> set[MessageStatus]:
    store = create_store(store_url)
    await store.start()
    try:
        statuses = set()
        for user in USERS:
            page = await store.history(user, limit=10_000)
            statuses |= {m.status for m in page.messages if m.status is not MessageStatus.RECEIVED}
        return statuses
    finally:
        await store.close()


@pytest.mark.parametrize("broker", ["redis", "memory"])
async def test_sigterm_under_load_always_ends_the_node_gracefully(
    tmp_path, store_backend, broker, request
):
    redis_url = request.getfixturevalue("redis_url") if broker == "redis" else "memory://"
    prefix = f"lcstop-{uuid.uuid4().hex[:8]}"
    settings = LiveChatSettings(jwt_secret=SECRET)
    async with fake_line_server() as (_fake, base):
        env = node_env(
            store_backend,
            redis_url,
            prefix,
            LIVECHAT_LINE_API_BASE_URL=base,
            LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN="cluster-access-token",
            LIVECHAT_RATE_LIMIT_BURST="1000",
        )
        for cycle in range(CYCLES[broker]):
            node = Node(free_port(), env, log_path=f"{tmp_path}/node{cycle}.log")
            await node.start()
            assert node.proc is not None
            try:
                ops = [
                    await Client.connect(node.ws_url, mint_token(settings, f"op{i}"))
                    for i in range(3)
                ]
                async with loaded(node, ops):
                    node.proc.send_signal(signal.SIGTERM)
                    code = await exit_code(node.proc)
                log = Path(node.log_path).read_text()
                assert code is not None, f"cycle {cycle}: still running\n{log[-3000:]}"
                # uvicorn re-raises the SIGTERM it handled once its shutdown is done
                assert code in (0, -signal.SIGTERM), log[-3000:]
                assert {await op.wait_closed() for op in ops} <= {1001, 1012}
                assert "abandoned" not in log, log[-3000:]  # every loop stopped on its own
                if broker == "redis":  # the graceful path's last steps ran: it left the cluster
                    assert await registered_nodes(redis_url, prefix) == 0
            finally:
                node.kill()
    # sends cut short by a stop stay pending under their lease; none was failed
    assert await outbound_statuses(store_backend) <= {MessageStatus.SENT, MessageStatus.PENDING}
