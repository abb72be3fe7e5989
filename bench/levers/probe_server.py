"""The bench's livechat_ext server plus one measuring route, for A/B runs of the
fan-out levers (`bench/levers/ab.py`). Runs against whichever checkout is on
PYTHONPATH, so the same file measures a base tree and a changed one.

    GET /bench/fanout?n=K   -> hand one message_received frame K times to the
                               bench room's members (Hub.deliver, as a stored
                               message is handed); answers the thread CPU time
                               the calls took, the frames handed and the
                               deliveries (sockets written)
    GET /bench/mem          -> RSS and the count of live Python objects
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time

import uvicorn
from fastapi.responses import PlainTextResponse

from bench.common import BENCH_USER, livechat_settings
from livechat_ext.web.host import create_app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--store-url", required=True)
    p.add_argument("--ws", default="auto")
    p.add_argument("--guard", action="store_true", help="a host dependency on every route")
    a = p.parse_args()
    # no LINE client, as before LiveChat required a token: a bench run sends
    # nothing to LINE, and a client would look up profiles at an unreachable API
    from livechat_ext.flows.outbound import NoDelivery

    app = create_app(livechat_settings(a.store_url), delivery=NoDelivery())
    chat = app.state.live_chat
    if a.guard:  # as FastAPI(dependencies=[...]): the endpoint runs it per socket
        from fastapi import Depends

        async def allow() -> None:
            return None

        app.router.dependencies.append(Depends(allow))

    def hub():  # type: ignore[no-untyped-def]
        lc = chat
        return lc.hub if hasattr(lc, "hub") else lc.chat.hub

    from livechat_ext.models import Message
    from livechat_ext.protocol.server import MessageReceived, encode

    msg = Message.model_validate(
        {
            "id": "m-probe",
            "line_user_id": BENCH_USER,
            "seq": 1,
            "direction": "inbound",
            "sender": {"type": "user", "id": BENCH_USER},
            "kind": "text",
            "text": "@@probe:0@@ hello from LINE",
            "data": {"message_id": "1", "quote_token": "q" * 40},
            "status": "received",
            "client_msg_id": None,
            "created_at": "2026-12-02T06:00:00Z",
        }
    )
    frame = encode(MessageReceived(message=msg))
    room = "conversation:" + BENCH_USER

    @app.get("/bench/fanout")
    async def fanout(n: int = 10) -> PlainTextResponse:
        h = hub()
        t0 = time.thread_time_ns()
        sent = 0
        for _ in range(n):
            sent += h.deliver(room, frame)
        t1 = time.thread_time_ns()
        out = {"ns": t1 - t0, "frames": n, "deliveries": sent, "bytes": len(frame)}
        return PlainTextResponse(json.dumps(out))

    @app.get("/bench/mem")
    async def mem() -> PlainTextResponse:
        gc.collect()
        with open("/proc/self/status") as f:  # noqa: ASYNC230 (procfs: never blocks)
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return PlainTextResponse(json.dumps({"rss_kb": rss, "objects": len(gc.get_objects())}))

    @app.get("/bench/calls")
    async def calls() -> PlainTextResponse:
        """Python and C function calls per delivery in one Hub.deliver: a
        deterministic count of the work on the frame path (no clock)."""
        h = hub()
        counts = {"call": 0, "c_call": 0}

        def prof(frame, event, arg):  # type: ignore[no-untyped-def]
            if event in counts:
                counts[event] += 1

        sys.setprofile(prof)
        try:
            sent = h.deliver(room, frame)
        finally:
            sys.setprofile(None)
        out = {"py_calls": counts["call"] / sent, "c_calls": counts["c_call"] / sent}
        return PlainTextResponse(json.dumps(out))

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    gc.callbacks.append(on_gc)

    @app.get("/bench/gc")
    async def gc_stats() -> PlainTextResponse:
        out = {
            g: {"n": len(p), "max_ms": 1e3 * max(p, default=0), "sum_ms": 1e3 * sum(p)}
            for g, p in pauses.items()
        }
        out["objects"] = len(gc.get_objects())  # type: ignore[assignment]
        for p in pauses.values():
            p.clear()
        return PlainTextResponse(json.dumps(out))

    @app.get("/bench/snap")
    async def snap(path: str) -> PlainTextResponse:
        import tracemalloc

        gc.collect()
        if not tracemalloc.is_tracing():
            tracemalloc.start(40)  # the first call starts tracing: only what follows counts
        tracemalloc.take_snapshot().dump(path)
        return PlainTextResponse("{}")

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=a.port,
        ws=a.ws,
        log_level="warning",
        access_log=False,
        ws_max_size=1 << 20,
        ws_ping_interval=None,
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
