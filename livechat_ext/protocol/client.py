"""Client-to-server frames of PROTOCOL.md and their parsing at the edge."""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from ..errors import ErrorCode, LiveChatError
from ..models import MAX_LINE_USER_ID_LENGTH, utf16_length

MAX_REF_LENGTH = 64
MAX_TEXT_LENGTH = 5000


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)  # no store keeps NUL in text (PostgreSQL refuses it)
# the rule of models.valid_line_user_id (lone surrogates are refused with the frame)
LineUserId = Annotated[str, Field(min_length=1, max_length=MAX_LINE_USER_ID_LENGTH), NoNul]
MAX_SEQ = 2**63 - 1


class AuthPayload(_Payload):
    token: str = Field(min_length=1, max_length=8192)


class ConversationPayload(_Payload):
    line_user_id: LineUserId


class JoinPayload(_Payload):
    line_user_id: LineUserId
    after_seq: int | None = Field(default=None, ge=0, le=MAX_SEQ)
    after_rev: int | None = Field(default=None, ge=0, le=MAX_SEQ)  # 1.1: wins over after_seq


AdminId = Annotated[str, Field(min_length=1, max_length=128), NoNul]


class AssignPayload(_Payload):
    line_user_id: LineUserId
    admin_id: AdminId | None  # required: null unassigns, a missing field is a mistake


class MarkReadPayload(_Payload):
    line_user_id: LineUserId
    seq: int = Field(ge=1, le=MAX_SEQ)


def _line_text(value: str) -> str:
    if not value.strip():
        raise ValueError("text must not be blank")
    if utf16_length(value) > MAX_TEXT_LENGTH:
        raise ValueError(
            f"text is longer than {MAX_TEXT_LENGTH} characters (UTF-16 units, as LINE counts)"
        )
    return value


LineText = Annotated[str, Field(min_length=1), NoNul, AfterValidator(_line_text)]
ClientMsgId = Annotated[str, Field(min_length=1, max_length=64), NoNul]
StickerId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


class StickerPayload(_Payload):
    """A LINE sticker by its package and sticker ids (1.1)."""

    package_id: StickerId
    sticker_id: StickerId


class MessageSendPayload(_Payload):
    """A message to the LINE user: `text`, or (1.1) a `sticker`: exactly one."""

    line_user_id: LineUserId
    text: LineText | None = None
    sticker: StickerPayload | None = None
    client_msg_id: ClientMsgId

    @model_validator(mode="after")
    def _text_or_sticker(self) -> MessageSendPayload:
        if (self.text is None) == (self.sticker is None):
            raise ValueError("give exactly one of text and sticker")
        return self


class NoteSendPayload(_Payload):
    """An internal note: text only, with the same limits as a message to the user."""

    line_user_id: LineUserId
    text: LineText
    client_msg_id: ClientMsgId


class EmptyPayload(_Payload):
    pass


class _ClientFrame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    ref: str | None = None


class AuthFrame(_ClientFrame):
    type: Literal["auth"]
    payload: AuthPayload


class JoinConversationFrame(_ClientFrame):
    type: Literal["join_conversation"]
    payload: JoinPayload


class LeaveConversationFrame(_ClientFrame):
    type: Literal["leave_conversation"]
    payload: ConversationPayload


class TypingStartFrame(_ClientFrame):
    type: Literal["typing_start"]
    payload: ConversationPayload


class TypingStopFrame(_ClientFrame):
    type: Literal["typing_stop"]
    payload: ConversationPayload


class MessageSendFrame(_ClientFrame):
    type: Literal["message_send"]
    payload: MessageSendPayload


class ConversationAssignFrame(_ClientFrame):
    type: Literal["conversation_assign"]
    payload: AssignPayload


class ConversationResolveFrame(_ClientFrame):
    type: Literal["conversation_resolve"]
    payload: ConversationPayload


class ConversationReopenFrame(_ClientFrame):
    type: Literal["conversation_reopen"]
    payload: ConversationPayload


class MarkReadFrame(_ClientFrame):
    type: Literal["mark_read"]
    payload: MarkReadPayload


class NoteSendFrame(_ClientFrame):
    type: Literal["note_send"]
    payload: NoteSendPayload


class PingFrame(_ClientFrame):
    type: Literal["ping"]
    payload: EmptyPayload = EmptyPayload()


ClientFrame = Annotated[
    AuthFrame
    | JoinConversationFrame
    | LeaveConversationFrame
    | TypingStartFrame
    | TypingStopFrame
    | MessageSendFrame
    | ConversationAssignFrame
    | ConversationResolveFrame
    | ConversationReopenFrame
    | MarkReadFrame
    | NoteSendFrame
    | PingFrame,
    Field(discriminator="type"),
]
CLIENT_TYPES = frozenset(
    {
        "auth",
        "join_conversation",
        "leave_conversation",
        "typing_start",
        "typing_stop",
        "message_send",
        "conversation_assign",
        "conversation_resolve",
        "conversation_reopen",
        "mark_read",
        "note_send",
        "ping",
    }
)
_client_adapter: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


class FrameError(LiveChatError):
    """A client frame that cannot be served; becomes an `error` frame."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        ref: str | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref
        self.details = details


def _details(exc: ValidationError, kind: str) -> list[dict[str, str]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = list(err["loc"])
        if loc and loc[0] == kind:  # the discriminator's tag, not a field
            loc = loc[1:]
        out.append({"field": ".".join(str(part) for part in loc), "reason": err["msg"]})
    return out


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(value: object) -> bool:
    stack = [value]  # iterative: nesting depth is the client's to choose
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_client_frame(raw: str | bytes) -> ClientFrame:
    """Parse one text frame into a client frame model.

    Raises `FrameError` (`invalid_json`, `invalid_message` or `unknown_type`),
    carrying the frame's `ref` whenever it could be read.
    """
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise FrameError(ErrorCode.INVALID_JSON, "frame is not valid JSON") from exc
    text = raw if isinstance(raw, str) else ""
    if (not text or _SURROGATE_ESCAPE.search(text)) and _lone_surrogate(data):
        # "\ud800" alone is JSON that no UTF-8 text can carry back: refuse it here
        raise FrameError(ErrorCode.INVALID_JSON, "frame has an unpaired UTF-16 surrogate escape")
    if not isinstance(data, dict):
        raise FrameError(
            ErrorCode.INVALID_MESSAGE,
            "frame must be a JSON object",
            details=[{"field": "", "reason": "expected an object"}],
        )
    ref = data.get("ref")
    if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_REF_LENGTH):
        raise FrameError(
            ErrorCode.INVALID_MESSAGE,
            "ref must be a string of at most 64 characters",
            details=[{"field": "ref", "reason": "string, at most 64 characters"}],
        )
    kind = data.get("type")
    if not isinstance(kind, str):
        raise FrameError(
            ErrorCode.INVALID_MESSAGE,
            "frame has no string 'type'",
            ref=ref,
            details=[{"field": "type", "reason": "required string"}],
        )
    if kind not in CLIENT_TYPES:
        raise FrameError(ErrorCode.UNKNOWN_TYPE, f"unknown frame type {kind[:64]!r}", ref=ref)
    if "payload" in data:
        payload = data["payload"]
        if payload is None:
            payload = {}
    else:
        payload = {k: v for k, v in data.items() if k not in {"type", "ref", "timestamp"}}
    try:
        return _client_adapter.validate_python({"type": kind, "payload": payload, "ref": ref})
    except ValidationError as exc:
        raise FrameError(
            ErrorCode.INVALID_MESSAGE, f"invalid {kind} frame", ref=ref, details=_details(exc, kind)
        ) from exc
