"""The store: conversations, messages with per-conversation `seq`, webhook
event ids and send idempotency, on SQLite (the default) or PostgreSQL.

No database driver is imported until `create_store` is given its URL."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from ..errors import ConfigError
from ..models import utcnow
from .base import (
    ConversationPage,
    InboundResult,
    NewInbound,
    OutboundResult,
    Page,
    Store,
)
from .migrate import UPGRADE_COMMAND, SchemaError, SchemaState
from .schema import conversation_cursor
from .sql import SqlStore
from .workflow import ReadChange

DEFAULT_STORE_URL = "sqlite+aiosqlite:///livechat.db"
"""A SQLite file in the working folder."""

# scheme -> (driver module, how to install it)
_SCHEMES: dict[str, tuple[str, str]] = {
    "sqlite+aiosqlite": ("aiosqlite", "pip install 'livechat-ext'"),
    "postgresql+asyncpg": ("asyncpg", "pip install 'livechat-ext[postgres]'"),
}

_SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_store(
    url: str | None = None,
    *,
    engine: AsyncEngine | None = None,
    clock: Callable[[], datetime] = utcnow,
    sqlite_synchronous: str = "full",
) -> Store:
    """The store for `url` (default: a SQLite file in the working folder), or on
    the host's `engine`, which then takes precedence and is never disposed.

    Raises `ConfigError` for an unknown scheme or a missing driver."""
    if engine is not None:
        return SqlStore(engine, owns_engine=False, clock=clock)
    engine = _create_engine(url or DEFAULT_STORE_URL, sqlite_synchronous)
    return SqlStore(engine, owns_engine=True, clock=clock)


def _create_engine(raw_url: str, sqlite_synchronous: str = "full") -> AsyncEngine:
    try:
        url = make_url(raw_url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid store URL: {exc}") from exc
    if url.drivername not in _SCHEMES:
        known = ", ".join(f"{scheme}://" for scheme in _SCHEMES)
        raise ConfigError(f"unknown store URL scheme {url.drivername!r}; known: {known}")
    module, install = _SCHEMES[url.drivername]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"the store URL {url.drivername}:// needs {module}: {install}") from exc
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, sqlite_synchronous)
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: URL, synchronous: str = "full") -> AsyncEngine:
    """A SQLite engine in WAL mode whose writers wait for the lock instead of failing;
    `synchronous` (`full` or `normal`) is SQLite's durability of a commit."""
    if synchronous not in _SYNCHRONOUS:
        raise ConfigError(f"sqlite synchronous must be one of {', '.join(_SYNCHRONOUS)}")
    options: dict[str, Any] = {}
    if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        # Each connection would see its own empty database: keep exactly one.
        options.update(poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)
    engine = create_async_engine(url, **options)
    pragmas = (
        f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode = WAL",
        f"PRAGMA synchronous = {_SYNCHRONOUS[synchronous]}",
        "PRAGMA foreign_keys = ON",
    )

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)
    return engine


# WAL mode: FULL syncs the WAL on every commit; NORMAL only at checkpoints
_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}


__all__ = [
    "DEFAULT_STORE_URL",
    "UPGRADE_COMMAND",
    "ConversationPage",
    "InboundResult",
    "NewInbound",
    "OutboundResult",
    "Page",
    "ReadChange",
    "SchemaError",
    "SchemaState",
    "SqlStore",
    "Store",
    "conversation_cursor",
    "create_store",
]
