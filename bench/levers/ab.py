"""A/B/A/B of two checkouts on the fan-out side (issue 14), small enough to run
on a shared machine. Every figure is CPU time or memory, never wall time.

    python bench/levers/ab.py --a /tmp/base --b . --modes probe,idle,room --reps 2

- probe: 200 operators joined (real uvicorn, real sockets, bench loaders); the
  server hands a message_received frame to the room with `Hub.deliver` in a
  request (probe_server.py) and reports that thread's CPU time: µs per
  delivery of the fan-out alone, from the hub to `transport.write`.
- room: the bench's R=50 webhook workload (bench/run.py room_phase): server
  process CPU µs per delivery, p50/p99.
- idle: K idle authenticated, joined connections (bench/run.py run_idle's
  recipe): RSS growth per connection and gc-tracked objects per connection.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench import run as R  # noqa: E402


def start(root: Path, tmp: Path, name: str, ws: str = "auto", guard: bool = False):  # type: ignore[no-untyped-def]
    port = R.free_port()
    db = tmp / f"{name}-{time.monotonic_ns()}.db"
    args = [
        str(HERE / "probe_server.py"),
        "--port",
        str(port),
        "--store-url",
        f"sqlite+aiosqlite:///{db}",
        "--ws",
        ws,
        *(["--guard"] if guard else []),
    ]
    proc = R.spawn(args, tmp / f"server-{name}.log", root=root)
    R.wait_port(port, proc)
    target = R.Target(name, "livechat", name, root=root)
    return R.Session(target, [proc], [port])


def get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return json.loads(r.read())


def probe(s, a) -> dict:  # type: ignore[no-untyped-def]
    port = s.ports[0]
    get(port, "/bench/fanout?n=5")  # warm
    ns = dels = 0
    c0 = R.cpu(s.servers[0])
    for _ in range(a.probe_rounds):
        r = get(port, f"/bench/fanout?n={a.probe_n}")
        ns += r["ns"]
        dels += r["deliveries"]
        time.sleep(0.05)
    c1 = R.cpu(s.servers[0])
    calls = get(port, "/bench/calls")
    return {
        "deliver_us": ns / 1e3 / dels,
        "proc_us": (c1 - c0) * 1e6 / dels,
        "deliveries": dels,
        **calls,
    }


def one(root: Path, name: str, mode: str, a, tmp: Path) -> dict:  # type: ignore[no-untyped-def]
    s = start(root, tmp, name, a.ws_b if name == "B" else "auto", a.guard_b and name == "B")
    try:
        if mode == "idle":
            warm = a.idle_warm
            R.start_loaders(s, a, tmp, a.idle, admins=a.idle_admins, warm=warm)
            for proc in s.loaders:
                R.read_line(proc, "WARM")
            time.sleep(1.0)
            m0 = get(s.ports[0], "/bench/mem")
            before = R.rss(s.servers[0])
            for proc in s.loaders:
                R.tell(proc, "go")
            R.wait_ready(s)
            time.sleep(2.0)
            after = R.rss(s.servers[0])
            m1 = get(s.ports[0], "/bench/mem")
            n = s.clients - (warm // a.loaders) * a.loaders
            return {
                "kb_per_conn": (after - before) / n / 1024,
                "objs_per_conn": (m1["objects"] - m0["objects"]) / n,
                "conns": s.clients,
            }
        R.start_loaders(s, a, tmp, a.operators, admins=a.operators)
        R.wait_ready(s)
        time.sleep(a.settle)
        if mode == "probe":
            return probe(s, a)
        R.warm_up(s, a)
        get(s.ports[0], "/bench/gc")  # resets the pause record
        r = R.room_phase(s, a, "r", a.rate, a.duration)
        out = {k: r[k] for k in ("cpu_us_per_delivery", "p50", "p99", "max", "loss")}
        g = get(s.ports[0], "/bench/gc")
        gc_ms = sum(g[k]["sum_ms"] for k in "012")
        out.update(gc2=g["2"]["n"], gc2_ms=g["2"]["max_ms"], gc_ms=gc_ms)
        return out
    finally:
        R.close_session(s)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--a", required=True)
    p.add_argument("--b", required=True)
    p.add_argument("--modes", default="probe,idle,room")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--operators", "-N", type=int, default=200)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--idle", type=int, default=2000)
    p.add_argument("--idle-admins", type=int, default=20)
    p.add_argument("--idle-warm", type=int, default=40)
    p.add_argument("--loaders", type=int, default=2)
    p.add_argument("--probe-n", type=int, default=20)
    p.add_argument("--probe-rounds", type=int, default=40)
    p.add_argument("--ws-b", default="auto", help="uvicorn --ws of side B")
    p.add_argument(
        "--guard-b",
        action="store_true",
        help="side B's app puts a (no-op) dependency on its routes: the guarded endpoint",
    )
    p.add_argument("--naive", action="store_true", help="idle: also the naive FastAPI peer")
    a = p.parse_args()
    a.drain, a.settle, a.warmup, a.window = 2.0, 1.0, 1.0, 4
    R.atexit.register(R.cleanup)
    tmp = Path(tempfile.mkdtemp(prefix="fanout-ab-"))
    roots = {"A": Path(a.a).resolve(), "B": Path(a.b).resolve()}
    res: dict[str, dict[str, list[dict]]] = {}
    for mode in a.modes.split(","):
        for rep in range(a.reps):
            if mode == "idle" and a.naive:
                r = R.run_idle(R.TARGETS["naive"], a, tmp)
                r = {"kb_per_conn": r["bytes_per_conn"] / 1024, "conns": r["connections"]}
                res.setdefault(mode, {}).setdefault("naive", []).append(r)
                print(mode, rep, "naive", json.dumps(r), flush=True)
            for name, root in roots.items():
                r = one(root, name, mode, a, tmp)
                res.setdefault(mode, {}).setdefault(name, []).append(r)
                print(
                    mode,
                    rep,
                    name,
                    json.dumps(
                        {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
                    ),
                    flush=True,
                )
    print("medians:")
    for mode, by in res.items():
        for name, rows in by.items():
            keys = rows[0].keys()
            med = {k: round(statistics.median(r[k] for r in rows), 2) for k in keys}
            print(" ", mode, name, json.dumps(med))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
