"""1,000 connect/disconnect cycles, clean and abrupt, leave nothing behind."""

from __future__ import annotations

import asyncio
import json

import websockets

from livechat_ext import LiveChat
from tests.helpers import eventually, idle, make_settings, serve


async def one_cycle(url: str, token: str, i: int) -> None:
    ws = await websockets.connect(url)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    await ws.recv()
    await ws.send(json.dumps({"type": "join_conversation", "line_user_id": f"U{i % 7}"}))
    if i % 3 == 0:
        await ws.send(json.dumps({"type": "typing_start", "line_user_id": f"U{i % 7}"}))
    mode = i % 4
    if mode == 0:
        await ws.close()
    elif mode == 1:
        ws.transport.abort()  # no close frame, no FIN handshake: a dropped network
    elif mode == 2:
        await ws.recv()  # wait for the join answer, then close cleanly
        await ws.close()
    else:
        ws.transport.close()  # TCP close without a WebSocket close frame


async def test_thousand_cycles_leave_no_connection_room_or_task(tmp_path):
    # 50 clients of one address open at once, before any authenticates
    settings = make_settings(tmp_path, presence_grace=0, max_unauthenticated_per_client=50)
    async with serve(LiveChat(settings)) as srv:
        lc = srv.live_chat
        baseline = len(asyncio.all_tasks())
        tokens = [srv.token(f"op{i}") for i in range(10)]
        for batch in range(20):
            await asyncio.gather(
                *(one_cycle(srv.ws_url, tokens[i % 10], batch * 50 + i) for i in range(50))
            )
        chat = lc.team
        await eventually(lambda: not lc.hub.connections, timeout=20)
        await eventually(lambda: not lc.hub.rooms)
        await eventually(lambda: len(asyncio.all_tasks()) <= baseline, timeout=10)
        if chat.cluster_sync is not None:  # presence changes are applied in order, queued
            await chat.cluster_sync.settle()
        await chat.flush_presence()  # the last window's changes, sent now
        assert all(not chat.presence.is_online(f"op{i}") for i in range(10))
        assert chat.typing.typing_in("U0") == [] and len(chat.typing) == 0
        # A finished task leaves the set in its done-callback, one loop turn later.
        await eventually(lambda: idle(lc))
        assert lc.chat.deadlines.pending == 0  # no closed session is still filed
