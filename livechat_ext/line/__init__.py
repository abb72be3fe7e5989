"""LINE side of livechat_ext: webhook parsing in, the Messaging API out."""

from livechat_ext.line.client import (
    MAX_TEXT_LENGTH,
    LineClient,
    Profile,
    PushResult,
    retry_key_for,
)
from livechat_ext.line.webhook import (
    InboundEvent,
    RejectedEvent,
    WebhookBatch,
    parse_webhook,
    read_webhook,
    sign,
    verify_signature,
)

__all__ = [
    "MAX_TEXT_LENGTH",
    "InboundEvent",
    "LineClient",
    "Profile",
    "PushResult",
    "RejectedEvent",
    "WebhookBatch",
    "parse_webhook",
    "read_webhook",
    "retry_key_for",
    "sign",
    "verify_signature",
]
