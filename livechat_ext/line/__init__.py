"""LINE side of livechat_ext: webhook parsing in, the Messaging API out."""

from livechat_ext.line.client import (
    MAX_TEXT_LENGTH,
    LineClient,
    Profile,
    PushResult,
    retry_key_for,
    text_length,
)
from livechat_ext.line.webhook import InboundEvent, parse_webhook, sign, verify_signature

__all__ = [
    "MAX_TEXT_LENGTH",
    "InboundEvent",
    "LineClient",
    "Profile",
    "PushResult",
    "parse_webhook",
    "retry_key_for",
    "sign",
    "text_length",
    "verify_signature",
]
