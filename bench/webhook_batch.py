"""Webhook answer time and CPU per webhook, against a real uvicorn server.

    python bench/webhook_batch.py                 # 100-event batches, 100 new users each
    python bench/webhook_batch.py --single 400    # CPU per single-event webhook instead

Batch mode: starts livechat_ext as `bench/servers/livechat_server.py` does (SQLite
file, memory broker) beside the fake LINE API (profiles of new users are looked up
there, in the background), then posts LINE-shaped signed webhooks of `--events`
text events from as many users never seen before, one at a time, and times each
answer (request written to response read), each once the server is idle again
(the look-ups of the batch before are done). The first webhook after every start
is reported apart from the rest. Server CPU per webhook comes from /proc (psutil).

Single mode (`--single K`): K signed one-event webhooks to one known user (the
fan-out bench's shape, no operator connected) after a warm-up, `--window` in
flight; prints the server's CPU time per webhook. The machine is shared: compare
CPU time, not wall time, and alternate A/B (`--root` runs another checkout's
server, e.g. `git archive <commit> | tar -x -C /tmp/base`).

Prints one JSON line, then a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BENCH_USER, CHANNEL_SECRET, read_answer  # noqa: E402
from bench.run import cpu, free_port, spawn, stop, wait_port  # noqa: E402
from livechat_ext.line.testing import new_event_id, sign, text_event, webhook_body  # noqa: E402

_FAKE_LINE = (
    "import sys, uvicorn\n"
    "from livechat_ext.simulator.fake_line import create_fake_line_app\n"
    "uvicorn.run(create_fake_line_app(), host='127.0.0.1', port=int(sys.argv[1]),"
    " log_level='warning', access_log=False)\n"
)


def user_id(run: int, i: int) -> str:
    return "U" + f"{run:08x}{i:08x}{time.time_ns() & 0xFFFFFFFFFFFFFFFF:016x}"[:32]


def batch_body(run: int, events: int) -> bytes:
    return webhook_body(
        text_event(user_id(run, i), f"hello {i}", event_id=new_event_id()) for i in range(events)
    )


async def post(port: int, body: bytes) -> tuple[float, int]:
    """Seconds from writing the request to reading the whole answer, and its status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = (
            f"POST /line/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n"
            f"X-Line-Signature: {sign(body, CHANNEL_SECRET)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        start = time.perf_counter()
        writer.write(head + body)
        status = await read_answer(reader)
        return time.perf_counter() - start, int(status.split()[1])
    finally:
        writer.close()


class Servers:
    """The fake LINE API and one livechat_ext server on a fresh SQLite file."""

    def __init__(self, a: argparse.Namespace, tmp: Path) -> None:
        root = Path(a.root).resolve() if a.root else ROOT
        store = Path(a.store_dir or tmp) / f"webhook-{time.monotonic_ns()}.db"
        self.procs: list[subprocess.Popen[bytes]] = []
        env_before = dict(os.environ)
        line_port = free_port()
        fake = spawn(["-c", _FAKE_LINE, str(line_port)], tmp / "fake-line.log", root=root)
        self.procs.append(fake)
        wait_port(line_port, fake)
        os.environ["LIVECHAT_LINE_API_BASE_URL"] = f"http://127.0.0.1:{line_port}"
        os.environ["LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN"] = "fake-channel-access-token"
        self.port = free_port()
        args = ["-m", "bench.servers.livechat_server", "--port", str(self.port)]
        args += ["--store-url", f"sqlite+aiosqlite:///{store}"]
        try:
            self.server = spawn(args, tmp / "server.log", root=root)
        finally:
            os.environ.clear()
            os.environ.update(env_before)
        self.procs.append(self.server)
        wait_port(self.port, self.server)

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)


async def settle(servers: Servers, bound: float = 30.0) -> None:
    """Until the server is idle: under 2 ms of CPU in 100 ms."""
    end = time.monotonic() + bound
    while time.monotonic() < end:
        before = cpu(servers.server)
        await asyncio.sleep(0.1)
        if cpu(servers.server) - before < 0.002:
            return


async def batches(a: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    first: list[float] = []
    rest: list[float] = []
    cpu_ms: list[float] = []
    answer_cpu: tuple[list[float], list[float]] = ([], [])  # first after start, the rest
    run = 0
    for _ in range(a.starts):
        servers = Servers(a, tmp)
        try:
            for i in range(a.runs):
                run += 1
                body = batch_body(run, a.events)
                before = cpu(servers.server)
                seconds, status = await post(servers.port, body)
                answer_cpu[i > 0].append((cpu(servers.server) - before) * 1000)
                if status != 200:
                    raise RuntimeError(f"webhook answered {status}")
                (first if i == 0 else rest).append(seconds)
                await settle(servers)  # its background work (profile look-ups) is done
                cpu_ms.append((cpu(servers.server) - before) * 1000)
        finally:
            servers.close()
    every = first + rest
    return {
        "mode": "batch",
        "events": a.events,
        "starts": a.starts,
        "runs": a.runs,
        "median_s": statistics.median(every),
        "first_after_start_median_s": statistics.median(first),
        "first_after_start_max_s": max(first),
        "rest_median_s": statistics.median(rest) if rest else None,
        "max_s": max(every),
        "server_cpu_ms_per_batch_median": statistics.median(cpu_ms),
        # server CPU from the request written to the answer read (background work
        # that ran meanwhile included): the first webhook after start, the others
        "answer_cpu_ms_first_median": statistics.median(answer_cpu[0]),
        "answer_cpu_ms_rest_median": statistics.median(answer_cpu[1]) if answer_cpu[1] else None,
        "target_s": 0.3,
        "met": statistics.median(every) <= 0.3 and statistics.median(first) <= 0.3,
    }


async def singles(a: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    servers = Servers(a, tmp)
    try:

        async def send(count: int) -> None:
            queue = list(range(count))

            async def worker() -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", servers.port)
                try:
                    while queue:
                        queue.pop()
                        body = webhook_body([text_event(BENCH_USER, "hello from LINE")])
                        head = (
                            "POST /line/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Content-Type: application/json\r\n"
                            f"X-Line-Signature: {sign(body, CHANNEL_SECRET)}\r\n"
                            f"Content-Length: {len(body)}\r\n\r\n"
                        ).encode()
                        writer.write(head + body)
                        status = await reader.readline()
                        length = 0
                        while (line := await reader.readline()) not in (b"\r\n", b""):
                            if line.lower().startswith(b"content-length:"):
                                length = int(line.split(b":", 1)[1])
                        await reader.readexactly(length)
                        if b" 200 " not in status:
                            raise RuntimeError(f"webhook answered {status!r}")
                finally:
                    writer.close()

            await asyncio.gather(*(worker() for _ in range(a.window)))

        await send(a.warmup)
        await asyncio.sleep(0.5)
        before = cpu(servers.server)
        started = time.perf_counter()
        await send(a.single)
        wall = time.perf_counter() - started
        await asyncio.sleep(0.5)
        used = cpu(servers.server) - before
    finally:
        servers.close()
    return {
        "mode": "single",
        "webhooks": a.single,
        "window": a.window,
        "server_cpu_ms_per_webhook": 1000 * used / a.single,
        "webhooks_per_s": a.single / wall,
    }


def table(r: dict[str, Any]) -> str:
    if r["mode"] == "single":
        return (
            "| webhooks | in flight | server CPU ms/webhook | webhooks/s |\n|---|---|---|---|\n"
            f"| {r['webhooks']} | {r['window']} | {r['server_cpu_ms_per_webhook']:.3f} "
            f"| {r['webhooks_per_s']:.0f} |"
        )
    rest = r["rest_median_s"]
    return (
        "| events/webhook | starts x runs | median s | first after start (median / max) s "
        "| others median s | max s | server CPU ms/batch | CPU ms to answer (first / others) "
        "| ≤ 0.3 s |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {r['events']} | {r['starts']} x {r['runs']} | {r['median_s']:.3f} "
        f"| {r['first_after_start_median_s']:.3f} / {r['first_after_start_max_s']:.3f} "
        f"| {'-' if rest is None else f'{rest:.3f}'} | {r['max_s']:.3f} "
        f"| {r['server_cpu_ms_per_batch_median']:.1f} | {r['answer_cpu_ms_first_median']:.0f} / "
        f"{'-' if rest is None else format(r['answer_cpu_ms_rest_median'], '.0f')} "
        f"| {'met' if r['met'] else 'missed'} |"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=100, help="events (new users) per webhook")
    p.add_argument("--runs", type=int, default=10, help="webhooks per server start")
    p.add_argument("--starts", type=int, default=3, help="server starts (each: a fresh store)")
    p.add_argument("--single", type=int, default=0, help="K one-event webhooks: CPU per webhook")
    p.add_argument("--warmup", type=int, default=100, help="single mode: unmeasured webhooks")
    p.add_argument("--window", type=int, default=1, help="single mode: webhooks in flight")
    p.add_argument("--store-dir", help="where the SQLite file goes (default: a temp dir)")
    p.add_argument("--root", help="run the server from this checkout (A/B)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        runner = singles if a.single else batches
        result = asyncio.run(runner(a, Path(tmp)))
    print(json.dumps(result), flush=True)
    print(table(result))
    return result


if __name__ == "__main__":
    main()
