# ruff: noqa: RUF001
"""Fan-out benchmark: livechat_ext against raw `websockets`, a naive FastAPI loop
and python-socketio, loader and server in separate processes.

    python bench/run.py                 # the table in bench/README.md (~10 min)
    python bench/run.py --quick         # a smoke run (~2 min)

Writes bench/results.json, bench/results.md, bench/results.png and the results
section of bench/README.md. Every process it starts is stopped on exit.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import now  # noqa: E402

PY = sys.executable
PROCS: list[subprocess.Popen[bytes]] = []
STORE_DIR: str | None = None  # --store-dir
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


# processes -------------------------------------------------------------------


def spawn(
    args: list[str], log: Path, *, pipes: bool = False, root: Path = ROOT
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONUNBUFFERED="1")
    errf = open(log, "ab")  # closed with the process
    proc = subprocess.Popen(
        [PY, *args],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
        stdout=subprocess.PIPE if pipes else errf,
        stderr=errf,
    )
    PROCS.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    if proc in PROCS:
        PROCS.remove(proc)


def cleanup() -> None:
    for proc in reversed(list(PROCS)):
        stop(proc, 3.0)


def _on_signal(signum: int, _frame: object) -> None:
    cleanup()
    raise SystemExit(128 + signum)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} not listening after {timeout}s")


def cpu(proc: subprocess.Popen[bytes]) -> float:
    t = psutil.Process(proc.pid).cpu_times()
    return float(t.user + t.system)


def rss(proc: subprocess.Popen[bytes]) -> int:
    return int(psutil.Process(proc.pid).memory_info().rss)


def peak_rss(proc: subprocess.Popen[bytes]) -> int:
    with open(f"/proc/{proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return rss(proc)


def read_line(proc: subprocess.Popen[bytes], prefix: str = "", timeout: float = 120.0) -> str:
    """The next stdout line of a loader (starting with `prefix` when given)."""
    assert proc.stdout is not None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        raw = proc.stdout.readline()
        if not raw:
            raise RuntimeError(f"loader {proc.pid} exited ({proc.poll()})")
        line = raw.decode().strip()
        if not prefix or line.startswith(prefix):
            return line
    raise RuntimeError(f"loader {proc.pid}: no {prefix!r} line in {timeout}s")


def tell(proc: subprocess.Popen[bytes], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write((line + "\n").encode())
    proc.stdin.flush()


# targets -----------------------------------------------------------------------


@dataclass
class Target:
    name: str
    kind: str  # loader/injector protocol: livechat, raw, naive, sio
    label: str
    ws: str = "auto"
    broker: str = "memory://"
    workers: int = 1
    patch: str = ""
    root: Path = ROOT  # the checkout whose livechat_ext (and bench server) runs

    def start(self, tmp: Path) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
        procs, ports = [], []
        db = Path(STORE_DIR or tmp) / f"{self.name}-{time.monotonic_ns()}.db"
        for _ in range(self.workers):
            port = free_port()
            log = tmp / f"server-{self.name}.log"
            if self.kind == "livechat":
                args = [
                    "-m",
                    "bench.servers.livechat_server",
                    "--port",
                    str(port),
                    "--ws",
                    self.ws,
                    "--store-url",
                    f"sqlite+aiosqlite:///{db}",
                    "--broker-url",
                    self.broker,
                    "--patch",
                    self.patch,
                ]
            elif self.kind == "raw":
                args = ["-m", "bench.servers.raw_ws", "--port", str(port)]
            elif self.kind == "naive":
                args = ["-m", "bench.servers.naive_fastapi", "--port", str(port), "--ws", self.ws]
            else:
                args = ["-m", "bench.servers.sio_server", "--port", str(port), "--ws", self.ws]
            proc = spawn(args, log, root=self.root)
            wait_port(port, proc)  # one at a time: the schema is created by the first
            procs.append(proc)
            ports.append(port)
        return procs, ports


TARGETS = {
    "raw": Target("raw", "raw", "websockets broadcast()"),
    "naive": Target("naive", "naive", "naive FastAPI loop"),
    "sio": Target("sio", "sio", "python-socketio"),
    "livechat": Target("livechat", "livechat", "livechat_ext"),
    "livechat-websockets": Target(
        "livechat-websockets",
        "livechat",
        "livechat_ext --ws websockets (legacy impl)",
        ws="websockets",
    ),
    "livechat-sansio": Target(
        "livechat-sansio", "livechat", "livechat_ext --ws websockets-sansio", ws="websockets-sansio"
    ),
    "livechat-wsproto": Target(
        "livechat-wsproto", "livechat", "livechat_ext --ws wsproto", ws="wsproto"
    ),
    "livechat-redis": Target(
        "livechat-redis", "livechat", "livechat_ext, 1 process, Redis broker", broker=REDIS_URL
    ),
    "livechat-2w": Target(
        "livechat-2w",
        "livechat",
        "livechat_ext, 2 processes, Redis broker",
        broker=REDIS_URL,
        workers=2,
    ),
    "livechat+normal": Target(
        "livechat+normal",
        "livechat",
        "livechat_ext, LIVECHAT_SQLITE_SYNCHRONOUS=normal",
        patch="sqlite-normal",
    ),
    "livechat-asgi": Target(
        "livechat-asgi",
        "livechat",
        "livechat_ext, every frame through the ASGI send",
        patch="no-direct-write",
    ),
    "livechat-cu4": Target(
        "livechat-cu4",
        "livechat",
        "livechat_ext, conversation_updated every 0.25 s (the old default)",
        patch="env:LIVECHAT_CONVERSATION_UPDATE_INTERVAL=0.25",
    ),
    "livechat-cu": Target(
        "livechat-cu",
        "livechat",
        "livechat_ext, no conversation_updated (measure only)",
        patch="no-conversation-updated",
    ),
    "livechat+orjson": Target(
        "livechat+orjson", "livechat", "livechat_ext + orjson (patch)", patch="orjson"
    ),
    "livechat+rawsend": Target(
        "livechat+rawsend", "livechat", "livechat_ext + raw ASGI send (patch)", patch="raw-send"
    ),
    "livechat+lock": Target(
        "livechat+lock", "livechat", "livechat_ext + SQLite write lock (patch)", patch="sqlite-lock"
    ),
    "livechat+lock+orjson": Target(
        "livechat+lock+orjson",
        "livechat",
        "livechat_ext + write lock + orjson (patch)",
        patch="sqlite-lock,orjson",
    ),
    "livechat+lock-cu": Target(
        "livechat+lock-cu",
        "livechat",
        "livechat_ext + write lock, no conversation_updated (measure only)",
        patch="sqlite-lock,no-conversation-updated",
    ),
}
PEERS = ("raw", "naive", "sio")


def redis_ready() -> str | None:
    """None when the two-worker workload can run, else why not."""
    if not (ROOT / "livechat_ext" / "broker" / "redis.py").exists():
        return "livechat_ext/broker/redis.py does not exist yet"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed"
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            pass
    except OSError:
        return "no Redis on 127.0.0.1:6379"
    return None


# workloads -----------------------------------------------------------------------


@dataclass
class Session:
    target: Target
    servers: list[subprocess.Popen[bytes]]
    ports: list[int]
    loaders: list[subprocess.Popen[bytes]] = field(default_factory=list)
    clients: int = 0


def start_loaders(
    s: Session, a: argparse.Namespace, tmp: Path, count: int, admins: int, warm: int = 0
) -> None:
    per = [count // a.loaders + (1 if i < count % a.loaders else 0) for i in range(a.loaders)]
    offset = 0
    for i, n in enumerate(per):
        port = s.ports[i % len(s.ports)]
        args = [
            "-m",
            "bench.loader",
            "--target",
            s.target.kind,
            "--port",
            str(port),
            "--count",
            str(n),
            "--offset",
            str(offset),
            "--admins",
            str(admins),
            "--warm",
            str(warm // a.loaders),
        ]
        s.loaders.append(spawn(args, tmp / f"loader-{s.target.name}.log", pipes=True))
        offset += n


def wait_ready(s: Session) -> None:
    total = 0
    for proc in s.loaders:
        info = json.loads(read_line(proc, "READY").split(" ", 1)[1])
        total += info["connected"]
        if info["errors"]:
            print(f"    ! {info['errors']} connections failed", flush=True)
    s.clients = total


def close_session(s: Session) -> None:
    for proc in s.loaders:
        if proc.poll() is None:
            try:
                tell(proc, "quit")
            except (BrokenPipeError, OSError):
                pass
    for proc in s.loaders:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        stop(proc)
    for proc in s.servers:
        stop(proc)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values) if not isinstance(values, list) else values
    k = (len(values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def room_phase(
    s: Session, a: argparse.Namespace, phase: str, rate: float, duration: float
) -> dict[str, Any]:
    loaders = s.loaders
    port = s.ports[0]
    frames0 = None
    t0 = now()
    srv0 = [cpu(p) for p in s.servers]
    ld0 = [cpu(p) for p in loaders]
    inj = subprocess.run(
        [
            PY,
            "-m",
            "bench.inject",
            "--target",
            s.target.kind,
            "--port",
            str(port),
            "--rate",
            str(rate),
            "--duration",
            str(duration),
            "--phase",
            phase,
            "--window",
            str(a.window),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        timeout=duration + 90,
    )
    t1 = now()
    srv1 = [cpu(p) for p in s.servers]
    ld1 = [cpu(p) for p in loaders]
    if inj.returncode != 0:
        raise RuntimeError(f"injector failed: {inj.stderr.decode()[-2000:]}")
    info = json.loads(inj.stdout.decode().strip().splitlines()[-1])
    time.sleep(a.drain)
    t2 = now()
    srv2 = [cpu(p) for p in s.servers]
    lat: list[float] = []
    last_rx = 0.0
    frames = 0
    alive = 0
    closed: dict[str, int] = {}
    for proc in loaders:
        tell(proc, f"report {phase}")
    for proc in loaders:
        r = json.loads(read_line(proc, "{"))
        lat.extend(r["lat_ms"])
        last_rx = max(last_rx, r["last_rx"])
        frames += r["frames"]
        alive += r["alive"]
        for k, v in r["closed"].items():
            closed[k] = closed.get(k, 0) + v
    del frames0
    received = len(lat)
    expected = info["sent"] * s.clients
    lat.sort()
    window = max(t1 - t0, 1e-9)
    span = max((last_rx or t1) - info["start"], 1e-9)
    server_cpu = sum(srv2) - sum(srv0)
    return {
        "target": s.target.name,
        "phase": phase,
        "rate": rate,
        "clients": s.clients,
        "sent": info["sent"],
        "answered": info["answered"],
        "inject_errors": info["errors"],
        "expected": expected,
        "received": received,
        "loss": max(expected - received, 0),
        "loss_pct": 100.0 * max(expected - received, 0) / expected if expected else 0.0,
        "p50": pct(lat, 0.50),
        "p90": pct(lat, 0.90),
        "p99": pct(lat, 0.99),
        "max": lat[-1] if lat else float("nan"),
        "deliveries_per_s": received / span,
        "messages_per_s": info["sent"] / max(info["end"] - info["start"], 1e-9),
        "cpu_us_per_delivery": server_cpu / received * 1e6 if received else float("nan"),
        "server_util": max((b - c) / window for b, c in zip(srv1, srv0, strict=True)),
        "loader_util": max((b - c) / window for b, c in zip(ld1, ld0, strict=True)),
        "injector_util": info["cpu"] / max(info["end"] - info["start"], 1e-9),
        "frames_total": frames,
        "alive": alive,
        "closed": closed,
        "peak_rss": sum(peak_rss(p) for p in s.servers),
        "seconds": t2 - t0,
    }


def warm_up(s: Session, a: argparse.Namespace) -> None:
    """A short unrecorded burst first, so lazy imports and caches do not land in a phase."""
    if a.warmup > 0:
        room_phase(s, a, "warm", 20.0, a.warmup)


def bottleneck(r: dict[str, Any]) -> str:
    su, lu, iu = r["server_util"], r["loader_util"], r["injector_util"]
    busiest = max(("server", su), ("loader", lu), ("injector", iu), key=lambda x: x[1])
    if busiest[1] >= 0.85:
        return busiest[0]
    if r["rate"] > 0:
        return f"none (rate-bound; {busiest[0]} busiest)"
    return f"latency-bound ({busiest[0]} busiest)"


def run_room(target: Target, a: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    servers, ports = target.start(tmp)
    s = Session(target, servers, ports)
    try:
        start_loaders(s, a, tmp, a.operators, admins=a.operators)
        wait_ready(s)
        time.sleep(a.settle)
        warm_up(s, a)
        out = []
        phases = [("r", a.rate, a.duration)]
        if a.flat_duration > 0:
            phases.append(("flat", 0.0, a.flat_duration))
        for name, rate, duration in phases:
            r = room_phase(s, a, name, rate, duration)
            r["bottleneck"] = bottleneck(r)
            out.append(r)
            print(
                f"    {target.name:17} {name:4} loss {r['loss']:>6} p50 {r['p50']:7.2f} "
                f"p99 {r['p99']:8.2f} ms  {r['deliveries_per_s']:8.0f} del/s  "
                f"{r['cpu_us_per_delivery']:6.1f} us/del  srv {r['server_util']:.0%} "
                f"ldr {r['loader_util']:.0%} inj {r['injector_util']:.0%}",
                flush=True,
            )
        return out
    finally:
        close_session(s)


def run_idle(target: Target, a: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    servers, ports = target.start(tmp)
    s = Session(target, servers, ports)
    try:
        warm = a.idle_warm
        start_loaders(s, a, tmp, a.idle, admins=a.idle_admins, warm=warm)
        for proc in s.loaders:
            read_line(proc, "WARM")
        time.sleep(1.0)
        before = rss(servers[0])
        for proc in s.loaders:
            tell(proc, "go")
        wait_ready(s)
        time.sleep(2.0)
        after = rss(servers[0])
        opened = s.clients - (warm // a.loaders) * a.loaders
        r = {
            "target": target.name,
            "connections": s.clients,
            "rss_before": before,
            "rss_after": after,
            "bytes_per_conn": (after - before) / max(opened, 1),
            "peak_rss": peak_rss(servers[0]),
        }
        print(
            f"    {target.name:17} idle {s.clients} conns  "
            f"{r['bytes_per_conn'] / 1024:6.1f} KB/conn  rss {after / 2**20:6.1f} MB",
            flush=True,
        )
        return r
    finally:
        close_session(s)


# aggregation and report ------------------------------------------------------------

ROOM_KEYS = (
    "loss",
    "loss_pct",
    "p50",
    "p90",
    "p99",
    "max",
    "deliveries_per_s",
    "cpu_us_per_delivery",
    "server_util",
    "loader_util",
    "injector_util",
    "peak_rss",
    "messages_per_s",
)


def median_rows(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": len(rows)}
    for k in keys:
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = statistics.median(vals) if vals else float("nan")
    if rows and "loss" in rows[0]:
        out["loss_total"] = sum(r["loss"] for r in rows)
        out["expected_total"] = sum(r["expected"] for r in rows)
        out["bottleneck"] = rows[len(rows) // 2]["bottleneck"]
        bn = sorted(r["bottleneck"] for r in rows)
        out["bottleneck"] = max(set(bn), key=bn.count)
    return out


def fmt(v: float, nd: int = 1) -> str:
    return "n/a" if v != v else f"{v:,.{nd}f}"  # v != v: NaN


def ratio(a_: float, b: float) -> str:
    return "n/a" if not (a_ == a_ and b == b and b) else f"{a_ / b:.2f}×"


def report(res: dict[str, Any], a: argparse.Namespace) -> str:
    room = res["room"]
    idle = res["idle"]
    L: list[str] = []
    L.append(
        f"Run {res['date']} on {res['machine']}, livechat_ext at {res['package']}; "
        f"{a.operators} operators in one room, "
        f"{a.loaders} loader processes, R={a.rate:g}/s for {a.duration:g} s and flat out "
        f"(window {a.window}) for {a.flat_duration:g} s, {a.reps} alternating runs per "
        f"target (medians; loss is the total over the runs); idle: {a.idle} connections."
    )
    L.append("")
    for phase, title in (("r", f"Room, R={a.rate:g} messages/s"), ("flat", "Room, flat out")):
        rows = [(n, room[n][phase]) for n in room if phase in room[n]]
        if not rows:
            continue
        L.append(f"### {title}")
        L.append("")
        L.append(
            "| target | loss | p50 ms | p90 ms | p99 ms | max ms | deliveries/s | "
            "server CPU µs/delivery | peak RSS MB | server CPU | loader CPU (max) | "
            "injector CPU | bottleneck |"
        )
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for n, m in rows:
            L.append(
                f"| {TARGETS[n].label} | {m['loss_total']}/{m['expected_total']} | "
                f"{fmt(m['p50'], 2)} | {fmt(m['p90'], 2)} | {fmt(m['p99'], 2)} | "
                f"{fmt(m['max'], 1)} | {fmt(m['deliveries_per_s'], 0)} | "
                f"{fmt(m['cpu_us_per_delivery'])} | {fmt(m['peak_rss'] / 2**20)} | "
                f"{m['server_util']:.0%} | {m['loader_util']:.0%} | {m['injector_util']:.0%} | "
                f"{m['bottleneck']} |"
            )
        L.append("")
    if idle:
        L.append(f"### Idle: {a.idle} authenticated, joined connections")
        L.append("")
        L.append("| target | connections | server RSS growth per connection | RSS after |")
        L.append("|---|---|---|---|")
        for n, m in idle.items():
            L.append(
                f"| {TARGETS[n].label} | {m['connections']:.0f} | "
                f"{m['bytes_per_conn'] / 1024:.1f} KB | {m['rss_after'] / 2**20:.1f} MB |"
            )
        L.append("")
    # ratios
    lc = room.get("livechat", {})
    if lc:
        L.append("### Ratios livechat_ext / peer")
        L.append("")
        L.append(
            "| peer | CPU/delivery R | CPU/delivery flat | p99 R | deliveries/s flat | "
            "memory/idle connection |"
        )
        L.append("|---|---|---|---|---|---|")
        for p in PEERS:
            if p not in room:
                continue
            pr = room[p]
            mem = (
                ratio(idle["livechat"]["bytes_per_conn"], idle[p]["bytes_per_conn"])
                if "livechat" in idle and p in idle
                else "n/a"
            )
            L.append(
                f"| {TARGETS[p].label} | "
                f"{ratio(lc['r']['cpu_us_per_delivery'], pr['r']['cpu_us_per_delivery'])} | "
                f"{ratio(lc.get('flat', {}).get('cpu_us_per_delivery', float('nan')), pr.get('flat', {}).get('cpu_us_per_delivery', float('nan')))} | "  # noqa: E501
                f"{ratio(lc['r']['p99'], pr['r']['p99'])} | "
                f"{ratio(lc.get('flat', {}).get('deliveries_per_s', float('nan')), pr.get('flat', {}).get('deliveries_per_s', float('nan')))} | "  # noqa: E501
                f"{mem} |"
            )
        L.append("")
        L.append("### Targets")
        L.append("")
        L.extend(check_targets(res))
        L.append("")
    if res.get("two_workers_skipped"):
        L.append(f"Two-worker workload not run: {res['two_workers_skipped']}.")
        L.append("")
    return "\n".join(L)


def check_targets(res: dict[str, Any]) -> list[str]:
    room, idle = res["room"], res["idle"]
    out = []

    def line(ok: bool, text: str) -> None:
        out.append(f"- {'met' if ok else '**missed**'}: {text}")

    lc = room["livechat"]
    for phase in ("r", "flat"):
        if phase not in lc:
            continue
        c = lc[phase]["cpu_us_per_delivery"]
        tag = "R" if phase == "r" else "flat out"
        if "naive" in room:
            n = room["naive"][phase]["cpu_us_per_delivery"]
            line(c <= 1.0 * n, f"CPU/delivery ({tag}) ≤ 1.0× naive FastAPI: {c / n:.2f}×")
        if "sio" in room:
            s = room["sio"][phase]["cpu_us_per_delivery"]
            line(c <= 0.45 * s, f"CPU/delivery ({tag}) ≤ 0.45× python-socketio: {c / s:.2f}×")
        if "raw" in room:
            r = room["raw"][phase]["cpu_us_per_delivery"]
            line(c <= 1.5 * r, f"stretch: CPU/delivery ({tag}) ≤ 1.5× raw websockets: {c / r:.2f}×")
    if "raw" in room:
        p, rp = lc["r"]["p99"], room["raw"]["r"]["p99"]
        line(
            p <= 2 * rp,
            f"p99 at R ≤ 2× raw websockets' p99: {p:.1f} ms vs {rp:.1f} ms ({p / rp:.2f}×)",
        )
    line(lc["r"]["loss_total"] == 0, f"0 loss at R: {lc['r']['loss_total']} lost")
    if "livechat" in idle and "naive" in idle:
        m, n = idle["livechat"]["bytes_per_conn"], idle["naive"]["bytes_per_conn"]
        line(
            m <= n,
            f"memory per idle connection ≤ naive FastAPI: {m / 1024:.1f} KB vs "
            f"{n / 1024:.1f} KB ({m / n:.2f}×)",
        )
    if "livechat-2w" in room or "livechat-redis" in room:
        for name in ("livechat-redis", "livechat-2w"):
            if name in room:
                c, base = room[name]["r"]["cpu_us_per_delivery"], lc["r"]["cpu_us_per_delivery"]
                line(
                    c <= 1.3 * base,
                    f"{TARGETS[name].label}: CPU/delivery (R) ≤ 1.3× memory "
                    f"broker: {c / base:.2f}×",
                )
    if res.get("webhook"):
        w = res["webhook"]
        line(
            w["met"],
            f"100-event webhook of 100 new users answered ≤ 0.3 s: median "
            f"{w['median_s']:.3f} s, first after start {w['first_after_start_median_s']:.3f} s",
        )
    return out


def chart(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    room = res["room"]
    names = list(room)
    labels = [TARGETS[n].label.replace(", ", "\n").replace(" --ws ", "\n--ws ") for n in names]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 6))
    width = 0.2
    xs = range(len(names))
    for i, key in enumerate(("p50", "p90", "p99", "max")):
        vals = [room[n]["r"][key] for n in names]
        ax1.bar([x + (i - 1.5) * width for x in xs], vals, width, label=key)
    ax1.set_yscale("log")
    ax1.set_xticks(list(xs), labels, fontsize=7, rotation=20, ha="right")
    ax1.set_ylabel("ms (log)")
    ax1.set_title(
        f"Latency send→operator, R={res['args']['rate']:g}/s, {res['args']['operators']} operators"
    )
    ax1.legend()
    for i, phase in enumerate(("r", "flat")):
        vals = [room[n].get(phase, {}).get("cpu_us_per_delivery", 0) for n in names]
        bars = ax2.bar(
            [x + (i - 0.5) * 0.35 for x in xs],
            vals,
            0.35,
            label="R" if phase == "r" else "flat out",
        )
        ax2.bar_label(bars, fmt="%.0f", fontsize=7)
    ax2.set_xticks(list(xs), labels, fontsize=7, rotation=20, ha="right")
    ax2.set_ylabel("server CPU µs per delivery")
    ax2.set_title("Server CPU per delivery (lower is better)")
    ax2.legend()
    fig.suptitle(f"Fan-out benchmark {res['date']} ({res['machine']})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def package_version() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "livechat_ext"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return head + (" + uncommitted livechat_ext changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_readme(md: str) -> None:
    readme = BENCH / "README.md"
    if not readme.exists():
        return
    text = readme.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        readme.write_text(f"{head}{start}\n{md}\n{end}{tail}")


# main ----------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--targets",
        default="raw,naive,sio,livechat",
        help="room/idle targets, alternated A B A B (default: %(default)s)",
    )
    p.add_argument(
        "--ws-variants",
        action="store_true",
        help="add livechat_ext under uvicorn --ws websockets (legacy) and wsproto "
        "(uvicorn 0.54's auto is websockets-sansio)",
    )
    p.add_argument("--no-two-workers", action="store_true", help="skip the Redis workload")
    p.add_argument("--operators", "-N", type=int, default=200)
    p.add_argument("--rate", "-R", type=float, default=50.0)
    p.add_argument("--duration", type=float, default=8.0, help="seconds at rate R")
    p.add_argument("--flat-duration", type=float, default=5.0, help="seconds flat out; 0 = skip")
    p.add_argument("--window", type=int, default=4, help="messages in flight when flat out")
    p.add_argument("--idle", "-K", type=int, default=2000, help="idle connections; 0 = skip")
    p.add_argument("--idle-admins", type=int, default=20, help="distinct operators among them")
    p.add_argument("--idle-warm", type=int, default=40, help="connections before the baseline")
    p.add_argument("--loaders", type=int, default=2, help="loader processes")
    p.add_argument("--reps", type=int, default=2, help="alternating runs per target")
    p.add_argument("--drain", type=float, default=2.0)
    p.add_argument("--settle", type=float, default=1.0)
    p.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="seconds of unrecorded messages (20/s) before the phases",
    )
    p.add_argument(
        "--store-dir",
        help="where livechat_ext's SQLite files go (default: a temp "
        "dir on disk); /dev/shm takes fsync out of the picture",
    )
    p.add_argument(
        "--base",
        help="another checkout of this repository (say, a `git worktree` of the commit "
        "before a change): adds the target `livechat@base`, run side by side",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 1 rep, short phases")
    p.add_argument("--out", default=str(BENCH), help="where results.* go")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite bench/README.md")
    p.add_argument(
        "--connect-storm",
        action="store_true",
        help="also run bench/connect_storm.py (2000 operators connect at once)",
    )
    p.add_argument(
        "--webhook", action="store_true", help="also bench/webhook_batch.py (100-event webhooks)"
    )
    a = p.parse_args()
    if a.quick:
        a.reps, a.duration, a.flat_duration, a.idle = 1, 3.0, 2.0, min(a.idle, 500)

    global STORE_DIR
    STORE_DIR = a.store_dir
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    names = [n.strip() for n in a.targets.split(",") if n.strip()]
    if a.base:
        base = Path(a.base).resolve()
        TARGETS["livechat@base"] = Target(
            "livechat@base", "livechat", f"livechat_ext at {base.name} (base)", root=base
        )
        names.append("livechat@base")
    if a.ws_variants:
        names += ["livechat-websockets", "livechat-wsproto"]
    two: list[str] = []
    skipped = None
    if not a.no_two_workers:
        skipped = redis_ready()
        if skipped is None:
            two = ["livechat-redis", "livechat-2w"]
        else:
            print(f"two-worker workload skipped: {skipped}", flush=True)
    unknown = [n for n in names + two if n not in TARGETS]
    if unknown:
        p.error(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")

    tmp = Path(tempfile.mkdtemp(prefix="livechat-bench-"))
    started = time.monotonic()
    runs: dict[str, list[dict[str, Any]]] = {}
    idle_runs: dict[str, list[dict[str, Any]]] = {}
    webhook: dict[str, Any] | None = None
    order = names + two
    try:
        for rep in range(a.reps):
            print(f"round {rep + 1}/{a.reps}: room", flush=True)
            for n in order:  # A B A B: the same order every round
                try:
                    for r in run_room(TARGETS[n], a, tmp):
                        runs.setdefault(n, []).append(r)
                except RuntimeError as exc:  # one broken target must not lose the others
                    print(f"    {n}: FAILED: {str(exc)[-500:]}", flush=True)
            if a.idle > 0:
                print(f"round {rep + 1}/{a.reps}: idle", flush=True)
                for n in names:
                    if (
                        TARGETS[n].workers == 1
                        and TARGETS[n].broker.startswith("memory")
                        and n in ("raw", "naive", "sio", "livechat")
                    ):
                        idle_runs.setdefault(n, []).append(run_idle(TARGETS[n], a, tmp))
        if a.connect_storm:  # its own processes, its own report: connect_storm.json
            Path(a.out).mkdir(parents=True, exist_ok=True)
            storm = [
                PY,
                "-m",
                "bench.connect_storm",
                "--json",
                str(Path(a.out) / "connect_storm.json"),
            ]
            subprocess.run(storm, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)
        if a.webhook:  # a webhook of 100 new users answered in <= 0.3 s, first one included
            from bench import webhook_batch

            webhook = webhook_batch.main(["--store-dir", str(STORE_DIR or tmp)])
    finally:
        cleanup()
    room: dict[str, dict[str, Any]] = {}
    for n, rows in runs.items():
        for phase in ("r", "flat"):
            sel = [r for r in rows if r["phase"] == phase]
            if sel:
                room.setdefault(n, {})[phase] = median_rows(sel, ROOM_KEYS)
    idle = {
        n: median_rows(rows, ("connections", "bytes_per_conn", "rss_after", "peak_rss"))
        for n, rows in idle_runs.items()
    }
    res = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "args": vars(a),
        "package": package_version(),
        "room": room,
        "idle": idle,
        "runs": runs,
        "idle_runs": idle_runs,
        "two_workers_skipped": skipped,
        "webhook": webhook,
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    for rows in runs.values():
        for r in rows:
            r.pop("lat_ms", None)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1, default=str))
    md = report(res, a)
    (out / "results.md").write_text(md + "\n")
    chart(res, out / "results.png")
    if not a.no_readme and out.resolve() == BENCH.resolve():
        write_readme(md)
    print()
    print(md)
    print(f"\n{res['minutes']} min; results in {out}", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
