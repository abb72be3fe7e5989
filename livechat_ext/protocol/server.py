"""Server-to-client frames of PROTOCOL.md: payload models, a parsing union for
Python clients and tests, and serialization done once per event."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, field_serializer

from ..errors import AuthErrorCode, ErrorCode
from ..models import Conversation, Message, iso_ms, utcnow

PROTOCOL_VERSION = "1.1"
"""`auth_success.protocol_version`; the JavaScript client's constant equals it."""


class ServerPayload(BaseModel):
    """The base of every server-to-client payload model."""

    model_config = ConfigDict(frozen=True, extra="allow")


class OperatorState(ServerPayload):
    admin_id: str
    status: Literal["online", "offline"]
    last_seen: datetime | None = None
    name: str | None = None  # 1.1: the token's `name`, or the admin id

    @field_serializer("last_seen")
    def _ser(self, value: datetime | None) -> str | None:
        return None if value is None else iso_ms(value)


class AuthSuccess(ServerPayload):
    admin_id: str
    session_id: str
    heartbeat_interval: float
    operators: list[OperatorState]
    protocol_version: str = PROTOCOL_VERSION
    # added: changes with every start of the server process (and differs between
    # nodes); a client that sees it change refetches what it shows
    server_instance: str | None = None


class AuthErrorPayload(ServerPayload):
    code: AuthErrorCode
    message: str


class ConversationJoined(ServerPayload):
    line_user_id: str
    last_seq: int
    last_rev: int = 0
    messages: list[Message]
    has_more: bool
    typing: list[str]


class ConversationLeft(ServerPayload):
    line_user_id: str


class MessageReceived(ServerPayload):
    message: Message


class MessageUpdated(ServerPayload):
    message: Message


class MessageSent(ServerPayload):
    client_msg_id: str
    message: Message


class UserTyping(ServerPayload):
    line_user_id: str
    admin_id: str
    is_typing: bool
    name: str | None = None  # added: the operator's display name, as in presence


class ConversationUpdated(ServerPayload):
    conversation: Conversation


class OperatorStatus(OperatorState):
    """The `operator_status` frame: one operator's change, with the fields of an
    `auth_success.operators` entry (a class of its own names the frame type)."""


class OperatorsChanged(ServerPayload):
    """1.1 `operators_changed`: the presence changes of a short window, coalesced
    (each operator at most once, in its latest state)."""

    operators: list[OperatorState]


class Notification(ServerPayload):
    kind: str
    title: str
    body: str
    line_user_id: str | None = None
    data: dict[str, Any] | None = None


class Pong(ServerPayload):
    pass


class ErrorPayload(ServerPayload):
    code: ErrorCode
    message: str
    client_msg_id: str | None = None
    details: Any = None


PAYLOADS: dict[str, type[ServerPayload]] = {
    "auth_success": AuthSuccess,
    "auth_error": AuthErrorPayload,
    "conversation_joined": ConversationJoined,
    "conversation_left": ConversationLeft,
    "message_received": MessageReceived,
    "message_updated": MessageUpdated,
    "message_sent": MessageSent,
    "user_typing": UserTyping,
    "conversation_updated": ConversationUpdated,
    "operator_status": OperatorStatus,
    "operators_changed": OperatorsChanged,
    "notification": Notification,
    "pong": Pong,
    "error": ErrorPayload,
}
SERVER_TYPES = frozenset(PAYLOADS)
_OPTIONAL = {"notification": ("line_user_id", "data"), "error": ("client_msg_id", "details")}


def encode(payload: ServerPayload, ref: str | None = None) -> str:
    """Serialize one server frame. Call it once per event, never once per socket."""
    type_ = _TYPE_OF[type(payload)]
    body = payload.model_dump(mode="json")
    for name in _OPTIONAL.get(type_, ()):
        if body.get(name) is None:
            body.pop(name, None)
    out: dict[str, Any] = {"type": type_, "payload": body, "timestamp": iso_ms(utcnow())}
    if ref is not None:
        out["ref"] = ref
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


_TYPE_OF = {model: name for name, model in PAYLOADS.items()}
_EMPTY_LIST = '"operators":[]'


def operator_entry(admin_id: str, status: str, last_seen: datetime | str | None, name: str) -> str:
    """One `{admin_id, status, last_seen, name}` entry as JSON, the form of an
    `auth_success.operators` item and an `operators_changed` item: made once
    per change and kept, so a list of N operators is a join, not N dumps."""
    seen = iso_ms(last_seen) if isinstance(last_seen, datetime) else last_seen
    entry = {"admin_id": admin_id, "status": status, "last_seen": seen, "name": name}
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def encode_with_operators(payload: ServerPayload, entries: str, ref: str | None = None) -> str:
    """`encode` a payload whose `operators` is given as already-serialized entries
    (`operator_entry`s joined with commas): `payload.operators` must be empty."""
    text = encode(payload, ref)
    # an empty list in a string value would be escaped ("\"operators\""): the
    # first unescaped match is the payload's own field
    return text.replace(_EMPTY_LIST, f'"operators":[{entries}]', 1)


class ServerFrame(BaseModel):
    """A server frame as a client reads it (for Python clients and tests)."""

    model_config = ConfigDict(frozen=True)
    type: str
    payload: dict[str, Any]
    timestamp: str
    ref: str | None = None

    def parsed(self) -> ServerPayload:
        return PAYLOADS[self.type].model_validate(self.payload)


def decode(raw: str | bytes) -> ServerFrame:
    """Parse a server frame; raises pydantic's ValidationError on a bad one."""
    frame = _server_adapter.validate_json(raw)
    if frame.type not in PAYLOADS:
        raise ValueError(f"unknown server frame type {frame.type!r}")
    frame.parsed()
    return frame


_server_adapter: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)


def error(
    code: ErrorCode,
    message: str,
    *,
    ref: str | None = None,
    client_msg_id: str | None = None,
    details: Any = None,
) -> str:
    """An `error` frame."""
    return encode(
        ErrorPayload(code=code, message=message, client_msg_id=client_msg_id, details=details), ref
    )


__all__ = [
    "PAYLOADS",
    "PROTOCOL_VERSION",
    "SERVER_TYPES",
    "AuthErrorPayload",
    "AuthSuccess",
    "ConversationJoined",
    "ConversationLeft",
    "ConversationUpdated",
    "ErrorPayload",
    "MessageReceived",
    "MessageSent",
    "MessageUpdated",
    "Notification",
    "OperatorState",
    "OperatorStatus",
    "OperatorsChanged",
    "Pong",
    "ServerFrame",
    "ServerPayload",
    "UserTyping",
    "decode",
    "encode",
    "encode_with_operators",
    "error",
    "operator_entry",
]
