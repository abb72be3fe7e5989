"""Peer: the `websockets` library's own server and `broadcast()` (the Python ceiling).

Client frames: {"type":"join","room":R} -> {"type":"joined"};
{"type":"publish","room":R,"text":T} -> broadcast once-serialized frame, then
{"type":"ack"} to the publisher.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.servers._frame import message_frame

ROOMS: dict[str, set[ServerConnection]] = {}


async def handler(ws: ServerConnection) -> None:
    joined: list[str] = []
    try:
        async for raw in ws:
            msg = json.loads(raw)
            kind = msg.get("type")
            if kind == "publish":
                frame = json.dumps(message_frame(msg["room"], msg["text"]), separators=(",", ":"))
                broadcast(ROOMS.get(msg["room"], ()), frame)
                await ws.send('{"type":"ack"}')
            elif kind == "join":
                ROOMS.setdefault(msg["room"], set()).add(ws)
                joined.append(msg["room"])
                await ws.send('{"type":"joined"}')
    finally:
        for room in joined:
            ROOMS.get(room, set()).discard(ws)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handler, "127.0.0.1", port, compression=None, ping_interval=None, max_size=1 << 20
    ):
        print("listening", flush=True)
        await stop


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    uvloop.run(main(p.parse_args().port))
