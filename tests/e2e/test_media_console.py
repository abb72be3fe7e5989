"""Media and stickers (issue 13, PROTOCOL 1.1 "Media and stickers") in headless Chromium,
against `livechat-ext demo` as a real subprocess.

Two kinds of tests:

- the console's side alone: the page's WebSocket goes through Playwright
  (`route_web_socket`), which adds messages whose `content_url` points to a
  same-origin path that the test answers (`page.route`): 202 while "not fetched",
  410 "unsent", 200 with a real PNG. The page's Content-Security-Policy applies
  as usual (same origin), and the `pages` fixture fails the test on any violation.
- the whole path: the simulator's phone sends a photo and a PDF through
  `POST /api/users/{id}/media`, the operator sends a sticker, and each side shows
  what the other sent.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import DemoServer, axe_violations
from tests.e2e.test_console import has_class, open_conversation, simulator_user

MEDIA = "/live-chat/e2e-media/"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour (zlib and struct: no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


class WsTap:
    """The console's WebSocket, passed through Playwright: records the page's frames,
    can add server frames, and can answer some client frames itself."""

    def __init__(self) -> None:
        self.page_side: Any = None
        self.server_side: Any = None
        self.sent: list[dict[str, Any]] = []
        # while holding, the page's frames wait here instead of reaching the server
        self.holding = False
        self._held: list[tuple[Any, str | bytes]] = []
        self.connections = 0
        # a client frame for which this returns an answer (a list of frames) stays here
        self.answer: Callable[[dict[str, Any]], list[dict[str, Any]] | None] = lambda f: None

    def handle(self, ws: Any) -> None:
        self.page_side = ws
        self.connections += 1
        server = ws.connect_to_server()
        self.server_side = server

        def from_page(message: str | bytes) -> None:
            if self.holding:
                self._held.append((server, message))
                return
            frame = json.loads(message)
            self.sent.append(frame)
            answers = self.answer(frame)
            if answers is None:
                server.send(message)
                return
            for answer in answers:
                ws.send(json.dumps(answer))

        ws.on_message(from_page)
        server.on_message(lambda message: ws.send(message))

    def release(self) -> None:
        """Stop holding: the held frames go on, in order."""
        self.holding = False
        held, self._held = self._held, []
        for server, message in held:
            frame = json.loads(message)
            self.sent.append(frame)
            answers = self.answer(frame)
            if answers is None:
                server.send(message)
            else:
                for answer in answers:
                    self.page_side.send(json.dumps(answer))

    def to_page(self, type_: str, payload: dict[str, Any]) -> None:
        assert self.page_side is not None, "the console has not connected yet"
        self.page_side.send(json.dumps({"type": type_, "payload": payload, "timestamp": now()}))

    def frames(self, type_: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f.get("type") == type_]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tapped_console(pages: Any, demo: DemoServer, width: int = 1280) -> tuple[Any, WsTap]:
    tap = WsTap()
    page = pages("about:blank", width=width, height=800)
    page.route_web_socket(re.compile(r"/ws/live-chat"), tap.handle)
    page.goto(demo.console_url)
    page.wait_for_selector("#conn-dot[data-state=connected]")
    return page, tap


# the messages the test adds have seqs far above the real ones: marking them read
# is answered here, not by the server, which has never seen them
INJECTED_SEQ = 900


def skip_marks_of_injected(frame: dict[str, Any]) -> list[dict[str, Any]] | None:
    if frame.get("type") == "mark_read" and frame["payload"].get("seq", 0) >= INJECTED_SEQ:
        return []
    return None


def inbound(user_id: str, seq: int, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"e2e-{seq}",
        "line_user_id": user_id,
        "seq": seq,
        "rev": seq,
        "direction": "inbound",
        "sender": {"type": "user", "id": user_id},
        "kind": kind,
        "text": None,
        "data": data,
        "status": "received",
        "client_msg_id": None,
        "created_at": now(),
    }


class ContentServer:
    """Same-origin content URLs answered by the test: a script of statuses per path."""

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.script: dict[str, Callable[[int], tuple[int, bytes, str]]] = {}

    def handle(self, route: Any) -> None:
        path = route.request.url.split(MEDIA, 1)[1]
        count = self.requests.get(path, 0) + 1
        self.requests[path] = count
        status, body, content_type = self.script[path](count)
        route.fulfill(
            status=status,
            body=body,
            headers={"Content-Type": content_type, "Cache-Control": "no-store"},
        )


def content_server(page: Any) -> ContentServer:
    server = ContentServer()
    page.route(re.compile(re.escape(MEDIA)), server.handle)
    return server


def chat_with(demo: DemoServer, console: Any, name: str) -> str:
    user = demo.new_user(name)
    demo.say(user, f"hi, {name} here")
    open_conversation(console, name)
    return user


def test_a_photo_loads_after_202_shows_inline_and_opens_a_larger_view(
    pages: Any, demo: DemoServer
) -> None:
    from playwright.sync_api import expect

    console, tap = tapped_console(pages, demo)
    tap.answer = skip_marks_of_injected
    content = content_server(console)
    preview, full = png(120, 90, (30, 144, 255)), png(800, 600, (255, 140, 0))
    not_yet = (202, b'{"detail": "not fetched yet"}', "application/json")
    # the preview answers 202 twice (the <img>, then the console's look), then the photo
    content.script["p1-preview.png"] = lambda n: not_yet if n <= 2 else (200, preview, "image/png")
    content.script["p1.png"] = lambda n: (200, full, "image/png")
    user = chat_with(demo, console, "Hana")

    tap.to_page(
        "message_received",
        {
            "message": inbound(
                user,
                INJECTED_SEQ,
                "image",
                {"content_url": f"{MEDIA}p1.png", "preview_url": f"{MEDIA}p1-preview.png"},
            )
        },
    )
    photo = console.locator("#thread .msg.in .media-image")
    expect(photo).to_have_attribute("data-state", "pending")
    expect(photo.locator(".media-status")).to_contain_text("Loading photo")
    expect(photo).to_have_attribute("data-state", "ready")  # looked again after a second
    thumb = photo.locator("button.media-open img")
    assert thumb.evaluate("(img) => img.naturalWidth") == 120
    assert content.requests["p1-preview.png"] == 3

    opener = photo.locator("button.media-open")
    opener.focus()
    console.keyboard.press("Enter")
    dialog = console.locator("#lightbox")
    expect(dialog).to_be_visible()
    big = dialog.locator("#lightbox-img")
    expect(big).to_have_attribute("src", re.compile(r"/e2e-media/p1\.png$"))
    expect(console.locator("#lightbox-img")).to_have_js_property("naturalWidth", 800)
    assert console.evaluate("document.activeElement.id") == "lightbox-close"
    assert axe_violations(console) == []
    expect(dialog.locator("#lightbox-download")).to_have_attribute(
        "href", f"{demo.base}{MEDIA}p1.png"
    )
    console.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert console.evaluate("document.activeElement.classList.contains('media-open')")

    opener.click()  # and a click on the backdrop closes it too
    expect(dialog).to_be_visible()
    console.mouse.click(5, 5)
    expect(dialog).to_be_hidden()


def test_files_players_unsent_and_older_media(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    console, tap = tapped_console(pages, demo)
    tap.answer = skip_marks_of_injected
    content = content_server(console)
    content.script["report.pdf"] = lambda n: (200, b"%PDF-1.4\n%%EOF\n", "application/pdf")
    content.script["gone.png"] = lambda n: (410, b'{"detail": "unsent"}', "application/json")
    content.script["later.txt"] = lambda n: (202, b"{}", "application/json")
    content.script["huge.zip"] = lambda n: (413, b"{}", "application/json")
    content.script["clip.mp4"] = lambda n: (200, b"\x00" * 64, "video/mp4")
    content.script["clip.png"] = lambda n: (200, png(64, 36, (0, 0, 0)), "image/png")
    content.script["voice.m4a"] = lambda n: (200, b"\x00" * 64, "audio/mp4")
    user = chat_with(demo, console, "Sora")
    messages = [
        (
            "file",
            {
                "content_url": f"{MEDIA}report.pdf",
                "file_name": "report Q3.pdf",
                "file_size": 1234567,
            },
        ),
        ("image", {"content_url": f"{MEDIA}gone.png", "preview_url": f"{MEDIA}gone.png"}),
        ("file", {"content_url": f"{MEDIA}later.txt", "file_name": "later.txt", "file_size": 10}),
        (
            "video",
            {
                "content_url": f"{MEDIA}clip.mp4",
                "preview_url": f"{MEDIA}clip.png",
                "duration": 65000,
            },
        ),
        ("audio", {"content_url": f"{MEDIA}voice.m4a", "duration": 7000}),
        ("image", {"message_id": "4711"}),  # an older message: no content URL
        ("file", {"content_url": f"{MEDIA}huge.zip", "file_name": "huge.zip", "file_size": 6e7}),
    ]
    for i, (kind, data) in enumerate(messages):
        tap.to_page("message_received", {"message": inbound(user, INJECTED_SEQ + i, kind, data)})

    thread = console.locator("#thread")
    report = thread.locator(".media-file", has_text="report Q3.pdf")
    expect(report).to_have_attribute("data-state", "ready")
    expect(report.locator(".file-size")).to_have_text("1.2 MB")
    link = report.locator("a.file-download")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"{demo.base}{MEDIA}report.pdf")
    expect(link).to_have_attribute("download", "report Q3.pdf")

    gone = thread.locator(".media-image").first
    expect(gone).to_have_attribute("data-state", "gone")
    expect(gone).to_contain_text("Unsent")
    expect(gone.locator("button.media-open")).to_be_hidden()

    later = thread.locator(".media-file", has_text="later.txt")
    expect(later).to_have_attribute("data-state", "pending")
    expect(later.locator("a.file-download")).to_be_hidden()

    huge = thread.locator(".media-file", has_text="huge.zip")
    expect(huge).to_have_attribute("data-state", "large")
    expect(huge).to_contain_text("too large to keep")
    expect(huge.locator("a.file-download")).to_be_hidden()

    video = thread.locator(".media-video video")
    expect(video).to_be_visible()
    expect(video).to_have_attribute("preload", "none")
    expect(video).to_have_attribute("poster", f"{demo.base}{MEDIA}clip.png")
    assert video.evaluate("(v) => v.controls")
    expect(thread.locator(".media-video .media-caption")).to_have_text("Video · 1:05")
    audio = thread.locator(".media-audio audio")
    expect(audio).to_be_attached()
    assert audio.evaluate("(a) => a.controls && a.preload === 'none'")
    expect(thread.locator(".media-audio .media-caption")).to_have_text("Voice message · 0:07")

    old = thread.locator(".msg.in .card", has_text="Photo")
    expect(old).to_contain_text("LINE message 4711")
    assert axe_violations(console) == []
    # a redraw (a new message) keeps the same player: a playing video would play on
    video.evaluate("(v) => { v.dataset.mark = 'same'; }")
    demo.say(user, "did you get them?")
    expect(thread.locator(".msg.in", has_text="did you get them?")).to_be_visible()
    expect(thread.locator(".media-video video")).to_have_attribute("data-mark", "same")


def sticker_answer(user: str) -> Callable[[dict[str, Any]], list[dict[str, Any]] | None]:
    """Answers a sticker `message_send` as the server does (1.1), without the server."""
    seq = [INJECTED_SEQ + 50]

    def answer(frame: dict[str, Any]) -> list[dict[str, Any]] | None:
        if skip_marks_of_injected(frame) is not None:
            return []
        payload = frame.get("payload", {})
        if frame.get("type") != "message_send" or "sticker" not in payload:
            return None
        seq[0] += 1
        message = {
            **inbound(user, seq[0], "sticker", dict(payload["sticker"])),
            "direction": "outbound",
            "sender": {"type": "operator", "id": "demo"},
            "status": "sent",
            "client_msg_id": payload["client_msg_id"],
        }
        return [
            {
                "type": "message_sent",
                "payload": {"client_msg_id": payload["client_msg_id"], "message": message},
                "ref": frame.get("ref"),
                "timestamp": now(),
            }
        ]

    return answer


@pytest.mark.parametrize("width", [390, 1280])
def test_the_sticker_picker_sends_a_sticker_by_keyboard(
    pages: Any, demo: DemoServer, width: int
) -> None:
    from playwright.sync_api import expect

    console, tap = tapped_console(pages, demo, width=width)
    user = chat_with(demo, console, f"Riku{width}")
    tap.answer = sticker_answer(user)
    toggle = console.locator("#sticker-toggle")
    panel = console.locator("#sticker-panel")
    expect(panel).to_be_hidden()
    toggle.focus()
    console.keyboard.press("Enter")
    expect(panel).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    first = panel.locator("button.sticker-choice").first
    expect(first).to_be_focused()
    expect(panel.locator("button.sticker-choice")).to_have_count(40)

    # laid out inside the window, no sideways scrolling, stickers big enough to tap
    box = panel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert box["y"] >= 0, box
    assert console.evaluate("document.documentElement.scrollWidth") <= width
    choice = first.bounding_box()
    assert choice is not None and choice["width"] >= 44 and choice["height"] >= 44, choice
    columns = console.evaluate(
        """() => { const b = [...document.querySelectorAll('#sticker-panel .sticker-choice')];
                   return b.filter((x) => x.offsetTop === b[0].offsetTop).length; }"""
    )
    assert columns >= 5, columns
    assert axe_violations(console) == []

    console.keyboard.press("ArrowRight")
    console.keyboard.press("ArrowRight")
    console.keyboard.press("ArrowDown")
    console.keyboard.press("ArrowUp")
    focused = console.locator("#sticker-panel .sticker-choice:focus")
    expect(focused).to_have_attribute("aria-label", "Moon sticker 3 of 40")
    console.keyboard.press("Enter")

    expect(panel).to_be_hidden()
    expect(toggle).to_be_focused()
    sends = tap.frames("message_send")
    assert len(sends) == 1, sends
    payload = sends[0]["payload"]
    assert payload == {
        "line_user_id": user,
        "sticker": {"package_id": "446", "sticker_id": "1990"},
        "client_msg_id": payload["client_msg_id"],
    }
    mine = console.locator("#thread .msg.out").last
    expect(mine).to_have_class(has_class("status-sent"))
    expect(mine.locator(".sticker img, .card-sticker")).to_have_count(1)
    expect(mine).not_to_contain_text("undefined")

    # another package from the tabs; Esc closes and gives focus back
    console.keyboard.press("Enter")
    expect(panel).to_be_visible()
    console.keyboard.press("ArrowUp")
    expect(console.locator("#sticker-tab-446")).to_be_focused()
    console.keyboard.press("ArrowRight")
    expect(console.locator("#sticker-tab-789")).to_have_attribute("aria-selected", "true")
    expect(panel.locator("button.sticker-choice").first).to_have_attribute(
        "data-sticker-id", "10855"
    )
    console.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(toggle).to_be_focused()
    if width < 760:  # Esc in the picker does not also leave the conversation on a phone
        expect(console.locator("#conversation")).to_be_visible()
        expect(console.locator("#app")).to_have_attribute("data-view", "conversation")


def test_a_sticker_picked_offline_waits_in_the_queue_and_goes_once_connected(
    pages: Any, demo: DemoServer
) -> None:
    from playwright.sync_api import expect

    console, tap = tapped_console(pages, demo)
    user = chat_with(demo, console, "Aoi")
    tap.answer = sticker_answer(user)
    # the server restarts; the next socket is not answered until released
    tap.holding = True
    tap.page_side.close(code=1012, reason="restart")
    expect(console.locator("#conn-dot")).not_to_have_attribute("data-state", "connected")
    console.locator("#sticker-toggle").click()
    console.locator("#sticker-panel .sticker-choice[data-sticker-id='1995']").click()
    mine = console.locator("#thread .msg.out").last
    expect(mine).to_have_class(has_class("status-pending"))
    expect(mine.locator(".sticker img, .card-sticker")).to_have_count(1)
    assert tap.frames("message_send") == []
    tap.release()
    expect(console.locator("#conn-dot")).to_have_attribute("data-state", "connected")
    expect(mine).to_have_class(has_class("status-sent"))
    sends = tap.frames("message_send")
    assert [f["payload"]["sticker"] for f in sends] == [{"package_id": "446", "sticker_id": "1995"}]
    assert tap.connections == 2, "it went out on the new socket"


def test_no_stickers_in_a_note(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    console, _tap = tapped_console(pages, demo)
    chat_with(demo, console, "Mei")
    toggle = console.locator("#sticker-toggle")
    expect(toggle).to_be_enabled()
    console.locator("#compose-mode button[data-mode=note]").click()
    expect(toggle).to_be_disabled()
    console.locator("#compose-mode button[data-mode=reply]").click()
    expect(toggle).to_be_enabled()


# ---- the whole path: these need the server half of issue 13 --------------------------


def test_a_sticker_from_the_picker_reaches_the_phone(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    sim = simulator_user(pages, demo, "Yui")
    sim.fill("#text", "send me a sticker")
    sim.press("#text", "Enter")
    console = pages(demo.console_url)
    console.wait_for_selector("#conn-dot[data-state=connected]")
    open_conversation(console, "Yui")
    console.locator("#sticker-toggle").click()
    console.locator("#sticker-tab-789").click()
    console.locator("#sticker-panel .sticker-choice[data-sticker-id='10857']").click()

    mine = console.locator("#thread .msg.out").last
    expect(mine).to_have_class(has_class("status-sent"))
    expect(mine.locator(".sticker img, .card-sticker")).to_have_count(1)
    pushed = sim.locator("#messages .msg-account.msg-type-sticker").last
    expect(pushed).to_be_visible()
    expect(pushed.locator("[aria-label='Sticker 789/10857']")).to_have_count(1)
    user = sim.evaluate("location.hash.slice(1)")
    on_phone = demo.get(f"/live-chat/simulator/api/users/{user}/messages")
    assert {(m["sender"], m["type"], m["package_id"], m["sticker_id"]) for m in on_phone} >= {
        ("account", "sticker", "789", "10857")
    }


def test_the_phone_sends_a_photo_and_a_file_the_console_shows_them(
    pages: Any, demo: DemoServer
) -> None:
    from playwright.sync_api import expect

    sim = simulator_user(pages, demo, "Nao")
    sim.locator("#attach-toggle").click()
    sim.locator("#attach-photo").click()
    expect(sim.locator("#messages .msg-user img.photo")).to_be_visible()
    sim.locator("#attach-toggle").click()
    sim.locator("#attach-pdf").click()
    expect(sim.locator("#messages .msg-user.msg-type-file")).to_contain_text("receipt-")

    console = pages(demo.console_url)
    console.wait_for_selector("#conn-dot[data-state=connected]")
    open_conversation(console, "Nao")
    photo = console.locator("#thread .msg.in .media-image")
    expect(photo).to_have_attribute("data-state", "ready", timeout=20_000)
    assert photo.locator("img").evaluate("(img) => img.naturalWidth") > 0
    photo.locator("button.media-open").click()
    expect(console.locator("#lightbox")).to_be_visible()
    expect(console.locator("#lightbox-img")).to_have_js_property("naturalWidth", 640)
    console.keyboard.press("Escape")

    pdf = console.locator("#thread .msg.in .media-file")
    expect(pdf).to_have_attribute("data-state", "ready", timeout=20_000)
    expect(pdf.locator(".file-name")).to_contain_text(re.compile(r"^receipt-.*\.pdf$"))
    expect(pdf.locator(".file-size")).to_have_text(re.compile(r"^\d+ B$|KB$"))
    href = pdf.locator("a.file-download").get_attribute("href")
    assert href
    body = console.request.get(href if href.startswith("http") else f"{demo.base}{href}").body()
    assert body.startswith(b"%PDF-1.4")
