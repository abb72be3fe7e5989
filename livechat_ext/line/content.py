"""Message content of a webhook event to the `kind` and `data` of our messages."""

from __future__ import annotations

from typing import Any

from livechat_ext.line.payloads import MessageContent
from livechat_ext.models import MessageKind

_KINDS: dict[str, MessageKind] = {
    kind.value: kind for kind in MessageKind if kind is not MessageKind.UNSUPPORTED
}

# The content fields copied into `data`, by kind (snake_case names).
_COMMON = ("quote_token", "quoted_message_id", "mark_as_read_token")
_FIELDS: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.TEXT: ("emojis", "mention"),
    MessageKind.STICKER: ("package_id", "sticker_id", "sticker_resource_type", "keywords", "text"),
    MessageKind.IMAGE: ("content_provider", "image_set"),
    MessageKind.VIDEO: ("content_provider", "duration"),
    MessageKind.AUDIO: ("content_provider", "duration"),
    MessageKind.FILE: ("file_name", "file_size"),
    MessageKind.LOCATION: ("title", "address", "latitude", "longitude"),
}

# Without these a kind cannot be shown as itself: the message is then `unsupported`.
_REQUIRED: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.TEXT: ("text",),
    MessageKind.STICKER: ("package_id", "sticker_id"),
    MessageKind.LOCATION: ("latitude", "longitude"),
}


def message_kind(content: MessageContent) -> MessageKind:
    """Our kind for a content: LINE's `type` when we know it and the content has
    what that kind needs, else `unsupported`."""
    kind = _KINDS.get(content.type, MessageKind.UNSUPPORTED)
    if any(getattr(content, name) is None for name in _REQUIRED.get(kind, ())):
        return MessageKind.UNSUPPORTED
    return kind


def content_data(kind: MessageKind, content: MessageContent) -> dict[str, Any]:
    """The `data` of a message: LINE's message id as `message_id`, plus the
    kind's own fields; a field LINE left out is left out here too."""
    fields = (*_FIELDS.get(kind, ()), *_COMMON)
    data: dict[str, Any] = {"message_id": content.id}
    data.update(content.model_dump(include=set(fields), exclude_none=True))
    return data
