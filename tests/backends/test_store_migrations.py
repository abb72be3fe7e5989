"""Schema migrations on SQLite and PostgreSQL: a database made by protocol 1.0's
`create_schema` is upgraded in place by `livechat-ext db upgrade` without losing
a row, start-up refuses a schema that is behind, and the migrations make
exactly the tables the code describes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from livechat_ext import LiveChat, LiveChatSettings
from livechat_ext.models import ConversationStatus, Direction, MessageKind, MessageStatus
from livechat_ext.store import NewInbound, SchemaError, create_store
from livechat_ext.store.migrate import VERSION_TABLE, head_revision
from livechat_ext.store.schema import metadata

from . import schema_v1

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_async_engine(db_url)
    yield made
    await made.dispose()


def _message(user: str, seq: int, direction: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": f"{user}-{seq}",
        "line_user_id": user,
        "seq": seq,
        "direction": direction,
        "sender_type": "user" if direction == "inbound" else "operator",
        "sender_id": user if direction == "inbound" else "admin-1",
        "kind": "text",
        "text": f"text {seq}",
        "data": {},
        "status": "received" if direction == "inbound" else "sent",
        "client_msg_id": None if direction == "inbound" else f"c-{seq}",
        "error": None,
        "webhook_event_id": f"ev-{user}-{seq}" if direction == "inbound" else None,
        "lease_until": None,
        "created_at": T0,
    }
    row.update(fields)
    return row


async def build_v1_database(engine: AsyncEngine) -> None:
    """The tables of protocol 1.0 with two conversations of data."""
    async with engine.begin() as conn:
        await conn.run_sync(schema_v1.metadata.create_all)
        await conn.execute(insert(schema_v1.schema_version).values(version=1, applied_at=T0))
        for user, last_seq in (("Ua", 3), ("Ub", 1)):
            await conn.execute(
                insert(schema_v1.conversations).values(
                    line_user_id=user,
                    display_name=f"name {user}",
                    picture_url=None,
                    followed=True,
                    last_seq=last_seq,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        await conn.execute(
            insert(schema_v1.messages),
            [
                _message("Ua", 1, "inbound", data={"mark_as_read_token": "tok-1"}),
                _message("Ua", 2, "outbound"),
                _message("Ua", 3, "inbound", kind="sticker", text=None),
                _message("Ub", 1, "inbound"),
            ],
        )
        await conn.execute(
            insert(schema_v1.webhook_events).values(webhook_event_id="ev-follow", received_at=T0)
        )


async def test_a_protocol_1_0_database_is_upgraded_in_place_with_every_row(
    engine: AsyncEngine,
) -> None:
    await build_v1_database(engine)
    store = create_store(engine=engine)
    with pytest.raises(SchemaError, match="livechat-ext db upgrade"):
        await store.check_schema()

    await store.create_schema()

    assert (await store.check_schema()).current == head_revision()
    first = await store.get_conversation("Ua")
    assert first is not None
    assert (first.display_name, first.last_seq, first.last_rev) == ("name Ua", 3, 3)
    assert (first.status, first.assignee, first.read_seq) == (ConversationStatus.OPEN, None, 0)
    assert first.unread_count == 2  # nothing was marked read in 1.0
    page = await store.history("Ua", limit=10)
    assert [(m.seq, m.rev, m.direction) for m in page.messages] == [
        (1, 1, Direction.INBOUND),
        (2, 2, Direction.OUTBOUND),
        (3, 3, Direction.INBOUND),
    ]
    assert page.messages[0].data == {"mark_as_read_token": "tok-1"}
    assert page.messages[1].status is MessageStatus.SENT
    assert (await store.history("Ub", limit=10)).messages[0].text == "text 1"
    assert not await store.record_event("ev-follow")  # the event ids are kept too
    # the upgraded database goes on where it was: seq and rev continue
    added = await store.add_inbound(
        NewInbound("Ua", MessageKind.TEXT, "new", webhook_event_id="e4")
    )
    assert added is not None and (added.message.seq, added.message.rev) == (4, 4)
    async with engine.connect() as conn:
        versions = await conn.scalar(text("SELECT max(version) FROM livechat_schema_version"))
    assert versions == 2  # code from before migrations refuses this database


async def upgrade_command(db_url: str) -> str:
    """`livechat-ext db upgrade` in its own process, as an operator runs it."""
    env = {**os.environ, "LIVECHAT_STORE_URL": db_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livechat_ext",
        "db",
        "upgrade",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_db_upgrade_command_upgrades_a_1_0_database(engine: AsyncEngine, db_url: str) -> None:
    await build_v1_database(engine)

    assert "upgraded the schema" in await upgrade_command(db_url)

    store = create_store(engine=engine)
    assert (await store.check_schema()).up_to_date
    conversation = await store.get_conversation("Ua")
    assert conversation is not None and conversation.last_rev == 3
    assert "nothing to do" in await upgrade_command(db_url)  # again


async def test_start_up_refuses_a_schema_that_is_behind(engine: AsyncEngine, db_url: str) -> None:
    await build_v1_database(engine)
    chat = LiveChat(
        LiveChatSettings(
            jwt_secret="s" * 32,
            store_url=db_url,
            line_channel_secret="x",
            line_channel_access_token="t",
        )
    )
    with pytest.raises(SchemaError, match="livechat-ext db upgrade"):
        async with chat.lifespan():
            pass
    async with engine.connect() as conn:  # nothing was changed
        found = await conn.scalar(text("SELECT count(*) FROM livechat_messages"))
        assert not await conn.run_sync(lambda c: _has_table(c, VERSION_TABLE))
    assert found == 4


async def test_start_up_may_upgrade_when_told_to(engine: AsyncEngine, db_url: str) -> None:
    await build_v1_database(engine)
    chat = LiveChat(
        LiveChatSettings(
            jwt_secret="s" * 32,
            store_url=db_url,
            line_channel_secret="x",
            line_channel_access_token="t",
            upgrade_schema=True,
        )
    )
    async with chat.lifespan():
        conversation = await chat.store.get_conversation("Ua")
    assert conversation is not None and conversation.unread_count == 2


async def test_a_schema_from_a_newer_release_is_refused(engine: AsyncEngine) -> None:
    store = create_store(engine=engine)
    await store.create_schema()
    async with engine.begin() as conn:
        await conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999_future'"))
    with pytest.raises(SchemaError, match="9999_future"):
        await store.check_schema()
    with pytest.raises(SchemaError, match="9999_future"):
        await store.create_schema()


async def test_the_migrations_make_exactly_the_tables_the_code_reads(engine: AsyncEngine) -> None:
    store = create_store(engine=engine)
    await store.create_schema()

    def differences(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []


def _has_table(conn: Connection, name: str) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table(name)
