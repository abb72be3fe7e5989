"""Connect storm: K operators with distinct admin ids connect, authenticate and
join a conversation at once (a deploy, a network blip), against livechat_ext
under real uvicorn, clients in separate loader processes.

    python -m bench.connect_storm                      # K=2000, one process
    python -m bench.connect_storm --redis              # K=10000, two processes over Redis
    python -m bench.connect_storm --target naive       # the naive FastAPI loop (join only)
    python -m bench.connect_storm --base /tmp/old      # another checkout's server

Measures the time from "go" until every operator is joined, the operators that
gave up (a step with no answer within --step-timeout, or a refused socket),
server CPU and frames received, and checks that presence is right at the end:
a fresh observer's `auth_success` on every node lists all K online, and the
first operator of each loader, who was there from the start and kept its list
from `auth_success`, `operator_status` and `operators_changed`, sees all K
online too. Prints JSON, then a markdown table. Every process it starts is
stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BENCH_USER, livechat_settings, now  # noqa: E402
from bench.wsclient import WSClient, connect  # noqa: E402

PRESENCE = (b'"operator_status"', b'"operators_changed"')


def admin(i: int) -> str:
    return f"op-{i:05d}"


# loader process -------------------------------------------------------------


class Watcher:
    """One operator's view of presence, from the frames it received."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}

    def frame(self, data: bytes) -> None:
        head = data[:40]
        if b'"auth_success"' in head:
            ops = json.loads(data)["payload"]["operators"]
            self.status = {o["admin_id"]: o["status"] for o in ops}
        elif b'"operator_status"' in head:
            p = json.loads(data)["payload"]
            self.status[p["admin_id"]] = p["status"]
        elif b'"operators_changed"' in head:
            for o in json.loads(data)["payload"]["operators"]:
                self.status[o["admin_id"]] = o["status"]

    def online(self, prefix: str = "op-") -> int:
        return sum(1 for a, s in self.status.items() if s == "online" and a.startswith(prefix))


class StormLoader:
    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.clients: list[WSClient] = []
        self.frames = 0
        self.presence_frames = 0
        self.bytes = 0
        self.failed: dict[str, int] = {}
        self.done_at: list[float] = []
        self.watcher = Watcher()

    def on_text(self, data: bytes) -> None:
        self.frames += 1
        self.bytes += len(data)
        head = data[:40]
        if PRESENCE[0] in head or PRESENCE[1] in head:
            self.presence_frames += 1

    async def one(self, i: int, sem: asyncio.Semaphore) -> None:
        a = self.a
        watch = i == 0 and a.target == "livechat"

        def on_text(data: bytes) -> None:
            self.on_text(data)
            if watch:
                self.watcher.frame(data)

        async with sem:
            c: WSClient | None = None
            try:
                c = await connect(a.host, a.port, a.path, on_text, timeout=a.step_timeout)
                if a.target == "livechat":
                    auth = {"type": "auth", "payload": {"token": self.tokens[i]}}
                    await c.request(json.dumps(auth), b'"auth_success"', a.step_timeout)
                    join = {"type": "join_conversation", "payload": {"line_user_id": BENCH_USER}}
                    await c.request(json.dumps(join), b'"conversation_joined"', a.step_timeout)
                else:
                    join = {"type": "join", "room": "room-1"}
                    await c.request(json.dumps(join), b"joined", a.step_timeout)
                c.setup_done()
                self.clients.append(c)
                self.done_at.append(now())
            except Exception as exc:  # a give-up, whatever the cause: the client leaves
                kind = type(exc).__name__
                if c is not None and c.close_code is not None:
                    kind += f" (closed {c.close_code})"
                self.failed[kind] = self.failed.get(kind, 0) + 1
                if c is not None:
                    c.close()

    async def run(self) -> None:
        a = self.a
        if a.target == "livechat":
            from livechat_ext.auth import mint_token

            s = livechat_settings()
            self.tokens = [
                mint_token(s, admin(a.offset + i), name=f"Operator {a.offset + i}", ttl=6 * 3600)
                for i in range(a.count)
            ]
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        print("PREPARED", flush=True)
        while (await reader.readline()).strip() != b"go":
            pass
        start = now()
        sem = asyncio.Semaphore(a.concurrency)
        # the watcher first: it is there from the start and sees the whole storm
        await self.one(0, sem)
        await asyncio.gather(*(self.one(i, sem) for i in range(1, a.count)))
        done = {
            "joined": len(self.done_at),
            "failed": self.failed,
            "start": start,
            "last": max(self.done_at, default=start),
        }
        print("DONE " + json.dumps(done), flush=True)
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "quit":
                break
            if line == "report":
                alive = sum(1 for c in self.clients if not c.closed.done())
                report = {
                    "frames": self.frames,
                    "presence_frames": self.presence_frames,
                    "bytes": self.bytes,
                    "alive": alive,
                    "watcher_online": self.watcher.online(),
                }
                print("REPORT " + json.dumps(report), flush=True)
        for c in self.clients:
            c.close()
        await asyncio.sleep(0.2)


# the observer -----------------------------------------------------------------


async def observe(port: int, token: str) -> int:
    """How many op-* operators a fresh observer's auth_success lists online."""
    c = await connect("127.0.0.1", port, "/ws/live-chat", lambda _d: None)
    try:
        raw = await c.request(
            json.dumps({"type": "auth", "payload": {"token": token}}), b'"auth_success"', 30
        )
    finally:
        c.close()
    ops = json.loads(raw)["payload"]["operators"]
    return sum(1 for o in ops if o["status"] == "online" and o["admin_id"].startswith("op-"))


# the driver ---------------------------------------------------------------------


def run(a: argparse.Namespace) -> dict[str, Any]:
    from bench import run as rig

    tmp = Path(tempfile.mkdtemp(prefix="livechat-storm-"))
    workers = 2 if a.redis else 1
    os.environ["LIVECHAT_BROKER_PREFIX"] = f"storm-{os.getpid()}-{time.monotonic_ns()}"
    # nothing is sent to LINE in a storm, but the server will not start without one
    os.environ.setdefault("LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN", "bench-storm-unused")
    if a.presence_ttl is not None:
        os.environ["LIVECHAT_PRESENCE_TTL"] = str(a.presence_ttl)
    if a.no_gc_tuning:  # bench/servers/livechat_server.py reads it
        os.environ["BENCH_NO_GC_TUNING"] = "1"
    target = rig.Target(
        "storm",
        a.target,
        "storm",
        broker=rig.REDIS_URL if a.redis else "memory://",
        workers=workers,
        root=Path(a.base).resolve() if a.base else ROOT,
    )
    servers, ports = target.start(tmp)
    loaders = []
    try:
        per = [a.operators // a.loaders + (i < a.operators % a.loaders) for i in range(a.loaders)]
        offset = 0
        for i, n in enumerate(per):
            args = [
                "-m",
                "bench.connect_storm",
                "--loader",
                "--target",
                a.target,
                "--port",
                str(ports[i % len(ports)]),
                "--count",
                str(n),
                "--offset",
                str(offset),
                "--concurrency",
                str(a.concurrency),
                "--step-timeout",
                str(a.step_timeout),
            ]
            loaders.append(rig.spawn(args, tmp / f"loader-{i}.log", pipes=True))
            offset += n
        for proc in loaders:
            rig.read_line(proc, "PREPARED", timeout=300)
        spy = None
        if a.py_spy:  # a sampling profile of the (first) server during the storm
            import subprocess

            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "-p",
                    str(servers[0].pid),
                    "-o",
                    a.py_spy,
                    "-f",
                    "raw",
                    "-r",
                    "200",
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        time.sleep(a.settle)
        cpu0 = [rig.cpu(p) for p in servers]
        lcpu0 = [rig.cpu(p) for p in loaders]
        go = now()
        for proc in loaders:
            rig.tell(proc, "go")
        done = [
            json.loads(rig.read_line(p, "DONE", timeout=a.timeout).split(" ", 1)[1])
            for p in loaders
        ]
        finished = now()
        cpu1 = [rig.cpu(p) for p in servers]
        lcpu1 = [rig.cpu(p) for p in loaders]
        if spy is not None:
            import signal

            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        joined = sum(d["joined"] for d in done)
        failed: dict[str, int] = {}
        for d in done:
            for k, v in d["failed"].items():
                failed[k] = failed.get(k, 0) + v
        seconds = max(d["last"] for d in done) - go
        print(f"storm: {done}", file=sys.stderr, flush=True)
        result: dict[str, Any] = {
            "target": a.target
            + (" @" + Path(a.base).name if a.base else "")
            + (" (no GC tuning)" if a.no_gc_tuning else ""),
            "operators": a.operators,
            "processes": workers,
            "broker": "redis" if a.redis else "memory",
            "presence_ttl": a.presence_ttl,
            "loaders": a.loaders,
            "concurrency": a.concurrency,
            "seconds": round(seconds, 2),
            "joined": joined,
            "gave_up": a.operators - joined,
            "failures": failed,
            "server_cpu_s": round(sum(cpu1) - sum(cpu0), 2),
            "loader_cpu_s": round(sum(lcpu1) - sum(lcpu0), 2),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "wall_s": round(finished - go, 2),
        }
        if a.target == "livechat":
            result.update(presence_check(a, ports, loaders, joined))
        else:
            result.update(totals(loaders))
        result["peak_rss_mb"] = round(sum(rig.peak_rss(p) for p in servers) / 2**20, 1)
        return result
    finally:
        for proc in loaders:
            if proc.poll() is None:
                try:
                    rig.tell(proc, "quit")
                except OSError:
                    pass
        for proc in loaders:
            try:
                proc.wait(5)
            except Exception:
                pass
            rig.stop(proc)
        for proc in servers:
            rig.stop(proc)
        import shutil

        if a.keep_logs:
            print(f"logs kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def totals(loaders: list[Any]) -> dict[str, Any]:
    from bench import run as rig

    out = {"frames": 0, "presence_frames": 0, "bytes": 0, "alive": 0, "watcher_online": []}
    for proc in loaders:
        rig.tell(proc, "report")
    for proc in loaders:
        r = json.loads(rig.read_line(proc, "REPORT").split(" ", 1)[1])
        for k in ("frames", "presence_frames", "bytes", "alive"):
            out[k] += r[k]
        out["watcher_online"].append(r["watcher_online"])
    return out


def presence_check(
    a: argparse.Namespace, ports: list[int], loaders: list[Any], joined: int
) -> dict[str, Any]:
    """Poll (bounded) until every node's fresh observer and every loader's first
    operator see online exactly the operators that joined (one that gave up
    closed its socket: offline after the grace); how long that took."""
    from livechat_ext.auth import mint_token

    token = mint_token(livechat_settings(), "observer", name="Observer", ttl=3600)
    start = now()
    observed: list[int] = []
    t: dict[str, Any] = {}
    while True:
        try:
            observed = [asyncio.run(observe(p, token)) for p in ports]
        except (OSError, TimeoutError, ConnectionError) as exc:  # a server still busy
            print(f"observer: {exc!r}", file=sys.stderr, flush=True)
            observed = [-1] * len(ports)
        t = totals(loaders)
        if all(o == joined for o in observed + t["watcher_online"]):
            break
        if now() - start > a.converge_timeout:
            break
        time.sleep(0.25)
    t.update(
        {
            "observer_online": observed,
            "presence_ok": all(o == joined for o in observed + t["watcher_online"]),
            "presence_truth": joined,
            "converge_s": round(now() - start, 2),
            "presence_frames_per_operator": round(t["presence_frames"] / max(a.operators, 1), 1),
        }
    )
    return t


def markdown(r: dict[str, Any]) -> str:
    rows = [
        ("target", r["target"]),
        ("operators (distinct ids)", r["operators"]),
        ("server processes / broker", f"{r['processes']} / {r['broker']}"),
        ("all connected, authenticated, joined in", f"{r['seconds']} s"),
        ("gave up", f"{r['gave_up']} {r['failures'] or ''}".strip()),
        ("server CPU during the storm", f"{r['server_cpu_s']} s"),
        ("loader CPU during the storm", f"{r['loader_cpu_s']} s"),
        ("machine load (1 min) at the end", r["load_avg_1m"]),
        ("frames received (all clients)", r.get("frames")),
        ("presence frames received", r.get("presence_frames")),
        ("bytes received", r.get("bytes")),
    ]
    if "presence_ok" in r:
        rows += [
            ("presence correct at the end", r["presence_ok"]),
            (
                "observer online / early operator online",
                f"{r['observer_online']} / {r['watcher_online']}",
            ),
            ("presence settled after the last join", f"{r['converge_s']} s"),
        ]
    rows.append(("server peak RSS", f"{r['peak_rss_mb']} MB"))
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--loader", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    p.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--target", choices=["livechat", "naive"], default="livechat")
    p.add_argument("-K", "--operators", type=int, help="default 2000; 10000 with --redis")
    p.add_argument("--redis", action="store_true", help="two server processes over Redis")
    p.add_argument("--loaders", type=int, help="loader processes (default 2; 4 with --redis)")
    p.add_argument("--concurrency", type=int, default=1000, help="handshakes in flight per loader")
    p.add_argument("--step-timeout", type=float, default=30.0, help="a client gives up after it")
    p.add_argument("--timeout", type=float, default=600.0, help="the whole storm")
    p.add_argument(
        "--converge-timeout", type=float, help="bound on presence settling (15 s; 180 with --redis)"
    )
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument("--base", help="run the server from this checkout instead")
    p.add_argument("--json", help="also write the JSON result here")
    p.add_argument(
        "--no-gc-tuning", action="store_true", help="the server keeps CPython's GC defaults"
    )
    p.add_argument(
        "--presence-ttl",
        type=float,
        help="the servers' LIVECHAT_PRESENCE_TTL (a node silent that long is reaped)",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the server and loader logs")
    p.add_argument("--py-spy", help="record a py-spy profile (raw, collapsed stacks) here")
    a = p.parse_args()
    if a.loader:
        import uvloop

        a.path = "/ws/live-chat" if a.target == "livechat" else "/ws"
        uvloop.run(StormLoader(a).run())
        return 0
    if a.operators is None:
        a.operators = 10_000 if a.redis else 2000
    if a.converge_timeout is None:
        a.converge_timeout = 180.0 if a.redis else 15.0
    if a.loaders is None:
        a.loaders = 4 if a.redis else 2
    if a.redis and a.target != "livechat":
        p.error("--redis needs --target livechat")
    from bench import run as rig

    if a.redis and (why := rig.redis_ready()) is not None:
        p.error(f"--redis: {why}")
    import atexit

    atexit.register(rig.cleanup)
    result = run(a)
    print(json.dumps(result))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    print()
    print(markdown(result))
    ok = result["gave_up"] == 0 and result.get("presence_ok", True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
