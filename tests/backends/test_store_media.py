"""The media part of the store on SQLite and PostgreSQL, and migration 0003 from
a database at 0002 (every row kept)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from livechat_ext.models import MessageKind, utcnow
from livechat_ext.store import NewInbound, create_store
from livechat_ext.store.media import MediaRecord, MediaState
from livechat_ext.store.migrate import _config, head_revision


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_async_engine(db_url)
    yield made
    await made.dispose()


def _upgrade_to(revision: str):  # type: ignore[no-untyped-def]
    def run(conn: Connection) -> None:
        command.upgrade(_config(conn), revision)

    return run


async def test_a_0002_database_gets_the_media_table_and_keeps_its_rows(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to("0002_team_workflow"))
    store = create_store(engine=engine)
    with pytest.raises(Exception, match="livechat-ext db upgrade"):
        await store.check_schema()
    # an image stored at 0002 (the message table is the same): the upgrade keeps it
    added = await store.add_inbound(
        NewInbound("Ua", MessageKind.IMAGE, None, {"message_id": "7"}, webhook_event_id="e1")
    )
    assert added is not None
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to("head"))
    assert (await store.check_schema()).current == head_revision() == "0003_media"
    assert await store.add_media(MediaRecord("7", "Ua", "image", MediaState.PENDING))
    assert (await store.history("Ua", limit=5)).messages[0].data == {"message_id": "7"}


async def test_media_rows_claim_record_and_resume(engine: AsyncEngine) -> None:
    now = [utcnow()]
    store = create_store(engine=engine, clock=lambda: now[0])
    await store.create_schema()
    record = MediaRecord("42", "Ua", "file", MediaState.PENDING, file_name="a.pdf")
    assert await store.add_media(record)
    assert not await store.add_media(record)  # known: a redelivery
    assert [r.line_message_id for r in await store.pending_media(10)] == ["42"]
    assert await store.claim_media("42", 60)
    assert not await store.claim_media("42", 60)  # held
    assert await store.pending_media(10) == []
    now[0] += timedelta(seconds=61)  # its holder died: the lease ran out
    assert [r.line_message_id for r in await store.pending_media(10)] == ["42"]
    assert await store.claim_media("42", 60)
    await store.set_media("42", MediaState.READY, content_type="application/pdf", size=9)
    got = await store.get_media("42")
    assert got is not None
    assert (got.state, got.content_type, got.size, got.file_name) == (
        MediaState.READY,
        "application/pdf",
        9,
        "a.pdf",
    )
    assert not await store.claim_media("42", 60)  # not pending
    await store.set_media("42", MediaState.GONE)
    await store.set_media("42", MediaState.READY, content_type="x/y", size=1)
    got = await store.get_media("42")
    assert got is not None and got.state is MediaState.GONE  # an unsend is final
    assert await store.get_media("nope") is None
    assert await store.gone_media(None, 10) == ["42"]
    assert await store.gone_media(now[0] - timedelta(seconds=1), 10) == ["42"]
    assert await store.gone_media(now[0] + timedelta(seconds=1), 10) == []


async def test_a_release_frees_only_a_pending_content_and_keeps_its_count(
    engine: AsyncEngine,
) -> None:
    store = create_store(engine=engine)
    await store.create_schema()
    for mid in ("1", "2", "3"):
        assert await store.add_media(MediaRecord(mid, "Ua", "image", MediaState.PENDING))
        assert await store.claim_media(mid, 600)
    await store.set_media("2", MediaState.READY, content_type="image/png", size=3)
    await store.set_media("3", MediaState.TOO_LARGE)
    for mid in ("1", "2", "3"):  # a shutdown releases what it held
        await store.release_media(mid, attempts=5)
    states = {mid: await store.get_media(mid) for mid in ("1", "2", "3")}
    assert {mid: (r.state, r.attempts) for mid, r in states.items() if r} == {
        "1": (MediaState.PENDING, 5),
        "2": (MediaState.READY, 0),  # never downgraded
        "3": (MediaState.TOO_LARGE, 0),
    }
    assert [r.line_message_id for r in await store.pending_media(10)] == ["1"]  # free again
    assert await store.claim_media("1", 600)


async def test_an_unsend_of_another_users_id_changes_nothing_and_the_newest_gone_come_first(
    engine: AsyncEngine,
) -> None:
    now = [utcnow()]
    store = create_store(engine=engine, clock=lambda: now[0])
    await store.create_schema()
    await store.add_media(MediaRecord("9", "Ua", "image", MediaState.PENDING))
    await store.set_media("9", MediaState.GONE, line_user_id="Uother")
    got = await store.get_media("9")
    assert got is not None and got.state is MediaState.PENDING
    for mid in ("old", "mid", "new"):
        now[0] += timedelta(seconds=1)
        await store.add_media(MediaRecord(mid, "Ua", "image", MediaState.PENDING))
        await store.set_media(mid, MediaState.GONE, line_user_id="Ua")
    assert await store.gone_media(None, 2) == ["new", "mid"]  # a capped sweep misses the oldest


async def test_several_contents_are_remembered_in_one_call(engine: AsyncEngine) -> None:
    store = create_store(engine=engine)
    await store.create_schema()
    assert await store.add_media(MediaRecord("1", "Ua", "image", MediaState.PENDING))
    batch = [MediaRecord(mid, "Ua", "image", MediaState.PENDING) for mid in ("1", "2", "3")]
    assert await store.add_media_many(batch) == {"2", "3"}  # "1" was known: a redelivery
    assert await store.add_media_many(batch) == set()
    assert await store.add_media_many([]) == set()
    assert sorted(r.line_message_id for r in await store.pending_media(10)) == ["1", "2", "3"]
