"""The records the fake LINE API keeps and the replies it gives."""

from __future__ import annotations

from dataclasses import dataclass, field

from livechat_ext.simulator.webhooks import JSONDict


@dataclass(frozen=True)
class Push:
    """A push request the fake accepted (recorded once, even if retried)."""

    request_id: str
    to: str
    messages: tuple[JSONDict, ...]
    sent_messages: tuple[dict[str, str], ...]
    retry_key: str | None
    notification_disabled: bool
    accepted_at: float
    delivered: bool

    def to_json(self) -> JSONDict:
        return {
            "request_id": self.request_id,
            "to": self.to,
            "messages": list(self.messages),
            "sent_messages": list(self.sent_messages),
            "retry_key": self.retry_key,
            "notification_disabled": self.notification_disabled,
            "accepted_at": self.accepted_at,
            "delivered": self.delivered,
        }


@dataclass(frozen=True)
class LoadingCall:
    """An accepted loading animation request."""

    request_id: str
    chat_id: str
    loading_seconds: int
    called_at: float

    def to_json(self) -> JSONDict:
        return {
            "request_id": self.request_id,
            "chat_id": self.chat_id,
            "loading_seconds": self.loading_seconds,
            "called_at": self.called_at,
        }


@dataclass(frozen=True)
class Profile:
    """A LINE user's profile as the profile endpoint returns it."""

    user_id: str
    display_name: str
    picture_url: str | None = None
    status_message: str | None = None
    language: str = "en"

    def to_json(self) -> JSONDict:
        """LINE's shape: camelCase, optional fields left out when unset."""
        body: JSONDict = {
            "userId": self.user_id,
            "displayName": self.display_name,
            "language": self.language,
        }
        if self.picture_url is not None:
            body["pictureUrl"] = self.picture_url
        if self.status_message is not None:
            body["statusMessage"] = self.status_message
        return body


@dataclass(frozen=True)
class FakeReply:
    """What the fake answers: status, JSON body and headers."""

    status: int
    body: JSONDict
    headers: dict[str, str] = field(default_factory=dict)


FakeEvent = Push | LoadingCall
"""What subscribers receive."""


__all__ = ["FakeEvent", "FakeReply", "LoadingCall", "Profile", "Push"]
