"""livechat_ext: real-time live chat for LINE Official Account operators, as a FastAPI plugin.

Only the light names (errors, wire models, the protocol version) load with the
package; the rest load on first use, so `import livechat_ext.protocol` does
not pull in the web stack, the database toolkit or the LINE SDK."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    AuthErrorCode,
    BrokerError,
    CloseCode,
    ConfigError,
    DeliveryError,
    ErrorCode,
    InvalidSignatureError,
    InvalidWebhookError,
    LiveChatError,
    StoreError,
)
from .models import Conversation, Direction, Message, MessageKind, MessageStatus, Sender
from .operator import Operator
from .protocol import PROTOCOL_VERSION

if TYPE_CHECKING:
    from .app import LiveChat
    from .auth import TokenVerifier, mint_token
    from .broker import Broker, BrokerEvent, MemoryBroker, create_broker
    from .flows.outbound import Delivery
    from .realtime.access import Authorize, allow_all
    from .settings import LiveChatSettings
    from .store import Store, create_store
    from .web.deploy import uvicorn_options
    from .web.host import create_app
    from .web.webhook_request import WebhookResult

__version__ = "0.1.0"

_LAZY = {
    "Authorize": "realtime.access",
    "allow_all": "realtime.access",
    "TokenVerifier": "auth",
    "mint_token": "auth",
    "Broker": "broker",
    "BrokerEvent": "broker",
    "MemoryBroker": "broker",
    "create_broker": "broker",
    "LiveChat": "app",
    "create_app": "web.host",
    "Delivery": "flows.outbound",
    "LiveChatSettings": "settings",
    "Store": "store",
    "create_store": "store",
    "uvicorn_options": "web.deploy",
    "WebhookResult": "web.webhook_request",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'livechat_ext' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next look-up is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "PROTOCOL_VERSION",
    "AuthError",
    "AuthErrorCode",
    "Authorize",
    "Broker",
    "BrokerError",
    "BrokerEvent",
    "CloseCode",
    "ConfigError",
    "Conversation",
    "Delivery",
    "DeliveryError",
    "Direction",
    "ErrorCode",
    "InvalidSignatureError",
    "InvalidWebhookError",
    "LiveChat",
    "LiveChatError",
    "LiveChatSettings",
    "MemoryBroker",
    "Message",
    "MessageKind",
    "MessageStatus",
    "Operator",
    "Sender",
    "Store",
    "StoreError",
    "TokenVerifier",
    "WebhookResult",
    "__version__",
    "allow_all",
    "create_app",
    "create_broker",
    "create_store",
    "mint_token",
    "uvicorn_options",
]
