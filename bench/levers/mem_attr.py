"""Where an idle connection's Python memory goes: tracemalloc snapshots of the
probe server before and after K idle connections. python mem_attr.py ROOT [K]"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ab

R = ab.R


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    a = type("A", (), dict(loaders=1, operators=k, settle=1.0))()
    tmp = Path(tempfile.mkdtemp(prefix="fanout-mem-"))
    R.atexit.register(R.cleanup)
    s = ab.start(root, tmp, "mem")
    try:
        R.start_loaders(s, a, tmp, k, admins=20, warm=20)
        R.read_line(s.loaders[0], "WARM")
        time.sleep(1)
        ab.get(s.ports[0], f"/bench/snap?path={tmp}/s0")
        R.tell(s.loaders[0], "go")
        R.wait_ready(s)
        time.sleep(2)
        ab.get(s.ports[0], f"/bench/snap?path={tmp}/s1")
    finally:
        R.close_session(s)
    s0 = tracemalloc.Snapshot.load(f"{tmp}/s0")
    s1 = tracemalloc.Snapshot.load(f"{tmp}/s1")
    n = k - 20
    total = sum(d.size_diff for d in s1.compare_to(s0, "filename"))
    print(f"python-allocated per connection: {total / n:.0f} B")
    for d in s1.compare_to(s0, "lineno")[:40]:
        if d.size_diff / n < 20:
            continue
        f = d.traceback[0]
        where = f"{f.filename.split('site-packages/')[-1]}:{f.lineno}"
        print(f"{d.size_diff / n:7.0f} B {d.count_diff / n:5.1f} blk  {where}")
    print("--- by the innermost livechat_ext frame of the allocation (or the outermost frame)")
    groups: dict[str, list[float]] = {}
    for d in s1.compare_to(s0, "traceback"):
        ours = [f for f in d.traceback if "livechat_ext" in f.filename]
        # tracemalloc tracebacks are most recent last
        key = (
            f"{ours[-1].filename.split('/')[-1]}:{ours[-1].lineno}"
            if ours
            else "framework: "
            + d.traceback[-1].filename.split("site-packages/")[-1]
            + f":{d.traceback[-1].lineno}"
        )
        g = groups.setdefault(key, [0.0, 0.0])
        g[0] += d.size_diff / n
        g[1] += d.count_diff / n
    for key, (size, count) in sorted(groups.items(), key=lambda kv: -kv[1][0])[:45]:
        if abs(size) >= 16:
            print(f"{size:7.0f} B {count:5.1f} blk  {key}")
    print("--- by file")
    for d in s1.compare_to(s0, "filename")[:25]:
        f = d.traceback[0]
        print(f"{d.size_diff / n:7.0f} B  {f.filename.split('site-packages/')[-1]}")


if __name__ == "__main__":
    main()
