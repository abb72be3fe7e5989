"""py-spy the probe route (the fan-out alone) of one checkout: python spy_probe.py ROOT OUT."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ab

R = ab.R


def main() -> None:
    root, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    a = type("A", (), dict(loaders=2, operators=200, settle=1.0))()
    tmp = Path(tempfile.mkdtemp(prefix="fanout-spy-"))
    R.atexit.register(R.cleanup)
    s = ab.start(root, tmp, "spy")
    try:
        R.start_loaders(s, a, tmp, 200, admins=200)
        R.wait_ready(s)
        time.sleep(1)
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "-p",
                str(s.servers[0].pid),
                "-r",
                "500",
                "-f",
                "raw",
                "-o",
                str(out),
                "-d",
                "12",
                "--nonblocking",
            ]
        )
        time.sleep(1)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            ab.get(s.ports[0], "/bench/fanout?n=20")
        spy.wait()
    finally:
        R.close_session(s)


if __name__ == "__main__":
    main()
