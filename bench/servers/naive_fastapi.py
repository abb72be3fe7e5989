"""Peer: a naive FastAPI endpoint that loops `await ws.send_json(...)` over a room.

Same client frames as raw_ws.py. Each send serializes again (send_json) and the
publisher's handler awaits every socket in turn.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from bench.servers._frame import message_frame

app = FastAPI()
ROOMS: dict[str, set[WebSocket]] = {}


@app.websocket("/ws")
async def endpoint(ws: WebSocket) -> None:
    await ws.accept()
    joined: list[str] = []
    try:
        while True:
            msg = await ws.receive_json()
            kind = msg.get("type")
            if kind == "publish":
                frame = message_frame(msg["room"], msg["text"])
                for member in list(ROOMS.get(msg["room"], ())):
                    try:
                        await member.send_json(frame)
                    except (RuntimeError, WebSocketDisconnect, OSError):
                        ROOMS[msg["room"]].discard(member)
                await ws.send_text('{"type":"ack"}')
            elif kind == "join":
                ROOMS.setdefault(msg["room"], set()).add(ws)
                joined.append(msg["room"])
                await ws.send_text('{"type":"joined"}')
    except WebSocketDisconnect:
        pass
    finally:
        for room in joined:
            ROOMS.get(room, set()).discard(ws)


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
