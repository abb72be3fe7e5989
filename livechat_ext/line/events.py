"""One LINE webhook event to an `InboundEvent`, our frozen view of it.

Each event is read on its own: one LINE cannot make us read (a field of the wrong
type, a missing id) is refused with `InvalidWebhookError` without touching the
others, and a value LINE adds to an enumeration never makes a known event unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from livechat_ext.errors import InvalidWebhookError
from livechat_ext.line.content import content_data, message_kind
from livechat_ext.line.payloads import (
    EventHeader,
    Follow,
    MessageContent,
    Postback,
    Unsend,
)
from livechat_ext.models import MessageKind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True)
class InboundEvent:
    """One webhook event, reduced to what livechat_ext uses.

    `type` is LINE's event type (`message`, `follow`, `unfollow`, `unsend`,
    `postback`, or any other raw type). For message events `kind`, `text` and
    `data` describe the content; a content type we do not know (or one missing
    what its kind needs) has kind `unsupported` and `data["line_type"]`.
    """

    webhook_event_id: str
    type: str
    mode: str
    timestamp: datetime
    is_redelivery: bool
    source_type: str
    line_user_id: str | None
    group_id: str | None
    reply_token: str | None
    kind: MessageKind | None = None
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    follow_is_unblocked: bool | None = None
    unsend_message_id: str | None = None
    postback_data: str | None = None
    postback_params: dict[str, str] | None = None


def read_event(raw: object) -> InboundEvent:
    """Read one event object of a webhook body (LINE's camelCase keys).

    Raises `InvalidWebhookError` naming the first problems (field paths, never
    the values: they may be a user's words) when a field we use is missing or of
    the wrong type.
    """
    header = _parse(EventHeader, raw)
    body: dict[str, Any] = raw if isinstance(raw, dict) else {}  # a dict, or refused above
    source = header.source
    inbound = InboundEvent(
        webhook_event_id=header.webhook_event_id,
        type=header.type,
        mode=header.mode,
        timestamp=_EPOCH + timedelta(milliseconds=header.timestamp),
        is_redelivery=header.delivery_context.is_redelivery,
        source_type=source.type if source else "unknown",
        line_user_id=source.user_id if source else None,
        group_id=(source.group_id or source.room_id) if source else None,
        reply_token=header.reply_token,
    )
    if header.type == "message":
        return _with_message(inbound, body.get("message"))
    if header.type == "postback":
        postback = _parse(Postback, body.get("postback"), "postback")
        return replace(inbound, postback_data=postback.data, postback_params=postback.params)
    if header.type == "unsend":
        unsend = _parse(Unsend, body.get("unsend"), "unsend")
        return replace(inbound, unsend_message_id=unsend.message_id)
    if header.type == "follow":
        try:  # a follow is a follow even when its detail is unreadable
            follow = Follow.model_validate(body.get("follow"))
        except ValidationError:
            return inbound
        return replace(inbound, follow_is_unblocked=follow.is_unblocked)
    return inbound


def _with_message(inbound: InboundEvent, raw: object) -> InboundEvent:
    content = _content(raw)
    kind = message_kind(content)
    if kind is MessageKind.UNSUPPORTED:
        data = {"line_type": content.type, "message_id": content.id}
        return replace(inbound, kind=kind, text=content.text, data=data)
    text = content.text if kind is MessageKind.TEXT else None
    return replace(inbound, kind=kind, text=text, data=content_data(kind, content))


def _content(raw: object) -> MessageContent:
    """The content, without the fields whose shape we do not know (keep what is
    known: a text with an odd `emojis` is still a text)."""
    try:
        return MessageContent.model_validate(raw)
    except ValidationError as exc:
        odd = {error["loc"][0] for error in exc.errors() if error["loc"]}
        if not isinstance(raw, dict) or not odd or odd & {"id", "type"}:
            raise InvalidWebhookError(_describe(exc, "message")) from exc
        return _parse(MessageContent, {k: v for k, v in raw.items() if k not in odd}, "message")


def _parse(model: type[_M], raw: object, where: str = "") -> _M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidWebhookError(_describe(exc, where)) from exc


def _describe(exc: ValidationError, where: str) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        path = ".".join(str(part) for part in (where, *error["loc"]) if part != "")
        problems.append(f"{path or 'event'}: {error['msg']}")
    return "; ".join(problems)
