"""What a newcomer meets in the console and the simulator, in headless Chromium:
names instead of ids, notifications that stay out of the way, drafts that
survive a reload, a layout that works at 390 px, no axe-core violations, and
a demo restart that both pages follow by themselves."""

from __future__ import annotations

import json
import signal
from typing import Any

from livechat_ext.auth import mint_token
from livechat_ext.settings import LiveChatSettings
from tests.e2e.conftest import SCREENSHOTS, DemoServer, axe_violations
from tests.e2e.test_console import (
    has_class,
    open_console,
    open_conversation,
    simulator_says,
    simulator_user,
)

PHONE = {"width": 390, "height": 844}


def token(admin_id: str, name: str | None = None) -> str:
    return mint_token(LiveChatSettings(demo=True), admin_id, name=name)


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_operators_and_users_are_shown_by_name(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    noor = demo.new_user("Noor")
    demo.say(noor, "Can I return shoes?")
    console = open_console(pages, demo)
    bob = open_console(pages, demo, token=token("bob", "Bob Smith"))
    expect(console.locator("#operators .operator.online", has_text="Bob Smith")).to_be_visible()
    expect(bob.locator("#operators", has_text="Demo Operator (you)")).to_have_count(0)
    expect(bob.locator("#operators", has_text="Bob Smith (you)")).to_be_visible()
    open_conversation(console, "Noor")
    open_conversation(bob, "Noor")

    bob.locator("#composer-input").press_sequentially("Sure")
    expect(console.locator("#typing")).to_have_text("Bob Smith is typing…")
    bob.press("#composer-input", "Enter")
    expect(console.locator("#thread .msg.out .msg-author").last).to_have_text("Bob Smith")
    expect(console.locator("button.conv", has_text="Noor")).to_contain_text("Bob Smith: Sure")
    expect(bob.locator("button.conv", has_text="Noor")).to_contain_text("You: Sure")
    expect(bob.locator("#thread .msg.out .msg-author").last).to_have_text("Bob Smith (you)")

    demo.new_user("Lina")  # follows the account: the toast names her, not her user id
    toast = console.locator("#toasts .toast", has_text="added the account")
    expect(toast).to_contain_text("Lina added the account")
    expect(toast).not_to_contain_text("U")


def test_few_toasts_and_a_notification_centre_for_the_rest(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    first = demo.new_user("Ada")
    demo.say(first, "hello")
    console = open_console(pages, demo)
    open_conversation(console, "Ada")
    users = {f"Guest {n}": demo.new_user(f"Guest {n}") for n in range(5)}
    for name, user in users.items():
        demo.say(user, f"question from {name}")
    bell = console.locator("#bell-count")
    expect(bell).to_have_text("10")  # 5 follows and 5 first messages
    toasts = console.locator("#toasts .toast")
    expect(toasts).to_have_count(3)
    sidebar = console.locator(".sidebar").bounding_box()
    for box in (toasts.nth(i).bounding_box() for i in range(3)):
        assert box["x"] + box["width"] <= sidebar["x"] + sidebar["width"], "over the thread"

    latest = users["Guest 4"]
    expect(console.locator(f"#toasts .toast[data-line-user-id='{latest}']")).to_have_count(1)
    open_conversation(console, "Guest 4")  # opening it dismisses its toasts
    expect(console.locator(f"#toasts .toast[data-line-user-id='{latest}']")).to_have_count(0)
    expect(bell).to_have_text("8")

    console.click("#bell")
    centre = console.locator("#notif-centre")
    expect(centre).to_be_visible()
    expect(centre.locator(".notif")).to_have_count(10)
    expect(bell).to_be_hidden()
    centre.locator(".notif", has_text="question from Guest 1").click()
    expect(centre).to_be_hidden()
    expect(console.locator("#conv-name")).to_have_text("Guest 1")


def test_on_a_phone_a_toast_leaves_header_and_composer_free(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    demo.say(demo.new_user("Sven"), "hi")
    console = open_console(pages, demo, **PHONE)
    open_conversation(console, "Sven")
    for n in range(3):
        demo.say(demo.new_user(f"Phone guest {n}"), "are you there?")
    expect(console.locator("#bell-count")).to_have_text("6")  # all arrived: no toast to come
    toasts = console.locator("#toasts .toast")
    expect(toasts.first).to_be_visible()
    expect(toasts).to_have_count(1)
    box = toasts.first.bounding_box()
    for part in (".conv-head", "#composer"):
        assert not overlap(box, console.locator(part).bounding_box()), f"a toast covers {part}"
    shot(console, "console-390-toast.png")
    console.click("#back")  # still reachable
    expect(console.locator("#app")).to_have_attribute("data-view", "list")


def test_the_draft_of_each_conversation_survives_a_reload(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    for name in ("Draft A", "Draft B"):
        demo.say(demo.new_user(name), "hello")
    console = open_console(pages, demo)
    open_conversation(console, "Draft A")
    console.locator("#composer-input").press_sequentially("half a thought")
    open_conversation(console, "Draft B")
    expect(console.locator("#composer-input")).to_have_value("")
    console.fill("#composer-input", "for B")
    console.reload()
    console.wait_for_selector("#conn-dot[data-state=connected]")
    expect(console.locator("#composer-input")).to_have_value("for B")  # #c= reopened B
    open_conversation(console, "Draft A")
    expect(console.locator("#composer-input")).to_have_value("half a thought")
    console.press("#composer-input", "Enter")
    expect(console.locator("#thread .msg.out.status-sent")).to_contain_text("half a thought")
    console.reload()
    console.wait_for_selector("#conn-dot[data-state=connected]")
    open_conversation(console, "Draft A")
    expect(console.locator("#composer-input")).to_have_value("")  # sent: no draft left


def test_no_axe_violations_and_the_layout_at_390_and_1280(pages: Any, demo: DemoServer) -> None:
    """axe-core on the console (list, open thread; desktop and phone) and the
    simulator (users, chat); screenshots of each under tests/e2e/screenshots."""
    from playwright.sync_api import expect

    user = demo.new_user("Hiro")
    demo.say(user, "When do you open?")
    blocker = demo.new_user("Mika")
    demo.say(blocker, "bye")
    demo.post(f"/live-chat/simulator/api/users/{blocker}/unfollow", {})
    found: dict[str, list[dict[str, Any]]] = {}
    for size, label in ((PHONE, "390"), ({"width": 1280, "height": 800}, "1280")):
        console = open_console(pages, demo, **size)
        expect(console.locator("button.conv", has_text="Hiro")).to_be_visible()
        found[f"console list {label}"] = axe_violations(console)
        shot(console, f"console-{label}-list.png")
        open_conversation(console, "Hiro")
        console.fill("#composer-input", f"We open at 9 ({label})")
        console.press("#composer-input", "Enter")
        expect(console.locator("#thread .msg.out.status-sent").last).to_contain_text(label)
        found[f"console thread {label}"] = axe_violations(console)
        shot(console, f"console-{label}-thread.png")
        if label == "390":
            console.click("#back")  # one pane at a time on a phone
        open_conversation(console, "Mika")  # blocked: the composer is off, and says so
        composer = console.locator("#composer-input")
        expect(composer).to_be_disabled()
        fits = composer.evaluate(
            """(box) => {
                const style = getComputedStyle(box);
                const ctx = document.createElement('canvas').getContext('2d');
                ctx.font = `${style.fontSize} ${style.fontFamily}`;
                const room = box.clientWidth - parseFloat(style.paddingLeft)
                    - parseFloat(style.paddingRight);
                return ctx.measureText(box.placeholder).width <= room;
            }"""
        )
        assert fits, f"the disabled composer's placeholder is cut off at {label} px"
        found[f"console blocked {label}"] = axe_violations(console)
        shot(console, f"console-{label}-blocked.png")
    sim = pages(f"{demo.base}/live-chat/simulator/", **PHONE)
    sim.fill("#new-name", "Sora")
    sim.click("#new-user button[type=submit]")
    expect(sim.locator("#live")).to_have_attribute("data-state", "on")
    simulator_says(sim, "testing the phone")
    found["simulator chat"] = axe_violations(sim)
    shot(sim, "simulator-390-chat.png")
    sim.click("#back")
    expect(sim.locator("button.user", has_text="Sora")).to_be_visible()
    found["simulator users"] = axe_violations(sim)
    bad = {page: v for page, v in found.items() if v}
    assert not bad, json.dumps(bad, indent=1)


def test_a_restarted_demo_is_followed_by_console_and_phone(
    pages: Any, own_demo: DemoServer
) -> None:
    from playwright.sync_api import expect

    demo = own_demo
    phone = simulator_user(pages, demo, "Aiko")
    simulator_says(phone, "hello before the restart")
    console = open_console(pages, demo)
    open_conversation(console, "Aiko")

    code, output = demo.interrupt(signal.SIGINT)
    assert code == 0 and "Traceback" not in output
    demo.start()  # the same data folder: the same users and conversations
    expect(console.locator("#banner")).to_be_hidden(timeout=30_000)
    expect(phone.locator("#live")).to_have_attribute("data-state", "on", timeout=30_000)
    console.fill("#composer-input", "We are back")
    console.press("#composer-input", "Enter")
    expect(console.locator("#thread .msg.out", has_text="We are back")).to_have_class(
        has_class("status-sent")
    )
    expect(phone.locator("#messages .msg-account").last).to_contain_text("We are back")
    expect(console.locator("#conv-name")).to_have_text("Aiko")

    demo.interrupt(signal.SIGTERM)
    demo.fresh = True  # started over: what both pages show must go
    demo.start()
    expect(console.locator("button.conv", has_text="Aiko")).to_have_count(0, timeout=30_000)
    expect(console.locator("#thread .msg")).to_have_count(0)
    expect(phone.locator("#users-view")).to_be_visible(timeout=30_000)
    expect(phone.locator("#notice")).to_contain_text("not in the simulator any more")
    console.fill("#composer-input", "Anyone?")
    console.press("#composer-input", "Enter")
    # the simulator no longer has Aiko: never shown as sent
    expect(console.locator("#thread .msg.out", has_text="Anyone?")).to_have_class(
        has_class("status-failed")
    )


def test_loading_dots_go_when_the_user_blocks(pages: Any, demo: DemoServer) -> None:
    """LINE shows a blocked account nothing, its loading animation included."""
    from playwright.sync_api import expect

    phone = simulator_user(pages, demo, "Blocky")
    simulator_says(phone, "hi")
    console = open_console(pages, demo)
    open_conversation(console, "Blocky")
    console.locator("#composer-input").press_sequentially("Let me see")
    dots = phone.locator("#messages .loading")
    expect(dots).to_be_visible()
    phone.click("#block")
    expect(phone.locator("#blocked-banner")).to_be_visible()
    # at once: the animation would otherwise run its 10 s to the end
    expect(dots).to_have_count(0, timeout=2000)
    phone.reload()  # a reopened phone is not shown the animation either
    expect(phone.locator("#live")).to_have_attribute("data-state", "on")
    expect(phone.locator("#blocked-banner")).to_be_visible()
    expect(dots).to_have_count(0, timeout=2000)
