"""Profile one target's server under the room workload with py-spy.

    python bench/profile.py                       # livechat_ext, R=50, 200 operators
    python bench/profile.py --rate 0 --ws wsproto # flat out, another uvicorn ws stack

Writes bench/profiles/<name>.svg (flame graph) and <name>.txt (the hottest
functions, own time and total time, from py-spy's collapsed stacks).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import run as R  # noqa: E402


def summarize(collapsed: Path, out: Path, top: int = 45) -> None:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        count = int(n)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for f in set(frames):
            total[f] += count
    lines = [f"{samples} samples", "", "own time:"]
    lines += [f"{100 * c / samples:6.1f}%  {f}" for f, c in own.most_common(top)]
    lines += ["", "total time (inclusive):"]
    lines += [f"{100 * c / samples:6.1f}%  {f}" for f, c in total.most_common(top)]
    out.write_text("\n".join(lines) + "\n")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--target", default="livechat", choices=list(R.TARGETS))
    p.add_argument("--ws", help="override the uvicorn ws implementation")
    p.add_argument("--operators", "-N", type=int, default=200)
    p.add_argument("--rate", "-R", type=float, default=50.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--window", type=int, default=4)
    p.add_argument("--loaders", type=int, default=2)
    p.add_argument("--rate-hz", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--name")
    p.add_argument("--native", action="store_true", help="py-spy --native: C frames too")
    p.add_argument("--server", type=int, default=0, help="which server (livechat-2w: 0 or 1)")
    a = p.parse_args()
    a.drain, a.settle, a.warmup = 2.0, 1.0, 1.0
    target = R.TARGETS[a.target]
    if a.ws:
        target = R.Target(
            f"{target.name}-{a.ws}",
            target.kind,
            target.label,
            ws=a.ws,
            broker=target.broker,
            workers=target.workers,
        )
    name = a.name or f"{target.name}-{'flat' if a.rate <= 0 else f'r{a.rate:g}'}"
    outdir = R.BENCH / "profiles"
    outdir.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="livechat-prof-"))
    R.atexit.register(R.cleanup)
    servers, ports = target.start(tmp)
    s = R.Session(target, servers, ports)
    spies = []
    try:
        R.start_loaders(s, a, tmp, a.operators, admins=a.operators)
        R.wait_ready(s)
        time.sleep(a.settle)
        R.warm_up(s, a)
        raw = tmp / "stacks.txt"
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(servers[a.server].pid),
                "--rate",
                str(a.rate_hz),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--duration",
                str(int(a.duration + 1)),
                # --native pauses the process for each sample (py-spy needs it)
                *(["--native"] if a.native else ["--nonblocking"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        spies.append(spy)
        time.sleep(0.5)
        r = R.room_phase(s, a, "p", a.rate, a.duration)
        spy.wait(30)
        print(
            f"{name}: loss {r['loss']} p50 {r['p50']:.2f} p99 {r['p99']:.2f} ms, "
            f"{r['cpu_us_per_delivery']:.1f} us/delivery, server {r['server_util']:.0%}"
        )
        if raw.exists():
            summarize(raw, outdir / f"{name}.txt")
            subprocess.run(["py-spy", "--version"], capture_output=True)
            # a flame graph from the same stacks, if the inferno-style script is absent
            # py-spy cannot convert: keep the collapsed stacks next to the summary
            (outdir / f"{name}.collapsed").write_text(raw.read_text())
            print(f"wrote {outdir / (name + '.txt')}")
        else:
            print("py-spy wrote nothing:", spy.stderr.read().decode() if spy.stderr else "")
    finally:
        for spy in spies:
            if spy.poll() is None:
                spy.kill()
                spy.wait()
        R.close_session(s)
        R.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
