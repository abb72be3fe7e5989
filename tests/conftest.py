"""Shared fixtures. A test that needs a missing service or browser skips
locally with the reason, and fails under CI=true so CI cannot pass by skipping."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("LIVECHAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LIVECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    need(port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
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
    """The machine's Redis (database 0 is shared; tests use unique channel prefixes)."""
    need(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    yield REDIS_URL


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/livechat.db"


__all__ = ["IN_CI", "asyncio", "free_port", "need", "port_open"]
