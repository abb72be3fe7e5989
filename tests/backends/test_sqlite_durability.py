"""`LIVECHAT_SQLITE_SYNCHRONOUS`: what SQLite is told on every connection of the
store's engine, the inbound writer's included."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from livechat_ext.errors import ConfigError
from livechat_ext.settings import LiveChatSettings
from livechat_ext.store import SqlStore, create_store

# PRAGMA synchronous answers: 1 NORMAL, 2 FULL
LEVELS = {"full": 2, "normal": 1}


@pytest.mark.parametrize("level", ["full", "normal"])
async def test_every_connection_gets_the_durability_asked_for(tmp_path, level):
    store = create_store(f"sqlite+aiosqlite:///{tmp_path}/s.db", sqlite_synchronous=level)
    assert isinstance(store, SqlStore)
    await store.start()
    try:
        await store.create_schema()
        async with store._engine.connect() as first, store._engine.connect() as second:
            for conn in (first, second):  # two pooled connections: each set on connect
                mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
                synchronous = (await conn.execute(text("PRAGMA synchronous"))).scalar()
                assert (mode, synchronous) == ("wal", LEVELS[level])
    finally:
        await store.close()


def test_the_default_is_full_and_a_wrong_value_is_refused(tmp_path, monkeypatch):
    assert LiveChatSettings.model_fields["sqlite_synchronous"].default == "full"
    with pytest.raises(ConfigError, match="synchronous"):
        create_store(f"sqlite+aiosqlite:///{tmp_path}/s.db", sqlite_synchronous="off")
    monkeypatch.setenv("LIVECHAT_SQLITE_SYNCHRONOUS", "off")
    with pytest.raises(ValueError, match="sqlite_synchronous"):
        LiveChatSettings()
