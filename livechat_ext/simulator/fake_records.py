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

    @classmethod
    def from_json(cls, data: JSONDict) -> Push:
        """Read what `to_json` wrote; raises KeyError, TypeError or ValueError otherwise."""
        return cls(
            request_id=str(data["request_id"]),
            to=str(data["to"]),
            messages=tuple(dict(m) for m in data["messages"]),
            sent_messages=tuple(
                {str(k): str(v) for k, v in m.items()} for m in data["sent_messages"]
            ),
            retry_key=None if data.get("retry_key") is None else str(data["retry_key"]),
            notification_disabled=bool(data.get("notification_disabled", False)),
            accepted_at=float(data["accepted_at"]),
            delivered=bool(data["delivered"]),
        )

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

    @classmethod
    def from_json(cls, data: JSONDict) -> Profile:
        """Read LINE's shape (what `to_json` writes); raises KeyError otherwise."""
        return cls(
            user_id=str(data["userId"]),
            display_name=str(data["displayName"]),
            picture_url=data.get("pictureUrl"),
            status_message=data.get("statusMessage"),
            language=str(data.get("language", "en")),
        )

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
