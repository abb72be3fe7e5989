"""examples/nextjs for the browser tests: installed with `npm ci` (the client
package copied from livechat_ext/static, as a packed tarball installs), built
with `next build` once per session, and served by `next start` or `next dev`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from livechat_ext.settings import DEMO_JWT_SECRET
from tests.npm import ROOT, npm_ci

EXAMPLE = ROOT / "examples" / "nextjs"
STATIC = ROOT / "livechat_ext" / "static"
BUILD_TIMEOUT = 600.0
START_TIMEOUT = 120.0  # `next dev` compiles the first page it is asked for


def package_sources() -> list[Path]:
    """The files of the client package: a change reinstalls the example's copy."""
    return [*STATIC.glob("*.js"), *STATIC.glob("*.d.ts"), STATIC / "package.json"]


def next_command(*args: str) -> list[str]:
    return [str(EXAMPLE / "node_modules" / ".bin" / "next"), *args]


def quiet_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "NEXT_TELEMETRY_DISABLED": "1", **extra}


def build_example() -> None:
    """`npm ci` (when the lockfile or the client changed) and `next build`."""
    npm_ci(EXAMPLE, package_sources())
    result = subprocess.run(
        next_command("build"),
        cwd=EXAMPLE,
        env=quiet_env({}),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"next build failed:\n{result.stdout}\n{result.stderr}"


class NextServer:
    """`next start` (the production build) or `next dev` (React's strict mode
    mounts effects twice) on a port, pointed at the plugin at `plugin_url`."""

    def __init__(self, mode: str, port: int, plugin_url: str, log: Path) -> None:
        self.mode = mode
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.plugin_url = plugin_url
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NextServer:
        env = quiet_env(
            {
                "LIVECHAT_URL": self.plugin_url,
                "LIVECHAT_JWT_SECRET": DEMO_JWT_SECRET,
                "SESSION_SECRET": "session-secret-of-the-e2e-test-0123456789",
            }
        )
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                next_command(self.mode, "-p", str(self.port), "-H", "127.0.0.1"),
                cwd=EXAMPLE,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `next dev` has a child
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"next {self.mode} exited:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.base}/login", timeout=30) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)  # readiness probe interval
        self.stop()
        raise RuntimeError(
            f"next {self.mode} did not serve /login in {START_TIMEOUT} s:\n{self.output()}"
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)  # the group this server was started in
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
