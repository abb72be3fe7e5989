"""The operator console and the LINE simulator in headless Chromium, against
`livechat-ext demo` running as a real subprocess."""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from livechat_ext.auth import mint_token
from livechat_ext.settings import LiveChatSettings
from tests.e2e.conftest import ROOT, SCREENSHOTS, DemoServer

XSS = "<img src=x onerror=alert(1)>"


def has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def open_console(pages: Any, demo: DemoServer, token: str | None = None, **size: int) -> Any:
    url = demo.console_url if token is None else f"{demo.base}/live-chat/console/#token={token}"
    page = pages(url, **size)
    page.wait_for_selector("#conn-dot[data-state=connected]")
    return page


def open_conversation(console: Any, name: str) -> None:
    from playwright.sync_api import expect

    console.locator("button.conv", has_text=name).click()
    expect(console.locator("#conv-name")).to_have_text(name)
    console.wait_for_selector("#thread .msg, #thread .thread-empty")


def simulator_user(pages: Any, demo: DemoServer, name: str) -> Any:
    """The simulator page, chatting as a new LINE user."""
    page = pages(f"{demo.base}/live-chat/simulator/", width=420, height=800)
    page.fill("#new-name", name)
    page.click("#new-user button[type=submit]")
    page.wait_for_selector("#chat-view:not([hidden])")
    page.wait_for_selector("#live[data-state=on]")
    return page


def simulator_says(sim: Any, text: str) -> None:
    from playwright.sync_api import expect

    sim.fill("#text", text)
    sim.press("#text", "Enter")
    expect(sim.locator("#messages .msg-user").last).to_contain_text(text)


def test_simulator_message_appears_in_the_console(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    console = open_console(pages, demo)
    sim = simulator_user(pages, demo, "Aiko")
    simulator_says(sim, "Hello from LINE")

    row = console.locator("button.conv", has_text="Aiko")
    expect(row).to_contain_text("Hello from LINE")
    expect(row.locator(".badge")).to_have_text("1")
    open_conversation(console, "Aiko")
    expect(console.locator("#thread .msg.in").last).to_contain_text("Hello from LINE")
    expect(row.locator(".badge")).to_have_count(0)

    simulator_says(sim, "Are you there?")
    expect(console.locator("#thread .msg.in").last).to_contain_text("Are you there?")


def test_operator_reply_appears_in_the_simulator(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    sim = simulator_user(pages, demo, "Kenji")
    simulator_says(sim, "Do you ship to Osaka?")
    console = open_console(pages, demo)
    open_conversation(console, "Kenji")
    console.fill("#composer-input", "Yes, next-day delivery!")
    console.press("#composer-input", "Enter")

    mine = console.locator("#thread .msg.out").last
    expect(mine).to_contain_text("Yes, next-day delivery!")
    expect(mine).to_have_class(has_class("status-sent"))
    expect(console.locator("#composer-input")).to_have_value("")
    expect(sim.locator("#messages .msg-account").last).to_contain_text("Yes, next-day delivery!")


def test_console_and_simulator_work_under_their_content_security_policy(
    pages: Any, demo: DemoServer
) -> None:
    """Served with a strict CSP (no inline script or style), the pages still work:
    the `pages` fixture fails the test on any violation Chromium reports."""
    from playwright.sync_api import expect

    user = demo.new_user("Yuki")
    demo.sticker(user, "446", "1989")  # an image from LINE's CDN
    console = open_console(pages, demo)
    for path in ("/live-chat/console/", "/live-chat/console/app.js", "/live-chat/simulator/"):
        headers = console.request.get(f"{demo.base}{path}").headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert (
            headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        )
    open_conversation(console, "Yuki")
    expect(
        console.locator("#thread .msg.in .sticker img, #thread .msg.in .card-sticker")
    ).to_have_count(1)
    box = console.locator("#composer-input")
    before = box.bounding_box()["height"]
    box.fill("one\ntwo\nthree\nfour")  # the composer grows through CSSOM, which CSP allows
    expect(box).not_to_have_css("height", f"{before}px")
    sim = simulator_user(pages, demo, "Ren")
    simulator_says(sim, "hello under CSP")
    expect(console.locator("button.conv", has_text="Ren")).to_contain_text("hello under CSP")


def test_typing_shows_on_both_sides(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    sim = simulator_user(pages, demo, "Maria")
    simulator_says(sim, "Quick question")
    console = open_console(pages, demo)
    bob_token = mint_token(LiveChatSettings(demo=True), "bob")
    bob = open_console(pages, demo, token=bob_token)
    expect(bob.locator("#operators .operator.online", has_text="Demo Operator")).to_be_visible()
    open_conversation(console, "Maria")
    open_conversation(bob, "Maria")

    console.locator("#composer-input").press_sequentially("Let me check")
    expect(sim.locator("#messages .loading")).to_be_visible()
    expect(bob.locator("#typing")).to_contain_text("Demo Operator is typing")

    console.press("#composer-input", "Enter")
    expect(bob.locator("#thread .msg.out").last).to_contain_text("Let me check")
    expect(bob.locator("#typing")).not_to_contain_text("Demo Operator is typing")


def test_markup_from_a_user_is_shown_as_text(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    dialogs: list[str] = []
    console = open_console(pages, demo)

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    console.on("dialog", on_dialog)
    sim = simulator_user(pages, demo, "Mallory")
    simulator_says(sim, XSS)

    expect(console.locator("button.conv", has_text="Mallory")).to_contain_text(XSS)
    open_conversation(console, "Mallory")
    expect(console.locator("#thread .msg.in .bubble-text").last).to_have_text(XSS)
    assert console.locator("#thread img[src='x']").count() == 0
    assert console.locator("#conversations img[src='x']").count() == 0
    assert dialogs == []


def test_failed_message_is_retried_with_its_id(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    user = demo.new_user("Olivia")
    demo.say(user, "Hello?")
    console = open_console(pages, demo)
    open_conversation(console, "Olivia")
    demo.post("/fake-line/_fake/fail", {"n": 1, "status": 400, "message": "rejected"})
    text = "This one fails first"
    console.fill("#composer-input", text)
    console.press("#composer-input", "Enter")

    failed = console.locator("#thread .msg.out.status-failed", has_text=text)
    expect(failed).to_contain_text("Not delivered")
    failed.get_by_role("button", name="Retry").click()
    expect(console.locator("#thread .msg.out.status-sent", has_text=text)).to_have_count(1)
    expect(console.locator("#thread .msg.out", has_text=text)).to_have_count(1)
    texts = [m.get("text") for p in demo.get("/fake-line/_fake/pushes") for m in p["messages"]]
    assert texts.count(text) == 1


def test_queued_message_is_delivered_once_after_a_crash(pages: Any, own_demo: DemoServer) -> None:
    from playwright.sync_api import expect

    demo = own_demo
    user = demo.new_user("Yuki")
    demo.say(user, "Is my order on its way?")
    console = open_console(pages, demo)
    open_conversation(console, "Yuki")
    expect(console.locator("#thread .msg.in").last).to_contain_text("Is my order on its way?")

    demo.kill()
    banner = console.locator("#banner")
    expect(banner).to_have_attribute("data-state", "reconnecting")
    text = "Queued while the server was down"
    console.fill("#composer-input", text)
    console.press("#composer-input", "Enter")
    expect(console.locator("#thread .msg.out.status-pending")).to_contain_text(text)
    expect(banner).to_contain_text("1 message queued")
    SCREENSHOTS.mkdir(exist_ok=True)
    console.screenshot(path=str(SCREENSHOTS / "console-offline.png"))

    demo.start()  # same port, same store
    sent = console.locator("#thread .msg.out.status-sent", has_text=text)
    expect(sent).to_have_count(1, timeout=30_000)
    expect(banner).to_be_hidden()

    pushes = demo.get("/fake-line/_fake/pushes")
    texts = [m.get("text") for p in pushes for m in p["messages"]]
    assert texts.count(text) == 1
    history = demo.get(f"/live-chat/api/conversations/{user}/messages?limit=100", demo.token)
    assert [m["text"] for m in history["messages"]].count(text) == 1
    expect(console.locator("#thread .msg.out", has_text=text)).to_have_count(1)


def test_screenshots(pages: Any, own_demo: DemoServer) -> None:
    """console.png and simulator.png for people; docs/console.png with LIVECHAT_UPDATE_DOCS=1."""
    from playwright.sync_api import expect

    demo = own_demo
    aiko = demo.new_user("Aiko Tanaka")
    demo.say(aiko, "Hi! My order #1042 hasn't arrived yet. Could you check?")
    demo.say(aiko, "It was supposed to come on Friday.")
    for name, text in [
        ("Sophie Martin", "Can I change the delivery address?"),
        ("Daniel Kim", "The coupon code SPRING10 is not working"),
        ("Hana Suzuki", "Where can I find the size chart?"),
    ]:
        demo.say(demo.new_user(name), text)
    maria = demo.new_user("Maria Lopez")
    demo.say(maria, "Thanks for the quick help yesterday!")
    demo.sticker(maria, "446", "1989")
    kenji = demo.new_user("Kenji Sato")
    demo.say(kenji, "Do you ship to Osaka?")

    console = open_console(pages, demo)
    bob = open_console(
        pages, demo, token=mint_token(LiveChatSettings(demo=True), "bob", name="Bob Smith")
    )
    open_conversation(console, "Aiko Tanaka")
    console.fill("#composer-input", "Hi Aiko, sorry about that! Let me look up order #1042.")
    console.press("#composer-input", "Enter")
    expect(console.locator("#thread .msg.out.status-sent")).to_have_count(1)
    demo.say(aiko, "Thank you, that would be great.")
    expect(console.locator("#thread .msg.in").last).to_contain_text("Thank you")
    demo.say(kenji, "Also, is there a store in Umeda?")
    kenji_row = console.locator("button.conv", has_text="Kenji Sato")
    expect(kenji_row.locator(".badge")).to_have_text("2")  # the server's count: nobody read either
    open_conversation(bob, "Aiko Tanaka")
    bob.locator("#composer-input").press_sequentially("Checking")
    expect(console.locator("#typing")).to_contain_text("Bob Smith is typing")
    console.locator("#composer-input").focus()
    console.mouse.move(800, 200)

    SCREENSHOTS.mkdir(exist_ok=True)
    console_png = SCREENSHOTS / "console.png"
    console.screenshot(path=str(console_png))
    sim = pages(f"{demo.base}/live-chat/simulator/", width=420, height=760)
    sim.locator("button.user", has_text="Aiko Tanaka").click()
    expect(sim.locator("#messages .msg-account")).to_contain_text("order #1042")
    sim.screenshot(path=str(SCREENSHOTS / "simulator.png"))
    assert console_png.stat().st_size > 10_000
    if os.environ.get("LIVECHAT_UPDATE_DOCS") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(console_png, ROOT / "docs" / "console.png")


def test_a_postback_is_shown_as_an_action_not_as_words(pages: Any, demo: DemoServer) -> None:
    import urllib.request

    from playwright.sync_api import expect

    from livechat_ext.line.testing import postback_event, sign, webhook_body
    from livechat_ext.settings import DEMO_CHANNEL_SECRET

    user_id = demo.new_user("Piet")
    event = postback_event(user_id, "storeId=12345", params={"datetime": "2017-12-25T01:00"})
    body = webhook_body([event])
    request = urllib.request.Request(
        f"{demo.base}/line/webhook",
        data=body,
        method="POST",
        headers={"X-Line-Signature": sign(body, DEMO_CHANNEL_SECRET)},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200

    console = open_console(pages, demo)
    row = console.locator("button.conv", has_text="Piet")
    expect(row).to_contain_text("Tapped an action")
    open_conversation(console, "Piet")
    shown = console.locator("#thread .msg.in").last
    expect(shown).to_contain_text("Tapped an action: storeId=12345")
    expect(shown).to_contain_text("datetime: 2017-12-25T01:00")
    expect(shown).not_to_contain_text("Unsupported")
