"""Shared fixtures. A test that needs a missing service or browser skips
locally with the reason, and fails under CI=true so CI cannot pass by skipping.

The test services: LIVECHAT_TEST_PG (a PostgreSQL URL whose user may create
databases) and LIVECHAT_TEST_REDIS (a Redis URL; tests write keys only under
their own prefix and delete them)."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("LIVECHAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LIVECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")
SESSION_PREFIX = f"lctest-{uuid.uuid4().hex[:8]}"
"""Every Redis key this test run writes to REDIS_URL starts with it."""
_REDIS_USED: list[str] = []


def need(ok: bool, reason: str) -> None:
    """Skip the test when `ok` is false; under CI=true, fail it instead."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _ephemeral_low() -> int:
    """The first port the kernel hands to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_PORTS_LOW = 10_000
_PORTS_HIGH = max(_ephemeral_low(), _PORTS_LOW + 1000)
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_WORKERS = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")), _WORKER + 1)
_SLICE = (_PORTS_HIGH - _PORTS_LOW) // _WORKERS
_next_port = _PORTS_LOW + _WORKER * _SLICE + random.randrange(_SLICE)


def free_port() -> int:
    """A port nothing listens on, for a server a test starts (often in another
    process, so the port cannot stay bound until then). It lies below the kernel's
    ephemeral range, where no outgoing connection can take it in the meantime,
    and in a slice of its own for each pytest-xdist worker, so two workers never
    hand out the same one."""
    global _next_port
    start = _PORTS_LOW + _WORKER * _SLICE
    for _ in range(_SLICE):
        port = _next_port
        _next_port = start + (_next_port + 1 - start) % _SLICE
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken, or lingering after an earlier test: the next one
            return port
    raise RuntimeError(f"no free port in {start}..{start + _SLICE - 1}")


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    host, port = _address(PG_ADMIN_URL, 5432)
    need(port_open(host, port), f"PostgreSQL is not running on {host}:{port} (LIVECHAT_TEST_PG)")
    try:
        import asyncpg
    except ImportError:
        need(False, "asyncpg is not installed (pip install 'livechat-ext[postgres]')")
        raise
    name = f"livechat_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis (shared: each test keeps to its own prefix, see `redis_prefix`)."""
    host, port = _address(REDIS_URL, 6379)
    need(port_open(host, port), f"Redis is not running on {host}:{port} (LIVECHAT_TEST_REDIS)")
    yield REDIS_URL


def unique_prefix(redis_url: str) -> str:
    """A broker prefix for one test. On the test Redis it lies under SESSION_PREFIX,
    which the end-of-run check scans; whoever takes one deletes its keys (`drop_keys`)."""
    if redis_url == REDIS_URL and not _REDIS_USED:
        _REDIS_USED.append(redis_url)
    return f"{SESSION_PREFIX}-{uuid.uuid4().hex[:8]}"


def drop_keys(redis_url: str, prefix: str) -> None:
    """Delete every key under `prefix`, those with a TTL too (reap locks, node state).
    Synchronous, so that fixtures of any kind can call it in their teardown."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A broker prefix of the test's own; its keys are deleted after the test."""
    prefix = unique_prefix(redis_url)
    yield prefix
    drop_keys(redis_url, prefix)


@pytest.fixture(scope="session", autouse=True)
def _no_redis_keys_left() -> Iterator[None]:
    """Fails the run when a test left keys in the test Redis: a prefix nobody
    cleaned, or a process still writing after its test ended."""
    yield
    if not _REDIS_USED:
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        left = sorted(k.decode() for k in client.scan_iter(match=f"{SESSION_PREFIX}-*"))
    finally:
        client.close()
    if left:
        pytest.fail(f"tests left {len(left)} key(s) in {REDIS_URL}: {', '.join(left[:10])}")


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/livechat.db"


__all__ = ["IN_CI", "asyncio", "drop_keys", "free_port", "need", "port_open", "unique_prefix"]
