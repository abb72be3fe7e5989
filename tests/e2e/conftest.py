"""Fixtures for the browser tests: the demo as a real subprocess and headless Chromium.

Each test that needs them skips locally (and fails under CI=true) when Chromium
or Playwright is missing."""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, need

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CONSOLE_URL = re.compile(r"operator console\s*:\s*(\S+)")
START_TIMEOUT = 20.0


class DemoServer:
    """`livechat-ext demo` in a subprocess, on a fixed port and data folder so it
    can be restarted with its state."""

    def __init__(
        self,
        port: int,
        data_dir: Path,
        store_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.data_dir = data_dir
        self.store_url = store_url
        self.env = env or {}
        self.fresh = False
        self.base = f"http://127.0.0.1:{port}"
        self.console_url = ""
        self.token = ""
        self.proc: subprocess.Popen[str] | None = None
        self._pump_thread: threading.Thread | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []

    def start(self) -> DemoServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECHAT_")}
        env.update(PYTHONUNBUFFERED="1", LIVECHAT_DATA_DIR=str(self.data_dir))
        env.update(self.env)
        self._lines = queue.Queue()
        self.output = []
        args = ["--port", str(self.port)]
        if self.store_url:
            args += ["--store-url", self.store_url]
        if self.fresh:
            args.append("--fresh")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "livechat_ext.cli", "demo", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._pump_thread = threading.Thread(
            target=self._pump, args=(self.proc, self._lines), daemon=True
        )
        self._pump_thread.start()
        self._read_console_url()
        self._wait_healthy()
        return self

    @staticmethod
    def _pump(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def _read_console_url(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
            if match := CONSOLE_URL.search(line):
                self.console_url = match.group(1)
                self.token = self.console_url.split("#token=", 1)[1]
                return
        self.stop()
        raise RuntimeError("the demo printed no console URL:\n" + "".join(self.output))

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError("the demo exited:\n" + "".join(self.output))
            try:
                with urllib.request.urlopen(f"{self.base}/live-chat/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)  # readiness probe interval
        self.stop()
        raise RuntimeError(f"the demo did not answer /live-chat/health within {START_TIMEOUT} s")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, sockets drop as in a crash."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if self._pump_thread is not None:
            self._pump_thread.join(timeout=5)  # EOF once the process is gone
        if proc.stdout is not None:
            proc.stdout.close()

    stop = kill

    def interrupt(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        """Send `sig` (Ctrl+C is SIGINT) and wait for the demo to end by itself:
        its exit code and everything it printed."""
        proc = self.proc
        assert proc is not None
        proc.send_signal(sig)
        code = proc.wait(timeout=20)
        while True:  # the pump ends the lines with None at EOF
            try:
                line = self._lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
        if proc.stdout is not None:
            proc.stdout.close()
        return code, "".join(self.output)

    def get(self, path: str, token: str | None = None) -> Any:
        request = urllib.request.Request(f"{self.base}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=5) as r:
            return json.loads(r.read())

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            return json.loads(r.read())

    def new_user(self, name: str) -> str:
        """A LINE user in the simulator (it follows the account); returns the user id."""
        return str(self.post("/live-chat/simulator/api/users", {"display_name": name})["user_id"])

    def say(self, user_id: str, text: str) -> None:
        body = {"type": "text", "text": text}
        self.post(f"/live-chat/simulator/api/users/{user_id}/messages", body)

    def sticker(self, user_id: str, package_id: str, sticker_id: str) -> None:
        self.post(
            f"/live-chat/simulator/api/users/{user_id}/messages",
            {"type": "sticker", "package_id": package_id, "sticker_id": sticker_id},
        )


AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG A/AA and best practices).

    axe comes from tests/e2e/package.json (`npm ci` in tests/e2e); it is
    evaluated through Playwright, which the pages' Content-Security-Policy
    does not block, as an inline script would be."""
    need(AXE_JS.exists(), f"axe-core is not installed: run `npm ci` in {AXE_JS.parents[2]}")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_JS.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map((v) => ({id: v.id, help: v.help,
                          nodes: v.nodes.map((n) => n.target.join(' '))}))"""
    )
    return found


def _need_browser() -> None:
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} is not installed")
    need(
        importlib.util.find_spec("playwright") is not None,
        "Playwright for Python is not installed (pip install playwright)",
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


# Playwright's init scripts run whatever the page's Content-Security-Policy says
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
});
"""


@pytest.fixture
def pages(browser: Any) -> Iterator[Any]:
    """Opens pages in fresh browser contexts, closed afterwards; an uncaught
    script error or a Content-Security-Policy violation on any page fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def on_console(page: Any, message: Any) -> None:
        if message.type == "error" and (
            "CSP violation" in message.text or "Content Security Policy" in message.text
        ):
            errors.append(f"{page.url}: {message.text}")

    def open_page(url: str, width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        context.set_default_timeout(15_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: on_console(page, message))
        page.goto(url)
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
    assert errors == [], errors


def start_demo(tmp_dir: Path) -> DemoServer:
    return DemoServer(free_port(), tmp_dir).start()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """One demo shared by the tests of a module that do not restart it."""
    _need_browser()
    server = start_demo(tmp_path_factory.mktemp("demo"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_demo(tmp_path: Path) -> Iterator[DemoServer]:
    """A demo of its own, for a test that kills and restarts it."""
    _need_browser()
    server = start_demo(tmp_path)
    try:
        yield server
    finally:
        server.stop()


__all__ = ["SCREENSHOTS", "DemoServer", "axe_violations", "start_demo"]
