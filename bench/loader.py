"""Subscriber process: opens `--count` connections to one server, joins them to
the room, then records the latency of every `message_received` frame.

Control over stdin/stdout, one line each:
  -> "WARM {...}" after the first --warm connections; waits for "go"
  -> "READY {...}" once every connection is joined
  <- "report PHASE"  -> one JSON line with that phase's stats (latencies in ms)
  <- "quit"          -> closes every connection and exits

A message carries "@@PHASE:T@@" in its text, T = time.clock_gettime(CLOCK_MONOTONIC)
at send (the same clock in every process); latency = receive time - T.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from array import array
from collections import defaultdict

import uvloop

from bench.common import (
    BENCH_USER,
    PEER_ROOM,
    livechat_settings,
    now,
)
from bench.wsclient import WSClient, connect


class Stats:
    __slots__ = ("last_rx", "lat")

    def __init__(self) -> None:
        self.lat = array("d")
        self.last_rx = 0.0


class Loader:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.clients: list[WSClient] = []
        self.phases: dict[bytes, Stats] = defaultdict(Stats)
        self.frames = 0
        self.connect_errors = 0
        self.sio = args.target == "sio"

    # one handler for every connection: kept tight, it is the loader's hot path
    def make_handler(self) -> object:
        phases = self.phases
        sio = self.sio
        clock = time.clock_gettime
        mono = time.CLOCK_MONOTONIC
        holder: list[WSClient] = []

        def on_text(data: bytes) -> None:
            self.frames += 1
            if b"message_received" in data[:40]:
                i = data.find(b"@@")
                if i >= 0:
                    j = data.find(b"@@", i + 2)
                    phase, _, ts = data[i + 2 : j].partition(b":")
                    t = clock(mono)
                    st = phases[phase]
                    st.lat.append((t - float(ts)) * 1000.0)
                    st.last_rx = t
            elif sio and data == b"2":  # engine.io ping
                holder[0].send_text(b"3")

        return on_text, holder

    async def open_one(self, index: int) -> None:
        a = self.args
        on_text, holder = self.make_handler()  # type: ignore[misc]
        if a.target == "livechat":
            c = await connect(a.host, a.port, "/ws/live-chat", on_text)
            holder.append(c)
            admin = f"op-{(a.offset + index) % a.admins}"
            token = self.tokens[admin]
            await c.request(
                json.dumps({"type": "auth", "payload": {"token": token}}), b'"auth_success"'
            )
            await c.request(
                json.dumps({"type": "join_conversation", "payload": {"line_user_id": BENCH_USER}}),
                b'"conversation_joined"',
            )
        elif a.target == "sio":
            c = await connect(a.host, a.port, "/socket.io/?EIO=4&transport=websocket", on_text)
            holder.append(c)
            await c.wait_for(b'"sid"')
            await c.request("40", b"40{")
            await c.request(f'420["join","{PEER_ROOM}"]', b"430")
        else:
            path = "/ws" if a.target == "naive" else "/"
            c = await connect(a.host, a.port, path, on_text)
            holder.append(c)
            await c.request(json.dumps({"type": "join", "room": PEER_ROOM}), b"joined")
        c.setup_done()
        self.clients.append(c)

    async def open_many(self, start: int, stop: int) -> None:
        sem = asyncio.Semaphore(self.args.concurrency)

        async def one(i: int) -> None:
            async with sem:
                for attempt in range(3):
                    try:
                        await self.open_one(i)
                        return
                    except (OSError, TimeoutError, ConnectionError) as exc:
                        if attempt == 2:
                            self.connect_errors += 1
                            print(f"loader: connect {i} failed: {exc!r}", file=sys.stderr)
                        await asyncio.sleep(0.2)

        await asyncio.gather(*(one(i) for i in range(start, stop)))

    def report(self, phase: str) -> dict[str, object]:
        st = self.phases.pop(phase.encode(), Stats())
        alive = sum(1 for c in self.clients if not c.closed.done())
        codes: dict[str, int] = {}
        for c in self.clients:
            if c.closed.done():
                codes[str(c.close_code)] = codes.get(str(c.close_code), 0) + 1
        return {
            "phase": phase,
            "received": len(st.lat),
            "lat_ms": st.lat.tolist(),
            "last_rx": st.last_rx,
            "frames": self.frames,
            "alive": alive,
            "closed": codes,
        }

    async def run(self) -> None:
        a = self.args
        if a.target == "livechat":
            from livechat_ext.auth import mint_token

            s = livechat_settings()
            self.tokens = {
                f"op-{i}": mint_token(s, f"op-{i}", ttl=6 * 3600) for i in range(a.admins)
            }
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        warm = min(a.warm, a.count)
        t0 = now()
        if warm:
            await self.open_many(0, warm)
            print("WARM " + json.dumps({"connected": len(self.clients)}), flush=True)
            while (await reader.readline()).strip() != b"go":
                pass
        await self.open_many(warm, a.count)
        print(
            "READY "
            + json.dumps(
                {
                    "connected": len(self.clients),
                    "errors": self.connect_errors,
                    "seconds": round(now() - t0, 2),
                }
            ),
            flush=True,
        )
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "quit":
                break
            cmd, _, arg = line.partition(" ")
            if cmd == "report":
                print(json.dumps(self.report(arg)), flush=True)
        for c in self.clients:
            c.close()
        await asyncio.sleep(0.2)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--target", choices=["livechat", "raw", "naive", "sio"], required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--offset", type=int, default=0, help="first operator index (admin ids)")
    p.add_argument("--admins", type=int, default=200, help="distinct operator ids, cycled")
    p.add_argument("--warm", type=int, default=0)
    p.add_argument("--concurrency", type=int, default=50)
    uvloop.run(Loader(p.parse_args()).run())


if __name__ == "__main__":
    main()
