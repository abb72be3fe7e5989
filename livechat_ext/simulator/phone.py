"""What each simulated LINE user's phone shows: their messages and the account's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from livechat_ext.simulator.fake_records import Push
from livechat_ext.simulator.fake_state import FakeLine
from livechat_ext.simulator.webhooks import JSONDict

Sender = Literal["user", "account"]

_ALT_TEXT_TYPES = {"template", "flex", "imagemap"}


@dataclass(frozen=True)
class PhoneMessage:
    """One bubble in the chat: sent by the user (right) or by the account (left)."""

    id: str
    sender: Sender
    type: str
    at: float
    text: str | None = None
    package_id: str | None = None
    sticker_id: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    content_type: str | None = None

    @classmethod
    def from_json(cls, data: JSONDict) -> PhoneMessage:
        """Read what `to_json` wrote; raises KeyError or ValueError for another shape."""
        return cls(
            id=str(data["id"]),
            sender="account" if data["sender"] == "account" else "user",
            type=str(data["type"]),
            at=int(data["at_ms"]) / 1000,
            text=_optional_str(data.get("text")),
            package_id=_optional_str(data.get("package_id")),
            sticker_id=_optional_str(data.get("sticker_id")),
            file_name=_optional_str(data.get("file_name")),
            file_size=data["file_size"] if isinstance(data.get("file_size"), int) else None,
            content_type=_optional_str(data.get("content_type")),
        )

    def to_json(self) -> JSONDict:
        return {
            "id": self.id,
            "sender": self.sender,
            "type": self.type,
            "at_ms": int(self.at * 1000),
            "text": self.text,
            "package_id": self.package_id,
            "sticker_id": self.sticker_id,
            "file_name": self.file_name,
            "file_size": self.file_size,
            "content_type": self.content_type,
        }


def _summary(message: JSONDict) -> str | None:
    kind = message.get("type")
    if kind == "text":
        text = message.get("text")
        return text if isinstance(text, str) else None
    if kind in _ALT_TEXT_TYPES:
        alt = message.get("altText")
        return alt if isinstance(alt, str) else None
    if kind == "location":
        return f"{message.get('title', '')} {message.get('address', '')}".strip()
    return None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def messages_from_push(push: Push) -> list[PhoneMessage]:
    """The bubbles one accepted push shows on the recipient's phone."""
    bubbles = []
    for message, sent in zip(push.messages, push.sent_messages, strict=True):
        bubbles.append(
            PhoneMessage(
                id=sent["id"],
                sender="account",
                type=str(message.get("type", "")),
                at=push.accepted_at,
                text=_summary(message),
                package_id=_optional_str(message.get("packageId")),
                sticker_id=_optional_str(message.get("stickerId")),
            )
        )
    return bubbles


class Phones:
    """The simulated users' side: sent messages and follow state, per user.

    Pushes are not copied here: they are read from the `FakeLine`, so a push
    the fake accepted is on the phone exactly when it was delivered.
    """

    def __init__(self, fake: FakeLine) -> None:
        self._fake = fake
        self._sent: dict[str, list[PhoneMessage]] = {}
        self._following: set[str] = set()
        self.on_change: Callable[[], None] | None = None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def knows(self, user_id: str) -> bool:
        return any(p.user_id == user_id for p in self._fake.profiles)

    def is_following(self, user_id: str) -> bool:
        return user_id in self._following

    def follow(self, user_id: str) -> bool:
        """Mark the user as a friend; True when this unblocks the account."""
        unblocked = self._fake.is_blocked(user_id)
        self._following.add(user_id)
        self._fake.unblock(user_id)
        return unblocked

    def unfollow(self, user_id: str) -> None:
        """The user blocks the account: later pushes are accepted but not delivered."""
        self._following.discard(user_id)
        self._fake.block(user_id)

    def record_sent(self, user_id: str, message: PhoneMessage) -> None:
        self._sent.setdefault(user_id, []).append(message)
        self._changed()

    def state_json(self) -> JSONDict:
        """What the phones hold, for the simulator's saved state."""
        return {
            "following": sorted(self._following),
            "sent": {u: [m.to_json() for m in ms] for u, ms in self._sent.items()},
        }

    def load_state(self, data: JSONDict) -> None:
        """Take back what `state_json` gave."""
        sent = {
            str(u): [PhoneMessage.from_json(m) for m in ms]
            for u, ms in dict(data.get("sent", {})).items()
        }
        self._following = {str(u) for u in data.get("following", [])}
        self._sent = sent

    def conversation(self, user_id: str) -> list[PhoneMessage]:
        """Everything the user's phone shows, oldest first."""
        bubbles = list(self._sent.get(user_id, []))
        for push in self._fake.pushes:
            if push.to == user_id and push.delivered:
                bubbles.extend(messages_from_push(push))
        bubbles.sort(key=lambda m: m.at)
        return bubbles

    def user_json(self, user_id: str) -> JSONDict:
        profile = self._fake.profile(user_id)
        name = profile.display_name if profile is not None else user_id
        return {"user_id": user_id, "display_name": name, "following": self.is_following(user_id)}

    def users_json(self) -> list[JSONDict]:
        return [self.user_json(p.user_id) for p in self._fake.profiles]


__all__ = ["PhoneMessage", "Phones", "Sender", "messages_from_push"]
