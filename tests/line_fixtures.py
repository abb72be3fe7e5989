"""The webhook events of tests/fixtures/line/events.json, in the shapes LINE documents."""

from __future__ import annotations

import copy
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from livechat_ext.line.testing import new_event_id

FIXTURES = Path(__file__).parent / "fixtures" / "line" / "events.json"


@cache
def _load() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURES.read_text(encoding="utf-8"))
    return loaded


def names() -> list[str]:
    """Every fixture event's name, in file order."""
    return list(_load()["events"])


def destination() -> str:
    """The bot user id the fixtures were sent to."""
    return str(_load()["destination"])


def line_event(name: str, *, user: str | None = None, fresh: bool = False) -> dict[str, Any]:
    """A copy of the fixture event `name`; `user` replaces its user id and
    `fresh` gives it a new event id and the current time (as a live event)."""
    event: dict[str, Any] = copy.deepcopy(_load()["events"][name])
    if user is not None:
        event["source"]["userId"] = user
    if fresh:
        event["timestamp"] = time.time_ns() // 1_000_000
        event["webhookEventId"] = new_event_id(event["timestamp"])
    return event
