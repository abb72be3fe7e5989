"""`LiveChatSettings`: every setting, read from `LIVECHAT_*` environment variables."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import ConfigError

DEMO_JWT_SECRET = "livechat-demo-secret-not-for-production-use-0123456789"
DEMO_CHANNEL_SECRET = "livechat-demo-channel-secret"
DEMO_ACCESS_TOKEN = "livechat-demo-access-token"
_UNSAFE_ALGORITHMS = {"none", ""}
MIN_JWT_SECRET_BYTES = 32
_PLACEHOLDER = "change-me"  # how every secret in config/example.env begins
_PUBLISHED_SECRETS = {DEMO_JWT_SECRET, DEMO_CHANNEL_SECRET, DEMO_ACCESS_TOKEN}


def _split_list(value: Any) -> Any:
    """Accept a JSON list or a comma-separated string, as people write it."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class LiveChatSettings(BaseSettings):
    """Settings of one `LiveChat`; env names are `LIVECHAT_` + the field name upper-cased."""

    model_config = SettingsConfigDict(
        env_prefix="LIVECHAT_", env_file=None, extra="ignore", validate_default=True
    )

    demo: bool = False
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_algorithms: Annotated[list[str], NoDecode] = ["HS256"]
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway: float = Field(default=0.0, ge=0)

    line_channel_secret: str | None = None
    line_channel_access_token: str | None = None
    # the bot's user id (LINE's webhook `destination`); when set, other destinations are refused
    line_bot_user_id: str | None = Field(default=None, pattern=r"^U[0-9a-f]{32}$")
    line_api_base_url: str = "https://api.line.me"
    line_timeout: float = Field(default=10.0, gt=0)
    line_max_attempts: int = Field(default=4, ge=1, le=10)
    line_backoff_base: float = Field(default=0.5, gt=0)
    send_lease: float | None = Field(default=None, gt=0)
    webhook_path: str | None = "/line/webhook"
    loading_animation: bool = True
    loading_seconds: int = Field(default=10, ge=5, le=60)
    handoff_window: float = Field(default=600.0, ge=0)
    conversation_update_interval: float = Field(default=0.25, ge=0)

    broker_url: str = "memory://"
    broker_prefix: str = Field(default="livechat", min_length=1, max_length=64)
    presence_ttl: float = Field(default=6.0, gt=0)
    store_url: str = "sqlite+aiosqlite:///./livechat.db"
    # an empty database gets the schema at start; one that is behind is refused
    # (run `livechat-ext db upgrade`) unless upgrade_schema says to upgrade it
    create_schema: bool = True
    upgrade_schema: bool = False

    allowed_origins: Annotated[list[str], NoDecode] = []
    heartbeat_interval: float = Field(default=30.0, gt=0)
    auth_timeout: float = Field(default=10.0, gt=0)
    typing_timeout: float = Field(default=6.0, gt=0)
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=40, ge=1)
    max_frame_bytes: int = Field(default=65536, ge=256)
    history_limit: int = Field(default=50, ge=1, le=1000)
    presence_grace: float = Field(default=3.0, ge=0)
    send_queue_size: int = Field(default=256, ge=1)
    max_connections: int = Field(default=10_000, ge=1)
    max_connections_per_client: int = Field(default=200, ge=1)  # authenticated, per address
    # sockets that have not authenticated yet, per address: a new one past this
    # closes the oldest (1013), so idle unauthenticated sockets cannot lock operators out
    max_unauthenticated_per_client: int = Field(default=20, ge=1)
    max_conversations_per_connection: int = Field(default=500, ge=1)
    webhook_max_bytes: int = Field(default=1_048_576, ge=1024)
    # seconds to receive a whole webhook body; a slower one is answered 408
    webhook_read_timeout: float = Field(default=10.0, gt=0)
    metrics_path: str | None = "/live-chat/metrics"
    api_prefix: str = "/live-chat"
    console: bool | None = None

    @field_validator("jwt_algorithms", "allowed_origins", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("jwt_algorithms")
    @classmethod
    def _safe_algorithms(cls, value: list[str]) -> list[str]:
        bad = [alg for alg in value if alg.strip().lower() in _UNSAFE_ALGORITHMS]
        if bad or not value:
            raise ValueError("jwt_algorithms must name real algorithms; 'none' is refused")
        return value

    @field_validator("line_bot_user_id", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_path", "metrics_path", mode="before")
    @classmethod
    def _webhook_off(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"", "off", "none", "false"}:
            return None
        return value

    @model_validator(mode="after")
    def _demo_defaults(self) -> LiveChatSettings:
        if self.demo:
            self.jwt_secret = self.jwt_secret or DEMO_JWT_SECRET
            self.line_channel_secret = self.line_channel_secret or DEMO_CHANNEL_SECRET
            self.line_channel_access_token = self.line_channel_access_token or DEMO_ACCESS_TOKEN
        return self

    @property
    def console_enabled(self) -> bool:
        return self.demo if self.console is None else self.console

    def check(self) -> None:
        """Raise `ConfigError` when a setting that must not default is missing or,
        outside demo mode, is a published placeholder or a JWT secret under 32 bytes."""
        missing = []
        if not (self.jwt_secret or self.jwt_public_key):
            missing.append("LIVECHAT_JWT_SECRET (or LIVECHAT_JWT_PUBLIC_KEY)")
        if not self.line_channel_secret:
            missing.append("LIVECHAT_LINE_CHANNEL_SECRET")
        if missing:
            raise ConfigError(
                "livechat_ext cannot start without "
                + ", ".join(missing)
                + " (or set LIVECHAT_DEMO=true for a demo)"
            )
        if not self.demo:
            self._check_secrets()

    def _check_secrets(self) -> None:
        secrets = {
            "LIVECHAT_JWT_SECRET": self.jwt_secret,
            "LIVECHAT_LINE_CHANNEL_SECRET": self.line_channel_secret,
            "LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN": self.line_channel_access_token,
        }
        for name, value in secrets.items():
            if value and (
                value.strip().lower().startswith(_PLACEHOLDER) or value in _PUBLISHED_SECRETS
            ):
                raise ConfigError(
                    f"{name} is still a placeholder from config/example.env or the demo; "
                    "set the real value"
                )
        size = len((self.jwt_secret or "").encode("utf-8"))
        if self.jwt_secret and size < MIN_JWT_SECRET_BYTES:
            raise ConfigError(
                f"LIVECHAT_JWT_SECRET is {size} bytes; use at least {MIN_JWT_SECRET_BYTES} "
                "random bytes (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
