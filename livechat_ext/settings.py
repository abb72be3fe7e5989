"""`LiveChatSettings`: every setting, read from `LIVECHAT_*` environment variables."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .errors import ConfigError

DEMO_JWT_SECRET = "livechat-demo-secret-not-for-production-use-0123456789"
DEMO_CHANNEL_SECRET = "livechat-demo-channel-secret"
DEMO_ACCESS_TOKEN = "livechat-demo-access-token"
_UNSAFE_ALGORITHMS = {"none", ""}
MIN_JWT_SECRET_BYTES = 32
_PLACEHOLDER = "change-me"  # how every secret in config/example.env begins
_PUBLISHED_SECRETS = {DEMO_JWT_SECRET, DEMO_CHANNEL_SECRET, DEMO_ACCESS_TOKEN}
LEGACY_STORE_FILE = "livechat.db"
log = logging.getLogger("livechat_ext.settings")


def is_placeholder(value: str | None) -> bool:
    """Whether a secret is a `change-me` placeholder of config/example.env or a
    published demo secret."""
    return bool(value) and (
        str(value).strip().lower().startswith(_PLACEHOLDER) or value in _PUBLISHED_SECRETS
    )


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
    _store_in_data_dir: bool = PrivateAttr(default=False)
    _store_note: str = PrivateAttr(default="")

    demo: bool = Field(
        default=False,
        description="Demo mode: public demo secrets, the console on. Never in production.",
    )
    jwt_secret: str | None = Field(
        default=None,
        description="Shared secret that signs operator tokens (HS256): 32+ random bytes. "
        "Required outside demo mode unless `LIVECHAT_JWT_PUBLIC_KEY` is set.",
    )
    jwt_public_key: str | None = Field(
        default=None,
        description="PEM public key that verifies tokens your identity provider signs "
        "(with `LIVECHAT_JWT_ALGORITHMS=RS256` or `ES256`).",
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default=["HS256"], description="Accepted token algorithms (`none` is refused)."
    )
    jwt_audience: str | None = Field(
        default=None, description="When set, a token's `aud` must name it."
    )
    jwt_issuer: str | None = Field(
        default=None, description="When set, a token's `iss` must be it."
    )
    jwt_leeway: float = Field(
        default=0.0, ge=0, description="Seconds of clock skew allowed on `exp`."
    )

    line_channel_secret: str | None = Field(
        default=None,
        description="The channel secret (LINE Developers console): checks webhook "
        "signatures. Required outside demo mode.",
    )
    line_channel_access_token: str | None = Field(
        default=None,
        description="The channel access token: sends replies, loading animations, reads "
        "profiles. Required outside demo mode.",
    )
    line_bot_user_id: str | None = Field(
        default=None,
        pattern=r"^U[0-9a-f]{32}$",
        description="The bot's user id (webhook `destination`); when set, webhooks for "
        "another bot are refused with 400.",
    )
    line_api_base_url: str = Field(
        default="https://api.line.me",
        description="LINE Messaging API base URL (the demo points it at its fake).",
    )
    line_timeout: float = Field(default=10.0, gt=0, description="Seconds per LINE API call.")
    line_max_attempts: int = Field(
        default=4, ge=1, le=10, description="Attempts per send on network errors, 429 and 5xx."
    )
    line_backoff_base: float = Field(
        default=0.5, gt=0, description="Seconds before the first retry; doubles each time."
    )
    line_data_base_url: str = Field(
        default="https://api-data.line.me",
        description="LINE's content API base URL (images, video, audio and files users send).",
    )
    media_max_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest content (image, video, audio, file) kept; larger is not stored.",
    )
    media_fetch_concurrency: int = Field(
        default=4, ge=1, le=64, description="Contents fetched from LINE at once per process."
    )
    media_fetch_attempts: int = Field(
        default=8,
        ge=1,
        le=30,
        description="Tries per content while LINE answers 202 (not ready) or fails; "
        "a later pass tries again.",
    )
    media_fetch_backoff: float = Field(
        default=1.0, gt=0, description="Seconds before the second try; doubles, at most 30."
    )
    media_url_ttl: int = Field(
        default=3600,
        ge=60,
        description="Seconds an operator's signed content URL stays valid (at least).",
    )
    media_url_secret: str | None = Field(
        default=None,
        description="Key that signs content URLs (default: derived from "
        "`LIVECHAT_JWT_SECRET`); the same on every node.",
    )
    send_lease: float | None = Field(
        default=None,
        gt=0,
        description="Seconds a node holds a send before another may take it over "
        "(default: long enough for every attempt).",
    )
    webhook_path: str | None = Field(
        default="/line/webhook",
        description="The webhook route; `off` when your own route calls `handle_webhook`.",
    )
    loading_animation: bool = Field(
        default=True, description="Show LINE's loading animation while an operator types."
    )
    loading_seconds: int = Field(
        default=10, ge=5, le=60, description="Length of one loading animation (5 to 60)."
    )
    handoff_window: float = Field(
        default=600.0,
        ge=0,
        description="Seconds after an operator's last message during which `is_live` stays true.",
    )
    direct_write: bool = Field(
        default=True,
        description="Write a room's frame, built once, straight to each socket's uvicorn "
        "transport where nothing wraps the ASGI send (a third less CPU per delivered frame; "
        "see bench/README.md). Any other server, a host middleware that wraps sends, "
        "permessage-deflate or a paused socket takes the ASGI send anyway; false sends "
        "every frame through ASGI.",
    )
    conversation_update_interval: float = Field(
        default=1.0,
        ge=0,
        description="Seconds over which `conversation_updated` is coalesced: a quiet "
        "conversation's change goes out at once, the changes after it at most once a window.",
    )

    data_dir: Path = Field(
        default=Path("livechat-data"),
        description="The one folder where the plugin keeps files: the default SQLite store, "
        "the demo's state. A relative path is taken from the working folder at start.",
    )
    broker_url: str = Field(
        default="memory://",
        description="`memory://` (one process) or `redis://host:6379/0` (several).",
    )
    broker_prefix: str = Field(
        default="livechat",
        min_length=1,
        max_length=64,
        description="Key and channel prefix: separates deployments sharing one Redis.",
    )
    presence_ttl: float = Field(
        default=6.0, gt=0, description="Seconds before a silent node counts as dead."
    )
    store_url: str = Field(
        default="",
        description="`sqlite+aiosqlite:///path.db` or `postgresql+asyncpg://...`. Default: "
        "`livechat.db` in `LIVECHAT_DATA_DIR` (or `./livechat.db` where that file exists "
        "already, the default of earlier releases).",
        json_schema_extra={"shown_default": "`<data_dir>/livechat.db`"},
    )
    sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full",
        description="SQLite's `synchronous` in WAL mode. `full`: a message is on disk "
        "before LINE gets its 200, even through a power loss. `normal`: no fsync per "
        "commit (about 0.6 ms of CPU per message here); a crash of the process loses "
        "nothing, a power loss or OS crash can lose the last commits.",
    )
    create_schema: bool = Field(
        default=True,
        description="Create the store's tables at start when the database is empty.",
    )
    upgrade_schema: bool = Field(
        default=False,
        description="Upgrade a schema that is behind at start (otherwise start-up refuses "
        "and names `livechat-ext db upgrade`).",
    )

    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Origins of admin pages on another origin allowed to open the WebSocket "
        "(same-origin is always allowed).",
    )
    heartbeat_interval: float = Field(
        default=30.0,
        gt=0,
        description="Seconds between client pings; silence for twice that closes with 4002.",
    )
    auth_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a socket has to authenticate."
    )
    typing_timeout: float = Field(
        default=6.0, gt=0, description="Seconds after which typing stops by itself."
    )
    rate_limit_per_second: float = Field(
        default=20.0, gt=0, description="Frames per second per connection."
    )
    rate_limit_burst: int = Field(default=40, ge=1, description="Burst of the rate limit.")
    max_frame_bytes: int = Field(
        default=65536, ge=256, description="Largest WebSocket frame (1009 beyond)."
    )
    history_limit: int = Field(
        default=50, ge=1, le=1000, description="Messages per `conversation_joined` page."
    )
    presence_grace: float = Field(
        default=3.0, ge=0, description="Seconds before `offline` is announced (absorbs reloads)."
    )
    presence_window: float = Field(
        default=0.25,
        ge=0,
        le=1.0,
        description=(
            "Seconds of presence changes sent together as one `operators_changed` "
            "(widened up to 1 s on a node with many sockets); 0 sends one "
            "`operator_status` per change, for 1.0 clients that do not know "
            "`operators_changed`."
        ),
    )
    send_queue_size: int = Field(
        default=256, ge=1, description="Frames queued per socket before it is closed with 1013."
    )
    max_connections: int = Field(default=10_000, ge=1, description="Sockets per process.")
    max_connections_per_client: int = Field(
        default=200, ge=1, description="Authenticated sockets per client address."
    )
    # sockets that have not authenticated yet, per address: a new one past this
    # closes the oldest (1013), so idle unauthenticated sockets cannot lock operators out
    max_unauthenticated_per_client: int = Field(
        default=20,
        ge=1,
        description="Sockets not yet authenticated per address; one more closes the oldest.",
    )
    max_conversations_per_connection: int = Field(
        default=500, ge=1, description="Conversations one socket may have joined."
    )
    webhook_max_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest webhook body (413 beyond)."
    )
    webhook_read_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to receive a whole webhook body (408 beyond)."
    )
    metrics_path: str | None = Field(
        default="/live-chat/metrics", description="Prometheus metrics route; `off` to disable."
    )
    api_prefix: str = Field(
        default="/live-chat",
        description="Prefix of the REST API, console, static client and health routes.",
    )
    console: bool | None = Field(
        default=None,
        description="Serve the operator console (default: on in demo mode only).",
        json_schema_extra={"shown_default": "demo mode"},
    )

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

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # fixed once: a later chdir must not move the plugin's files
        return (Path.cwd() / value.expanduser()).absolute()

    @model_validator(mode="after")
    def _demo_defaults(self) -> LiveChatSettings:
        if self.demo:
            self.jwt_secret = self.jwt_secret or DEMO_JWT_SECRET
            self.line_channel_secret = self.line_channel_secret or DEMO_CHANNEL_SECRET
            self.line_channel_access_token = self.line_channel_access_token or DEMO_ACCESS_TOKEN
        return self

    @model_validator(mode="after")
    def _default_store(self) -> LiveChatSettings:
        if not self.store_url:
            if Path(LEGACY_STORE_FILE).is_file():
                # earlier releases kept the store in the working folder: keep using it
                self.store_url = f"sqlite+aiosqlite:///./{LEGACY_STORE_FILE}"
                self._store_note = (
                    f"using ./{LEGACY_STORE_FILE} (the default of earlier releases); move it to "
                    f"{self.data_dir / LEGACY_STORE_FILE} or set LIVECHAT_STORE_URL"
                )
            else:
                self.store_url = f"sqlite+aiosqlite:///{self.data_dir / LEGACY_STORE_FILE}"
                self._store_in_data_dir = True
        return self

    def prepare_data_dir(self) -> None:
        """Create `data_dir` when the store lives in it (SQLite does not create
        folders), and log where an older release's store is still used."""
        if self._store_note:
            log.warning(self._store_note)
        if self._store_in_data_dir:
            self.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def console_enabled(self) -> bool:
        return self.demo if self.console is None else self.console

    def check(self, *, access_token: bool = True) -> None:
        """Raise `ConfigError` when a setting that must not default is missing or,
        outside demo mode, is a published placeholder or a JWT secret under 32 bytes.
        `access_token=False` when sends go through a host's own delivery or client."""
        missing = []
        if not (self.jwt_secret or self.jwt_public_key):
            missing.append("LIVECHAT_JWT_SECRET (or LIVECHAT_JWT_PUBLIC_KEY)")
        if not self.line_channel_secret:
            missing.append("LIVECHAT_LINE_CHANNEL_SECRET")
        if access_token and not self.line_channel_access_token:
            missing.append("LIVECHAT_LINE_CHANNEL_ACCESS_TOKEN")
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
            if is_placeholder(value):
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
