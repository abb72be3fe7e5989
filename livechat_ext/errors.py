"""Error codes, close codes and the exception hierarchy of livechat_ext."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """The `code` of an `error` frame (PROTOCOL.md)."""

    BAD_FRAME = "bad_frame"
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    DELIVERY_FAILED = "delivery_failed"
    INTERNAL_ERROR = "internal_error"


class AuthErrorCode(StrEnum):
    """The `code` of an `auth_error` frame."""

    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    AUTH_TIMEOUT = "auth_timeout"


class CloseCode(IntEnum):
    """WebSocket close codes used by the server."""

    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    UNAUTHORIZED = 4001
    HEARTBEAT_TIMEOUT = 4002
    RATE_LIMIT_ABUSE = 4008


class LiveChatError(Exception):
    """Root of every exception raised by livechat_ext."""


class ConfigError(LiveChatError):
    """The settings or the objects passed to `LiveChat` cannot work."""


class AuthError(LiveChatError):
    """A token was refused; `code` says why."""

    def __init__(self, code: AuthErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StoreError(LiveChatError):
    """The store failed (a driver error, translated at the store boundary)."""


class BrokerError(LiveChatError):
    """The broker failed to publish or subscribe."""


class DeliveryError(LiveChatError):
    """A message could not be delivered to LINE.

    `transient` says whether trying again later may succeed; `detail` is LINE's
    own explanation where it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
        detail: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.transient = transient
        self.detail = detail


class InvalidSignatureError(LiveChatError):
    """A webhook's X-Line-Signature is missing or does not match its body."""


class InvalidWebhookError(LiveChatError):
    """A webhook body is not a LINE webhook payload."""


def describe(exc: BaseException) -> str:
    """An exception for a log line: its type always (a timeout has no text of
    its own), its text when it has one. Not `repr`: redis-py's hides the text."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
