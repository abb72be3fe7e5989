"""The console's team workflow (protocol 1.1) in headless Chromium against the
demo: assignment, the views, resolve and reopen, notes, server-side unread."""

from __future__ import annotations

from typing import Any

from livechat_ext.auth import mint_token
from livechat_ext.settings import LiveChatSettings
from tests.e2e.conftest import DemoServer
from tests.e2e.test_console import has_class, open_console, open_conversation


def bob_token() -> str:
    return mint_token(LiveChatSettings(demo=True), "bob")


def view(console: Any, name: str) -> None:
    from playwright.sync_api import expect

    tab = console.locator("#views button", has_text=name)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")


def test_assign_views_and_resolve_between_two_operators(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    user = demo.new_user("Hana")
    demo.say(user, "My parcel is late")
    console = open_console(pages, demo)
    bob = open_console(pages, demo, token=bob_token())
    expect(bob.locator("#operators .operator.online", has_text="Demo Operator")).to_be_visible()

    view(console, "Unassigned")
    expect(console.locator("button.conv", has_text="Hana")).to_be_visible()
    open_conversation(console, "Hana")
    expect(console.locator("#assignee")).to_have_text("Unassigned")
    console.click("#assign-me")
    expect(console.locator("#assignee")).to_have_text("Assigned to you")
    expect(console.locator("button.conv", has_text="Hana")).to_have_count(0)  # not unassigned now
    view(console, "Mine")
    expect(console.locator("button.conv", has_text="Hana")).to_contain_text("You")

    # bob sees who handles it, and hands it to himself from the list of teammates
    open_conversation(bob, "Hana")
    expect(bob.locator("#assignee")).to_have_text("Assigned to Demo Operator")
    bob.select_option("#assign-to", "bob")
    expect(bob.locator("#assignee")).to_have_text("Assigned to you")
    expect(console.locator("#assignee")).to_have_text("Assigned to bob")
    expect(console.locator("button.conv", has_text="Hana")).to_have_count(0)  # no longer mine

    bob.click("#resolve")
    expect(bob.locator("#conv-status")).to_be_visible()
    expect(bob.locator("#resolve")).to_have_text("Reopen")
    view(console, "Resolved")
    expect(console.locator("button.conv", has_text="Hana")).to_contain_text("Resolved")
    view(console, "All open")
    expect(console.locator("button.conv", has_text="Hana")).to_have_count(0)

    demo.say(user, "Still there?")  # a new message reopens it, unassigned
    expect(console.locator("button.conv", has_text="Hana")).to_be_visible()
    expect(bob.locator("#assignee")).to_have_text("Unassigned")
    expect(bob.locator("#resolve")).to_have_text("Resolve")


def test_a_note_looks_like_a_note_and_never_reaches_the_user(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    user = demo.new_user("Ren")
    demo.say(user, "Can I change my order?")
    console = open_console(pages, demo)
    bob = open_console(pages, demo, token=bob_token())
    open_conversation(console, "Ren")
    open_conversation(bob, "Ren")

    console.click("#compose-mode button[data-mode=note]")
    expect(console.locator("#composer")).to_have_class(has_class("note-mode"))
    console.fill("#composer-input", "VIP: refund without asking")
    console.press("#composer-input", "Enter")

    for page in (console, bob):
        note = page.locator("#thread .msg.internal").last
        expect(note).to_contain_text("VIP: refund without asking")
        expect(note).to_contain_text("only your team sees this")
        expect(page.locator("#thread .msg.out")).to_have_count(0)
    console.click("#compose-mode button[data-mode=reply]")
    console.fill("#composer-input", "Yes, you can")
    console.press("#composer-input", "Enter")
    expect(console.locator("#thread .msg.out.status-sent")).to_contain_text("Yes, you can")
    history = demo.get(f"/live-chat/simulator/api/users/{user}/messages")
    texts = [m.get("text") for m in history]
    assert "Yes, you can" in texts and "VIP: refund without asking" not in texts


def test_unread_is_the_servers_and_read_shows_once_marked(pages: Any, demo: DemoServer) -> None:
    from playwright.sync_api import expect

    user = demo.new_user("Sora")
    demo.say(user, "one")
    demo.say(user, "two")
    # a console opened after the messages arrived learns what nobody has read
    bob = open_console(pages, demo, token=bob_token())
    row = bob.locator("button.conv", has_text="Sora")
    expect(row.locator(".badge")).to_have_text("2")
    console = open_console(pages, demo)
    open_conversation(console, "Sora")
    expect(console.locator("#thread .msg.in .read-mark")).to_have_count(2)
    expect(row.locator(".badge")).to_have_count(0)  # read by a teammate: read for bob too
    fresh = open_console(pages, demo, token=bob_token())
    expect(fresh.locator("button.conv", has_text="Sora")).to_be_visible()
    expect(fresh.locator("button.conv", has_text="Sora").locator(".badge")).to_have_count(0)
