"""livechat_ext as `livechat-ext serve` runs it (create_app + uvicorn with the
CLI's WebSocket options), plus --ws and an optional in-process profiler.

Access logging is off here as in every peer (the CLI's default `info` level
would log each webhook POST).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import uvicorn

from bench.common import livechat_settings
from livechat_ext.web.host import create_app

try:  # as `livechat-ext serve` does once its app is built (absent before it existed)
    from livechat_ext.web.deploy import tune_gc
except ImportError:  # an older checkout (--base)
    tune_gc = None  # type: ignore[assignment]


def apply_patches(names: list[str]) -> None:
    """Candidate hot-path fixes, applied by monkeypatching so they can be measured
    before anyone edits the package. Not used in the published table unless named."""
    for name in names:  # env:NAME=VALUE sets a setting for this run
        if name.startswith("env:"):
            key, _, value = name[4:].partition("=")
            os.environ[key] = value
    if "sqlite-normal" in names:  # LIVECHAT_SQLITE_SYNCHRONOUS=normal: no fsync per commit
        os.environ["LIVECHAT_SQLITE_SYNCHRONOUS"] = "normal"
    if "sqlite-lock" in names:
        # serialize this process's SQLite write transactions on an asyncio.Lock instead
        # of letting them collide on BEGIN IMMEDIATE and sleep in SQLite's busy handler
        import asyncio
        from contextlib import asynccontextmanager

        from livechat_ext.store.sql import SqlStore

        original = SqlStore._tx
        lock = asyncio.Lock()

        @asynccontextmanager
        async def _tx(self, *, write=False):  # type: ignore[no-untyped-def]
            if write and self._sqlite:
                async with lock, original(self, write=True) as conn:
                    yield conn
            else:
                async with original(self, write=write) as conn:
                    yield conn

        SqlStore._tx = _tx  # type: ignore[method-assign]
    if "orjson" in names:
        import orjson

        import livechat_ext.protocol.server as server

        class _Json:
            @staticmethod
            def dumps(obj, **_kw):  # type: ignore[no-untyped-def]
                return orjson.dumps(obj).decode()

        server.json = _Json  # type: ignore[assignment]
    if "raw-send" in names:
        # the writer's ws.send_text without Starlette's per-call state checks
        from starlette.websockets import WebSocket

        async def send_text(self, data):  # type: ignore[no-untyped-def]
            await self._send({"type": "websocket.send", "text": data})

        WebSocket.send_text = send_text  # type: ignore[method-assign]
    if "no-direct-write" in names:
        # every frame through the ASGI send, as before web/direct_write.py
        import livechat_ext.web.endpoint as endpoint

        endpoint.direct_writer = lambda send: None  # type: ignore[assignment]
    if "no-conversation-updated" in names:
        # measurement only: what the coalesced conversation_updated broadcast costs
        # (the window made longer than any run: only a quiet conversation's first
        # change is sent)
        os.environ["LIVECHAT_CONVERSATION_UPDATE_INTERVAL"] = "86400"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ws", default="auto")
    p.add_argument("--store-url", required=True)
    p.add_argument("--broker-url", default="memory://")
    p.add_argument(
        "--patch",
        default="",
        help="comma list: sqlite-normal, sqlite-lock, orjson, "
        "raw-send, no-direct-write, no-conversation-updated, env:NAME=VALUE (see apply_patches)",
    )
    p.add_argument("--no-gc-tuning", action="store_true", help="leave CPython's GC defaults")
    p.add_argument("--profile", help="write a pyinstrument HTML/text profile here on exit")
    a = p.parse_args()
    apply_patches([n.strip() for n in a.patch.split(",") if n.strip()])
    s = livechat_settings(a.store_url, a.broker_url)
    # no LINE client, as before LiveChat required a token: a bench run sends
    # nothing to LINE, and a client would look up profiles at an unreachable API
    from livechat_ext.flows.outbound import NoDelivery

    app = create_app(s, delivery=NoDelivery())
    if tune_gc is not None and not (a.no_gc_tuning or os.environ.get("BENCH_NO_GC_TUNING")):
        tune_gc()
    profiler = None
    if a.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()

        def dump(*_: object) -> None:
            profiler.stop()
            with open(a.profile, "w") as f:
                f.write(profiler.output_text(unicode=False, color=False, show_all=False))
            with open(a.profile + ".html", "w") as f:
                f.write(profiler.output_html())
            os._exit(0)

        signal.signal(signal.SIGUSR1, dump)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=a.port,
        ws=a.ws,
        log_level="warning",
        access_log=False,
        ws_max_size=max(s.max_frame_bytes * 2, 1 << 20),
        ws_ping_interval=None,
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
