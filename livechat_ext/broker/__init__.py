"""Brokers by URL scheme: `memory://` (default) and `redis://`."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..errors import ConfigError
from .base import Broker, BrokerEvent, Cluster, EventHandler
from .memory import MemoryBroker

SCHEMES = ("memory", "redis", "rediss")


def create_broker(url: str, *, prefix: str = "livechat") -> Broker:
    """The broker for a URL; raises `ConfigError` for an unknown scheme or a missing driver."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryBroker()
    if scheme in ("redis", "rediss"):
        try:
            from .redis import RedisBroker
        except ImportError as exc:
            raise ConfigError(
                "the redis:// broker needs redis-py: pip install 'livechat-ext[redis]'"
            ) from exc
        return RedisBroker(url, prefix=prefix)
    raise ConfigError(f"unknown broker URL scheme {scheme!r}; known: {', '.join(SCHEMES)}")


__all__ = [
    "SCHEMES",
    "Broker",
    "BrokerEvent",
    "Cluster",
    "EventHandler",
    "MemoryBroker",
    "create_broker",
]
