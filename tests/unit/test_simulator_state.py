"""The simulator's users and chats outlive a restart, and its fake LINE API
refuses what LINE refuses (an unknown user) and shows what a phone shows."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from livechat_ext.simulator import FakeLine, Profile
from livechat_ext.simulator.phone import PhoneMessage, Phones
from livechat_ext.simulator.saved import SavedState

TOKEN = "test-access-token"
AUTH = f"Bearer {TOKEN}"
AIKO = "U" + "a" * 32
KEN = "U" + "b" * 32


def push(fake: FakeLine, to: str, text: str, key: str | None = None) -> int:
    body = json.dumps({"to": to, "messages": [{"type": "text", "text": text}]}).encode()
    return fake.handle_push(AUTH, key, body).status


def simulator(path: Path) -> tuple[FakeLine, Phones]:
    """A fresh fake and phones, as a new run of the demo makes them."""
    fake = FakeLine(TOKEN, known_users_only=True)
    phones = Phones(fake)
    saved = SavedState(path, fake, phones)
    saved.load()
    saved.watch()
    return fake, phones


def test_users_chats_and_retry_keys_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "demo" / "simulator.json"
    fake, phones = simulator(path)
    fake.add_profile(Profile(AIKO, "Aiko"))
    fake.add_profile(Profile(KEN, "Ken"))
    phones.follow(AIKO)
    phones.record_sent(AIKO, PhoneMessage("m1", "user", "text", 1.5, text="Hello?"))
    key = str(uuid.uuid4())
    assert push(fake, AIKO, "Hi Aiko", key) == 200
    phones.unfollow(KEN)

    fake, phones = simulator(path)  # the demo restarted

    assert phones.users_json() == [
        {"user_id": AIKO, "display_name": "Aiko", "following": True},
        {"user_id": KEN, "display_name": "Ken", "following": False},
    ]
    assert [(m.sender, m.text) for m in phones.conversation(AIKO)] == [
        ("user", "Hello?"),
        ("account", "Hi Aiko"),
    ]
    # a send resumed after the restart, with the same retry key, is not shown twice
    assert push(fake, AIKO, "Hi Aiko", key) == 409
    assert len(phones.conversation(AIKO)) == 2
    assert fake.is_blocked(KEN)


def test_an_unreadable_state_is_set_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "simulator.json"
    path.write_text('{"version": 1, "profiles": [{"no": "id"}]}')
    fake, phones = simulator(path)
    assert phones.users_json() == []
    kept = list(tmp_path.glob("simulator.json.unreadable-*"))
    assert len(kept) == 1 and "no" in kept[0].read_text()
    fake.add_profile(Profile(AIKO, "Aiko"))  # and the simulator goes on, saving anew
    assert json.loads(path.read_text())["profiles"][0]["displayName"] == "Aiko"


def test_a_push_to_a_user_the_simulator_does_not_know_is_refused(tmp_path: Path) -> None:
    """As LINE refuses an id it does not know: the console then shows the reply
    as not delivered instead of "Sent" to a phone that does not exist."""
    fake, _ = simulator(tmp_path / "simulator.json")
    assert push(fake, AIKO, "anyone there?") == 400
    assert fake.pushes == []
    lenient = FakeLine(TOKEN)  # the tests' fake accepts any U... id
    assert push(lenient, AIKO, "anyone there?") == 200


def test_no_loading_animation_shows_to_a_user_who_blocks(tmp_path: Path) -> None:
    fake, phones = simulator(tmp_path / "simulator.json")
    fake.add_profile(Profile(AIKO, "Aiko"))
    phones.follow(AIKO)
    body = json.dumps({"chatId": AIKO, "loadingSeconds": 20}).encode()
    assert fake.handle_loading(AUTH, body).status == 202
    assert fake.loading_seconds_left(AIKO) > 0
    phones.unfollow(AIKO)
    assert fake.loading_seconds_left(AIKO) == 0
    assert fake.handle_loading(AUTH, body).status == 202  # LINE accepts it, shows nothing
    assert fake.loading_seconds_left(AIKO) == 0
