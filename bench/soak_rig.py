"""The soak's rig: a fresh PostgreSQL database, a fresh Redis prefix, the fake
LINE API in a real uvicorn, and two `livechat-ext serve` processes that can be
SIGKILLed and started again. Everything is removed when the rig goes down."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

JWT_SECRET = "soak-jwt-secret-0123456789abcdef0123456789abcdef"
CHANNEL_SECRET = "soak-channel-secret"
ACCESS_TOKEN = "soak-access-token"
PG_ADMIN_URL = os.environ.get("LIVECHAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LIVECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")
SERVE = [sys.executable, "-m", "livechat_ext.cli", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/live-chat"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*SERVE, "--port", str(self.port), "--log-level", "warning"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> None:
        self.spawn()
        assert self.proc is not None
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    health = await http.get(f"{self.http_url}/live-chat/health", timeout=1)
                    if health.status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become healthy")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def rss_mb(node: Node) -> float:
    """The node process's resident memory (0 while it is down)."""
    if node.proc is None or node.proc.poll() is not None:
        return 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{node.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Rig:
    nodes: list[Node]
    fake: Any
    pg_url: str
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))

    def token(self, admin_id: str) -> str:
        from livechat_ext import LiveChatSettings, mint_token

        settings = LiveChatSettings(jwt_secret=JWT_SECRET, line_channel_secret=CHANNEL_SECRET)
        return mint_token(settings, admin_id, ttl=3600)

    def add_profile(self, user: str, name: str) -> None:
        from livechat_ext.simulator import Profile

        self.fake.add_profile(Profile(user_id=user, display_name=name, picture_url=None))

    async def post_webhook(self, node: Node, event: dict[str, Any]) -> bool:
        """Post one event as LINE does; True when the node took it (2xx)."""
        from livechat_ext.line import sign
        from livechat_ext.line.testing import webhook_body

        body = webhook_body([event])
        try:
            r = await self.http.post(
                f"{node.http_url}/line/webhook",
                content=body,
                headers={"X-Line-Signature": sign(body, CHANNEL_SECRET)},
            )
        except httpx.HTTPError:
            return False
        return 200 <= r.status_code < 300

    async def stored(self) -> dict[str, Any]:
        """What the store holds, read straight from PostgreSQL."""
        import asyncpg

        conn = await asyncpg.connect(self.pg_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            rows = await conn.fetch(
                "SELECT line_user_id, seq, direction, webhook_event_id, client_msg_id"
                " FROM livechat_messages"
            )
            convs = await conn.fetch(
                "SELECT line_user_id, display_name FROM livechat_conversations"
            )
        finally:
            await conn.close()
        seqs: dict[str, list[int]] = {}
        events: list[str] = []
        sends: list[tuple[str, str]] = []
        for row in rows:
            seqs.setdefault(row["line_user_id"], []).append(row["seq"])
            if row["webhook_event_id"]:
                events.append(row["webhook_event_id"])
            if row["client_msg_id"]:
                sends.append((row["line_user_id"], row["client_msg_id"]))
        return {
            "seqs": seqs,
            "inbound": sum(1 for r in rows if r["direction"] == "inbound"),
            "outbound": sum(1 for r in rows if r["direction"] == "outbound"),
            "event_ids": set(events),
            "client_msg_ids": {cid for _, cid in sends},
            "duplicate_events": len(events) - len(set(events)),
            "duplicate_sends": len(sends) - len(set(sends)),
            "conversations": len(convs),
            "nameless": sum(1 for c in convs if not c["display_name"]),
        }

    @classmethod
    @contextlib.asynccontextmanager
    async def up(cls, args: argparse.Namespace) -> AsyncIterator[Rig]:
        import asyncpg

        name = f"livechat_soak_{uuid.uuid4().hex[:10]}"
        prefix = f"soak-{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN_URL)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        pg_url = f"{base}/{name}"
        logs = Path(tempfile.mkdtemp(prefix="livechat-soak-"))
        nodes: list[Node] = []
        try:
            async with fake_line() as (fake, line_url):
                env = node_env(pg_url, prefix, line_url, args)
                nodes = [Node(n, free_port(), env, logs / f"node-{n}.log") for n in "AB"]
                await nodes[0].start()  # creates the schema
                await nodes[1].start()
                rig = cls(nodes, fake, pg_url)
                try:
                    yield rig
                finally:
                    await rig.http.aclose()
                    for node in nodes:
                        node.stop()
        finally:
            for node in nodes:
                node.kill()
            await drop(name, prefix)
            print(f"node logs: {logs}")


def node_env(pg_url: str, prefix: str, line_url: str, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECHAT_")}
    env.update(
        {
            "LIVECHAT_JWT_SECRET": JWT_SECRET,
            "LIVECHAT_LINE_CHANNEL_SECRET": CHANNEL_SECRET,
            "LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
            "LIVECHAT_LINE_API_BASE_URL": line_url,
            "LIVECHAT_STORE_URL": pg_url,
            "LIVECHAT_BROKER_URL": REDIS_URL,
            "LIVECHAT_BROKER_PREFIX": prefix,
            "LIVECHAT_PRESENCE_TTL": str(args.ttl),
            "LIVECHAT_PRESENCE_GRACE": str(args.grace),
            "LIVECHAT_LOADING_ANIMATION": "false",
            # every soak client comes from 127.0.0.1: a reconnect storm of one node's
            # operators must not hit the per-address allowance meant for strangers
            "LIVECHAT_MAX_UNAUTHENTICATED_PER_CLIENT": "1000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


async def drop(database: str, prefix: str) -> None:
    import asyncpg
    import redis.asyncio as aioredis

    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await admin.close()
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def fake_line() -> AsyncIterator[tuple[Any, str]]:
    """The fake LINE Messaging API in a real uvicorn on loopback."""
    import uvicorn

    from livechat_ext.simulator import FakeLine, create_fake_line_app

    fake = FakeLine(ACCESS_TOKEN)
    port = free_port()
    config = uvicorn.Config(
        create_fake_line_app(fake), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        fake.close()
        server.should_exit = True
        await asyncio.wait_for(task, 10)
