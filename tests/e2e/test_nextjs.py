"""examples/nextjs as it runs: `next build` + `next start` (and `next dev`, where
React's strict mode mounts every effect twice) in front of `livechat-ext demo`
in another process, driven in Chromium. The admin signs in with the example's
own login, whose route handler mints the plugin's token."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from livechat_ext.settings import DEMO_CHANNEL_SECRET
from livechat_ext.simulator.webhooks import signed_webhook, text_message_event
from tests.conftest import free_port
from tests.e2e.conftest import DemoServer, _need_browser
from tests.e2e.next_app import NextServer, build_example

# Chromium reports a socket or a request that cannot connect as a console
# error; while the plugin is down (or the page offline) that is expected.
WHILE_DOWN = re.compile(
    r"WebSocket connection to .* failed|net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED)"
)


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"start": free_port(), "dev": free_port()}


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory, ports: dict[str, int]) -> Iterator[DemoServer]:
    """The demo, allowing the Next.js app's origins as a host would."""
    _need_browser()
    origins = ",".join(f"http://127.0.0.1:{p}" for p in ports.values())
    data = tmp_path_factory.mktemp("plugin")
    server = DemoServer(free_port(), data, env={"LIVECHAT_ALLOWED_ORIGINS": origins}).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def built() -> None:
    _need_browser()
    build_example()


def serve(mode: str, port: int, plugin: DemoServer, logs: Path) -> Iterator[NextServer]:
    server = NextServer(mode, port, plugin.base, logs / f"next-{mode}.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def next_start(
    built: None, plugin: DemoServer, ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NextServer]:
    yield from serve("start", ports["start"], plugin, tmp_path_factory.mktemp("next"))


@pytest.fixture(scope="module")
def next_dev(
    built: None, plugin: DemoServer, ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NextServer]:
    yield from serve("dev", ports["dev"], plugin, tmp_path_factory.mktemp("next"))


class Admin:
    """Signed-in admin pages, each in its own browser context, with every console
    error and warning, uncaught error and WebSocket the page makes recorded."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.contexts: list[Any] = []
        self.problems: list[str] = []
        self.allowed: re.Pattern[str] | None = None
        self.sockets: dict[Any, list[str]] = {}

    def _console(self, page: Any, message: Any) -> None:
        if message.type not in ("error", "warning"):
            return
        if self.allowed is not None and self.allowed.search(message.text):
            return
        self.problems.append(f"{page.url} console.{message.type}: {message.text}")

    def _socket(self, page: Any, url: str) -> None:
        if "/ws/live-chat" in url:  # not `next dev`'s hot reload socket
            self.sockets[page].append(url)

    def open(self, server: NextServer, user: str = "alice") -> Any:
        from playwright.sync_api import expect

        context = self.browser.new_context(viewport={"width": 1200, "height": 800})
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        self.sockets[page] = []
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.problems.append(f"{page.url} uncaught: {error}"))
        page.on("websocket", lambda ws: self._socket(page, ws.url))
        page.goto(f"{server.base}/admin/live-chat")
        expect(page).to_have_url(re.compile(r"/login$"))  # the admin's own login first
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", f"{user}-demo")
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/admin/live-chat$"))
        connected(page)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def admin(browser: Any) -> Iterator[Admin]:
    pages = Admin(browser)
    try:
        yield pages
    finally:
        pages.close()
    assert pages.problems == [], pages.problems


def connected(page: Any) -> None:
    selector = "[data-testid=connection][data-state=connected]"
    page.wait_for_selector(selector, state="attached", timeout=30_000)


def open_conversation(page: Any, name: str) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("conversation").filter(has_text=name).click()
    expect(page.get_by_test_id("conversation-name")).to_have_text(name)


def send(page: Any, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("composer").press("Enter")


def message(page: Any, text: str, status: str | None = None) -> Any:
    selector = "[data-testid=message]"
    if status is not None:
        selector += f"[data-status={status}]"
    return page.locator(selector, has_text=text)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling an HTTP endpoint of the plugin


def pushed_texts(plugin: DemoServer, user: str) -> list[str]:
    pushes = plugin.get("/fake-line/_fake/pushes")
    return [m.get("text") for p in pushes if p.get("to") == user for m in p["messages"]]


def connections(plugin: DemoServer) -> int:
    return int(plugin.get("/live-chat/health")["connections"])


def auth_frames(plugin: DemoServer) -> float:
    with urllib.request.urlopen(f"{plugin.base}/live-chat/metrics", timeout=5) as r:
        text = r.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "livechat_frames_in_total" and sample.labels.get("type") == "auth":
                return sample.value
    return 0.0


def webhook_says(plugin: DemoServer, user: str, text: str) -> None:
    """What LINE posts when `user` writes: signed, straight to the plugin's webhook."""
    body, headers = signed_webhook([text_message_event(user, text)], DEMO_CHANNEL_SECRET)
    request = urllib.request.Request(f"{plugin.base}/line/webhook", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as r:
        assert r.status == 200


def test_a_line_message_appears_and_the_reply_reaches_line(
    admin: Admin, next_start: NextServer, plugin: DemoServer
) -> None:
    from playwright.sync_api import expect

    user = plugin.new_user("Pat")
    plugin.say(user, "Hello from LINE")
    page = admin.open(next_start)  # the list comes from the REST API, cross-origin (CORS)
    open_conversation(page, "Pat")
    expect(message(page, "Hello from LINE")).to_have_count(1)
    plugin.say(user, "Are you there?")  # and this one live
    expect(message(page, "Are you there?")).to_have_count(1)

    send(page, "Hi Pat, how can I help?")
    expect(message(page, "Hi Pat, how can I help?", "sent")).to_have_count(1)
    wait_until(lambda: "Hi Pat, how can I help?" in pushed_texts(plugin, user), "the push to LINE")
    assert pushed_texts(plugin, user).count("Hi Pat, how can I help?") == 1
    assert admin.sockets[page] == [f"ws://127.0.0.1:{plugin.port}/ws/live-chat"]


def test_strict_mode_opens_one_socket_per_tab(
    admin: Admin, next_dev: NextServer, plugin: DemoServer
) -> None:
    """`next dev`: React's strict mode mounts, unmounts and mounts every effect.
    Two operators, one tab each: one socket each (counted by the browser and by
    the server), and presence, typing and notifications between them."""
    from playwright.sync_api import expect

    wait_until(lambda: connections(plugin) == 0, "the earlier tests' sockets to close")
    auths_before = auth_frames(plugin)
    alice = admin.open(next_dev, "alice")
    bob = admin.open(next_dev, "bob")
    for page in (alice, bob):
        assert admin.sockets[page] == [f"ws://127.0.0.1:{plugin.port}/ws/live-chat"]
    wait_until(lambda: connections(plugin) == 2, "two sockets on the server")
    assert auth_frames(plugin) - auths_before == 2
    # by the names the example's login puts in the tokens (presence carries them)
    expect(alice.get_by_test_id("presence")).to_contain_text("Bob")
    expect(bob.get_by_test_id("presence")).to_contain_text("Alice")

    user = plugin.new_user("Kim")
    plugin.say(user, "Anyone there?")
    for page in (alice, bob):  # nobody has Kim open: a notification
        expect(page.get_by_test_id("notifications").locator(".toast")).not_to_have_count(0)
        open_conversation(page, "Kim")
        expect(message(page, "Anyone there?")).to_have_count(1)
    bob.get_by_test_id("composer").press_sequentially("Let me check")
    expect(alice.get_by_test_id("typing")).to_contain_text("Bob")
    assert connections(plugin) == 2
    assert [len(admin.sockets[p]) for p in (alice, bob)] == [1, 1]


def test_a_plugin_restart_is_survived_with_catch_up(
    admin: Admin, next_start: NextServer, plugin: DemoServer
) -> None:
    """The plugin is killed; a reply written meanwhile waits in the offline queue;
    a LINE message arrives before the page is back (it is offline then): after
    the reconnect the page catches up on it and the queued reply goes to LINE once."""
    from playwright.sync_api import expect

    page = admin.open(next_start)
    user = plugin.new_user("Yuki")
    plugin.say(user, "Before the restart")
    open_conversation(page, "Yuki")
    expect(message(page, "Before the restart")).to_have_count(1)

    admin.allowed = WHILE_DOWN
    plugin.kill()
    banner = page.get_by_test_id("connection")
    expect(banner).to_have_attribute("data-state", "reconnecting")
    send(page, "Queued while the plugin was down")
    expect(message(page, "Queued while the plugin was down", "queued")).to_have_count(1)
    expect(banner).to_contain_text("1 message queued")

    page.context.set_offline(True)
    plugin.start()  # same port, same store
    webhook_says(plugin, user, "Written while the page was away")
    assert connections(plugin) == 0, "the page is offline: what it missed comes by catch-up"
    page.context.set_offline(False)

    expect(message(page, "Written while the page was away")).to_have_count(1, timeout=40_000)
    expect(message(page, "Queued while the plugin was down", "sent")).to_have_count(1)
    expect(banner).to_have_attribute("data-state", "connected")
    queued = "Queued while the plugin was down"
    wait_until(lambda: queued in pushed_texts(plugin, user), "the queued push")
    assert pushed_texts(plugin, user).count(queued) == 1
    assert connections(plugin) == 1
