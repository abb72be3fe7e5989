"""Injector process: sends messages into the room at a fixed rate, or flat out.

livechat_ext: a signed LINE webhook POST (one text event per request) over
keep-alive HTTP/1.1 connections, so the figure includes signature check,
storing and fan-out. Peers: a `publish` frame over one WebSocket; the server
acks it after its fan-out call returns.

Rate mode (--rate R > 0): message i is due at start + i/R; the send timestamp
is taken when it is actually written. Flat out (--rate 0): --window messages
in flight, a new one sent as soon as one is answered.
Prints one JSON line: sent, answered, errors, start, end (monotonic), cpu (s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import uvloop

from bench.common import BENCH_USER, CHANNEL_SECRET, PEER_ROOM, marker, now, read_answer
from bench.wsclient import connect


class Result:
    def __init__(self) -> None:
        self.sent = 0
        self.answered = 0
        self.errors = 0


async def run_webhooks(a: argparse.Namespace, res: Result) -> None:
    from livechat_ext.line import sign
    from livechat_ext.line.testing import text_event, webhook_body

    conns = a.window if a.rate <= 0 else a.pool
    deadline = now() + a.duration
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def worker() -> None:
        while True:
            try:
                if await one_connection():
                    return
            except (OSError, RuntimeError, asyncio.IncompleteReadError):
                res.errors += 1  # the server dropped the connection: count it, reconnect

    async def one_connection() -> bool:
        reader, writer = await asyncio.open_connection(a.host, a.port)
        try:
            while True:
                if a.rate > 0:
                    if await queue.get() < 0:
                        return True
                elif now() >= deadline:
                    return True
                body = webhook_body([text_event(BENCH_USER, f"{marker(a.phase)} hello from LINE")])
                head = (
                    f"POST /line/webhook HTTP/1.1\r\nHost: {a.host}\r\n"
                    "Content-Type: application/json\r\n"
                    f"X-Line-Signature: {sign(body, CHANNEL_SECRET)}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                writer.write(head + body)
                res.sent += 1
                status = await read_answer(reader)
                if b" 200 " in status:
                    res.answered += 1
                else:
                    res.errors += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(worker()) for _ in range(conns)]
    if a.rate > 0:
        start = now()
        total = int(a.duration * a.rate)
        for i in range(total):
            delay = start + i / a.rate - now()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(i)
        for _ in tasks:
            queue.put_nowait(-1)
    await asyncio.gather(*tasks)


async def run_publish(a: argparse.Namespace, res: Result) -> None:
    deadline = now() + a.duration
    sio = a.target == "sio"
    state = {"id": 0}

    def send() -> None:
        text = f"{marker(a.phase)} hello from LINE"
        if sio:
            state["id"] += 1
            pub.send_text(
                f'42{state["id"]}["publish",' + json.dumps({"room": PEER_ROOM, "text": text}) + "]"
            )
        else:
            pub.send_text(json.dumps({"type": "publish", "room": PEER_ROOM, "text": text}))
        res.sent += 1

    def on_text(data: bytes) -> None:
        if data == b"2":
            pub.send_text(b"3")
            return
        if (sio and data.startswith(b"43")) or (not sio and b'"ack"' in data):
            res.answered += 1
            if a.rate <= 0 and now() < deadline:
                send()

    if sio:
        pub = await connect(a.host, a.port, "/socket.io/?EIO=4&transport=websocket", on_text)
        await pub.wait_for(b'"sid"')
        await pub.request("40", b"40{")
    else:
        pub = await connect(a.host, a.port, "/ws" if a.target == "naive" else "/", on_text)
    pub.setup_done()
    if a.rate > 0:
        start = now()
        for i in range(int(a.duration * a.rate)):
            delay = start + i / a.rate - now()
            if delay > 0:
                await asyncio.sleep(delay)
            send()
    else:
        for _ in range(a.window):
            send()
    give_up = deadline + 30.0
    while (res.answered < res.sent or now() < deadline) and now() < give_up:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    res.errors += res.sent - res.answered
    pub.close()


async def main(a: argparse.Namespace) -> None:
    res = Result()
    start = now()
    if a.target == "livechat":
        await run_webhooks(a, res)
    else:
        await run_publish(a, res)
    end = now()
    t = os.times()
    print(
        json.dumps(
            {
                "sent": res.sent,
                "answered": res.answered,
                "errors": res.errors,
                "start": start,
                "end": end,
                "cpu": t.user + t.system,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--target", choices=["livechat", "raw", "naive", "sio"], required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=50.0, help="messages/s; 0 = flat out")
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--phase", default="p")
    p.add_argument("--window", type=int, default=4, help="in flight when flat out")
    p.add_argument("--pool", type=int, default=8, help="HTTP connections at a fixed rate")
    uvloop.run(main(p.parse_args()))
