"""CPU and Python calls per signed one-event webhook through the whole ASGI app,
in process (no uvicorn, no HTTP parsing): what the app's own layers cost.

    python bench/levers/webhook_calls.py            # CPU per webhook (process time)
    python bench/levers/webhook_calls.py --calls    # function calls per webhook (cProfile)
    taskset -c 1 python bench/levers/webhook_calls.py   # one core: no cross-core thread hops

The call count is deterministic, so it compares two trees without the noise
of a shared machine; CPU time moves by ±15 % between runs here.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BENCH_USER, CHANNEL_SECRET, livechat_settings  # noqa: E402
from livechat_ext.flows.outbound import NoDelivery  # noqa: E402
from livechat_ext.line.testing import sign, text_event, webhook_body  # noqa: E402
from livechat_ext.web.host import create_app  # noqa: E402


async def run(n: int, warm: int, store_dir: str, profile: cProfile.Profile | None) -> float:
    settings = livechat_settings(f"sqlite+aiosqlite:///{store_dir}/webhook-calls.db")
    app = create_app(settings, delivery=NoDelivery())
    async with app.router.lifespan_context(app):

        async def one() -> None:
            body = webhook_body([text_event(BENCH_USER, "hello from LINE")])
            headers = [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"x-line-signature", sign(body, CHANNEL_SECRET).encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            path = settings.webhook_path
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "root_path": "",
                "query_string": b"",
                "headers": headers,
                "client": ("127.0.0.1", 5000),
                "server": ("127.0.0.1", 8000),
                "state": {},
            }
            sent = False

            async def receive() -> dict[str, object]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                await asyncio.Event().wait()
                raise AssertionError("unreachable")

            status: list[int] = []

            async def send(message: dict[str, object]) -> None:
                if message["type"] == "http.response.start":
                    status.append(int(message["status"]))  # type: ignore[call-overload]

            await app(scope, receive, send)  # type: ignore[arg-type]
            if status != [200]:
                raise RuntimeError(f"webhook answered {status}")

        for _ in range(warm):
            await one()
        if profile is not None:
            profile.enable()
        started = time.process_time()
        for _ in range(n):
            await one()
        used = time.process_time() - started
        if profile is not None:
            profile.disable()
        return used


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=2000, help="measured webhooks")
    p.add_argument("--warm", type=int, default=200)
    p.add_argument("--calls", action="store_true", help="count Python calls (cProfile)")
    p.add_argument("--store-dir", help="where the SQLite file goes (/dev/shm: no disk)")
    a = p.parse_args()
    store_dir = a.store_dir or tempfile.mkdtemp(prefix="webhook-calls-")
    profile = cProfile.Profile() if a.calls else None
    import uvloop

    used = uvloop.run(run(a.n, a.warm, store_dir, profile))
    if profile is not None:
        calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
        print(f"{calls / a.n:.0f} function calls per webhook (cProfile, {a.n} webhooks)")
    else:
        print(f"{used / a.n * 1e6:.0f} µs of CPU per webhook ({a.n} webhooks, in process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
