"""Shared constants of the fan-out benchmark."""

from __future__ import annotations

import asyncio
import time
from typing import Any

JWT_SECRET = "bench-jwt-secret-0123456789abcdef0123456789abcdef"
CHANNEL_SECRET = "bench-channel-secret"
BENCH_USER = "U" + "0123456789abcdef" * 2  # the LINE user whose conversation is the room
PEER_ROOM = "room-1"


def now() -> float:
    """The send/receive clock, shared by every process on the machine."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def marker(phase: str) -> str:
    return f"@@{phase}:{now():.6f}@@"


def livechat_settings(
    store_url: str = "sqlite+aiosqlite:///:memory:", broker_url: str = "memory://"
) -> Any:
    from livechat_ext.settings import LiveChatSettings

    return LiveChatSettings(
        jwt_secret=JWT_SECRET,
        line_channel_secret=CHANNEL_SECRET,
        store_url=store_url,
        broker_url=broker_url,
        # a bench run is shorter than a heartbeat; the loader does not ping
        heartbeat_interval=600.0,
        # every bench client comes from 127.0.0.1: lift the per-client connection cap
        # (settings a given package version does not know are ignored)
        max_connections=1_000_000,
        max_connections_per_client=1_000_000,
        max_unauthenticated_per_client=1_000_000,
        # the frame built once per room (LIVECHAT_DIRECT_WRITE, on by default; named
        # so that a --base tree from before it became the default measures it too)
        direct_write=True,
    )


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    """Read one HTTP/1.1 answer off a keep-alive connection (status line, headers,
    a Content-Length body) and return its status line."""
    status = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status
