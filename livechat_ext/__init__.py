"""livechat_ext: real-time live chat for LINE Official Account operators, as a FastAPI plugin."""

from .access import Authorize, allow_all
from .auth import Operator, TokenVerifier, mint_token
from .broker import Broker, BrokerEvent, MemoryBroker, create_broker
from .core import LiveChat, create_app
from .deploy import uvicorn_options
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
from .outbound import Delivery
from .protocol import PROTOCOL_VERSION
from .settings import LiveChatSettings
from .store import Store, create_store
from .webhook_request import WebhookResult

__version__ = "0.1.0"

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
