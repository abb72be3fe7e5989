"""Real server processes for scale-out tests: `livechat-ext serve` subprocesses
sharing Redis and a store, and a private redis-server that a test may restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from livechat_ext import LiveChatSettings, mint_token
from tests.conftest import REDIS_URL, drop_keys, free_port, need, unique_prefix
from tests.helpers import CHANNEL_SECRET, SECRET


@dataclass
class Node:
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log_path: str = ""
    serve_args: tuple[str, ...] = ()  # more `livechat-ext serve` arguments (--app ...)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/live-chat"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livechat_ext.cli",
                "serve",
                *self.serve_args,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        await wait_healthy(self.http_url, self.proc, self.log_path)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


async def wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: str) -> None:
    """Readiness probe: poll the health endpoint until the process answers."""
    async with httpx.AsyncClient() as http:
        for _ in range(400):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {open(log_path).read()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/live-chat/health", timeout=1)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server did not become healthy: {open(log_path).read()[-3000:]}")


async def wait_workers(url: str, proc: subprocess.Popen[bytes], log_path: str, count: int) -> None:
    """Readiness probe for a server with `count` worker processes: poll the health
    endpoint on fresh connections until `count` distinct nodes have answered.
    One healthy worker is not enough: a socket accepted while another worker is
    still starting is fine, but a worker the supervisor replaces drops its own."""
    nodes: set[str] = set()
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {open(log_path).read()[-3000:]}")
        async with httpx.AsyncClient() as http:  # a new connection: any worker may take it
            with contextlib.suppress(httpx.HTTPError):
                r = await http.get(f"{url}/live-chat/health", timeout=1)
                if r.status_code == 200:
                    nodes.add(r.json()["node"])
        if len(nodes) >= count:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{len(nodes)} of {count} workers answered: {open(log_path).read()[-3000:]}")


@dataclass
class Cluster:
    nodes: list[Node]
    settings: LiveChatSettings
    prefix: str
    extra: dict[str, Any] = field(default_factory=dict)

    def token(self, admin_id: str) -> str:
        return mint_token(self.settings, admin_id)


def node_env(store_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECHAT_")}
    env.update(
        {
            "LIVECHAT_JWT_SECRET": SECRET,
            "LIVECHAT_LINE_CHANNEL_SECRET": CHANNEL_SECRET,
            "LIVECHAT_STORE_URL": store_url,
            "LIVECHAT_BROKER_URL": redis_url,
            "LIVECHAT_BROKER_PREFIX": prefix,
            "LIVECHAT_PRESENCE_GRACE": "0.2",
            "LIVECHAT_PRESENCE_TTL": "5",  # a loaded CI machine must not look dead
            "LIVECHAT_LINE_BACKOFF_BASE": "0.01",
            # no fake LINE API unless a test names one: sends fail at once, on loopback
            "LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN": "test-access-token",
            "LIVECHAT_LINE_API_BASE_URL": "http://127.0.0.1:9",
            "LIVECHAT_LINE_DATA_BASE_URL": "http://127.0.0.1:9",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Any, store_url: str, redis_url: str, n: int = 2, **extra: str
) -> AsyncIterator[Cluster]:
    """`n` server processes on their own ports, one store, one Redis; the
    cluster's keys are deleted from the test Redis when they have stopped."""
    prefix = unique_prefix(redis_url)
    env = node_env(store_url, redis_url, prefix, **extra)
    nodes = [Node(free_port(), env, log_path=f"{tmp_path}/node{i}.log") for i in range(n)]
    settings = LiveChatSettings(jwt_secret=SECRET, line_channel_secret=CHANNEL_SECRET)
    try:
        await nodes[0].start()  # the first creates the schema; the others find it
        await asyncio.gather(*(node.start() for node in nodes[1:]))
        yield Cluster(nodes, settings, prefix)
    finally:
        for node in nodes:
            node.stop()
        if redis_url == REDIS_URL:  # a private redis-server goes away with its keys
            drop_keys(redis_url, prefix)


@dataclass
class PrivateRedis:
    """A redis-server of the test's own on a free port, so it can be restarted."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        need(binary is not None, "redis-server is not installed")
        assert binary is not None
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis.asyncio as aioredis

        client = aioredis.from_url(self.url)
        try:
            for _ in range(200):
                with contextlib.suppress(Exception):
                    if await client.ping():
                        return
                await asyncio.sleep(0.025)
        finally:
            await client.aclose()
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextlib.asynccontextmanager
async def fake_line_server() -> AsyncIterator[tuple[Any, str]]:
    """The fake LINE Messaging API alone in a real uvicorn on loopback."""
    import uvicorn

    from livechat_ext.simulator import FakeLine, create_fake_line_app

    fake = FakeLine("cluster-access-token")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_fake_line_app(fake),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
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
