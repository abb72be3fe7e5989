"""Message content of a webhook event to the `kind` and `data` of our messages."""

from __future__ import annotations

import re
from typing import Any

from livechat_ext.models import MessageKind

_KINDS: dict[str, MessageKind] = {
    kind.value: kind for kind in MessageKind if kind is not MessageKind.UNSUPPORTED
}

# The content fields copied into `data`, by kind, after `snake_keys`.
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

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def message_kind(line_type: str) -> MessageKind:
    """Our kind for LINE's content `type`; `unsupported` for any other type."""
    return _KINDS.get(line_type, MessageKind.UNSUPPORTED)


def snake_keys(value: Any) -> Any:
    """`value` with every dict key, at any depth, from camelCase to snake_case."""
    if isinstance(value, dict):
        return {_snake(str(key)): snake_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


def content_data(kind: MessageKind, content: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a message: LINE's message id as `message_id`, plus the
    kind's own fields; a field LINE left out is left out here too."""
    data: dict[str, Any] = {"message_id": content.get("id")}
    for name in (*_FIELDS.get(kind, ()), *_COMMON):
        if content.get(name) is not None:
            data[name] = content[name]
    return data


def _snake(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()
