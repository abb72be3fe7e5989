"""The simulator's users and chats in one JSON file, so a demo restart keeps
them: profiles, who blocks the account, what each user sent and every push
the fake LINE API accepted (with its retry key, so a resumed send is not
shown twice)."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from livechat_ext.simulator.fake_records import Profile, Push
from livechat_ext.simulator.fake_state import FakeLine
from livechat_ext.simulator.phone import Phones
from livechat_ext.simulator.webhooks import JSONDict

log = logging.getLogger("livechat_ext.simulator")

_VERSION = 1


class SavedState:
    """Loads `path` into a fake and its phones, and writes it again after each change."""

    def __init__(self, path: Path, fake: FakeLine, phones: Phones) -> None:
        self.path = path
        self._fake = fake
        self._phones = phones

    def load(self) -> None:
        """Take back the saved state. A file that cannot be read is set aside
        (renamed, never deleted) and the simulator starts empty, with a warning."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        try:
            self._apply(json.loads(raw))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            self.path.replace(aside)
            log.warning("the simulator's saved state is unreadable (%s); kept as %s", exc, aside)

    def _apply(self, data: JSONDict) -> None:
        if data.get("version") != _VERSION:
            raise ValueError(f"unknown version {data.get('version')!r}")
        # read everything before changing anything: a bad file changes nothing
        profiles = [Profile.from_json(p) for p in data["profiles"]]
        pushes = [Push.from_json(p) for p in data["pushes"]]
        blocked = [str(user_id) for user_id in data["blocked"]]
        self._phones.load_state(dict(data["phones"]))
        for profile in profiles:
            self._fake.add_profile(profile)
        for user_id in blocked:
            self._fake.block(user_id)
        self._fake.restore_pushes(pushes)

    def watch(self) -> None:
        """Save after every change from now on."""
        self._fake.on_change = self.save
        self._phones.on_change = self.save

    def save(self) -> None:
        """Write the whole state: to a temporary file first, so a crash never
        leaves half a file."""
        data = {
            "version": _VERSION,
            "profiles": [p.to_json() for p in self._fake.profiles],
            "blocked": self._fake.blocked,
            "pushes": [p.to_json() for p in self._fake.pushes],
            "phones": self._phones.state_json(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, self.path)


__all__ = ["SavedState"]
