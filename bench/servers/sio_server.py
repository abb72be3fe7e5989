"""Peer: python-socketio `AsyncServer` rooms under uvicorn (ASGI, websocket transport).

Events: "join" (room) -> ack; "publish" ({room, text}) -> emit
"message_received" to the room, then ack the publisher.
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio
import uvicorn

from bench.servers._frame import message_frame

sio = socketio.AsyncServer(
    async_mode="asgi", cors_allowed_origins="*", logger=False, engineio_logger=False
)
app = socketio.ASGIApp(sio)


@sio.on("join")
async def join(sid: str, room: str) -> bool:
    await sio.enter_room(sid, room)
    return True


@sio.on("publish")
async def publish(sid: str, data: dict[str, Any]) -> bool:
    await sio.emit("message_received", message_frame(data["room"], data["text"]), room=data["room"])
    return True


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ws", default="auto")
    a = p.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=a.port,
        ws=a.ws,
        log_level="warning",
        access_log=False,
        ws_ping_interval=None,
        ws_per_message_deflate=False,
    )
