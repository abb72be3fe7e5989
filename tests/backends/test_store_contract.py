"""The store contract: every test runs against SQLite and PostgreSQL, so the
backends cannot drift. Two stores on one database stand for two processes."""

from __future__ import annotations

import asyncio
import base64
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import await_only

from livechat_ext.errors import ConfigError, StoreError
from livechat_ext.models import (
    ConversationStatus,
    Direction,
    MessageKind,
    MessageStatus,
    SenderType,
)
from livechat_ext.store import NewInbound, SqlStore, Store, create_store


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


OpenStore = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def open_store(db_url: str, clock: FakeClock) -> AsyncIterator[OpenStore]:
    """Opens another store with its own engine on the same database, as another
    process would; all of them are closed after the test."""
    opened: list[Store] = []

    async def open_one() -> Store:
        store = create_store(db_url, clock=clock)
        opened.append(store)
        await store.start()
        return store

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Store:
    """A started store with its schema."""
    opened = await open_store()
    await opened.create_schema()
    return opened


@pytest.fixture
async def twin(store: Store, open_store: OpenStore) -> Store:
    """A second store on the same database, with its own engine."""
    return await open_store()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def text_in(user: str, body: str = "hi", event_id: str | None = None) -> NewInbound:
    return NewInbound(user, MessageKind.TEXT, body, webhook_event_id=event_id)


async def seqs(store: Store, user: str) -> list[int]:
    page = await store.history(user, limit=1000)
    return [m.seq for m in page.messages]


# seq allocation


async def test_seq_is_gap_free_under_concurrent_writers_on_two_engines(
    store: Store, twin: Store
) -> None:
    async def write(i: int) -> int:
        target = store if i % 2 else twin
        if i % 3:
            inbound = await target.add_inbound(text_in("U1", f"in {i}", f"ev-{i}"))
            assert inbound is not None
            return inbound.message.seq
        outbound = await target.add_outbound("U1", f"c-{i}", "admin-1", f"out {i}")
        return outbound.message.seq

    returned = await asyncio.gather(*(write(i) for i in range(50)))

    assert sorted(returned) == list(range(1, 51))
    assert await seqs(store, "U1") == list(range(1, 51))
    conversation = await twin.get_conversation("U1")
    assert conversation is not None
    assert conversation.last_seq == 50


async def test_seq_counts_per_conversation(store: Store) -> None:
    for user in ("U1", "U2", "U1", "U1", "U2"):
        await store.add_inbound(text_in(user))
    assert await seqs(store, "U1") == [1, 2, 3]
    assert await seqs(store, "U2") == [1, 2]


async def test_first_inbound_creates_the_conversation(store: Store) -> None:
    first = await store.add_inbound(text_in("U1", "one"))
    second = await store.add_inbound(text_in("U1", "two"))
    assert first is not None and first.new_conversation
    assert second is not None and not second.new_conversation


async def test_a_new_message_says_whether_its_conversation_has_a_name(store: Store) -> None:
    """The inbound flow fetches the LINE profile of a nameless conversation,
    whoever wrote first: the write that takes the seq says so, at no extra read."""
    sent = await store.add_outbound("U1", "c1", "alice", "hello")
    assert sent.created and sent.display_name is None and sent.message.seq == 1
    reply = await store.add_inbound(text_in("U1", "hi"))
    assert reply is not None and not reply.new_conversation and reply.display_name is None
    await store.update_conversation("U1", display_name="Pat")
    named = await store.add_inbound(text_in("U1", "again"))
    assert named is not None and named.display_name == "Pat"
    again = await store.add_outbound("U1", "c2", "alice", "ok")
    assert again.display_name == "Pat"


async def test_inbound_is_stored_as_given(store: Store) -> None:
    tz = timezone(timedelta(hours=9))
    sent = datetime(2026, 3, 4, 14, 0, 0, 250000, tzinfo=tz)
    new = NewInbound(
        "U1", MessageKind.STICKER, None, {"packageId": "1", "stickerId": "2"}, "ev-1", sent
    )
    result = await store.add_inbound(new)
    assert result is not None
    [stored] = (await store.history("U1", limit=10)).messages
    assert stored == result.message
    assert stored.kind is MessageKind.STICKER
    assert stored.direction is Direction.INBOUND
    assert stored.sender.type is SenderType.USER and stored.sender.id == "U1"
    assert stored.status is MessageStatus.RECEIVED
    assert stored.data == {"packageId": "1", "stickerId": "2"}
    assert stored.text is None and stored.client_msg_id is None
    assert stored.created_at == sent and stored.created_at.tzinfo is UTC


# webhook de-duplication


async def test_redelivered_webhook_event_is_stored_once(store: Store) -> None:
    assert await store.add_inbound(text_in("U1", "hi", "ev-1")) is not None
    assert await store.add_inbound(text_in("U1", "hi", "ev-1")) is None
    assert await seqs(store, "U1") == [1]


async def test_concurrent_redelivery_on_two_engines_is_stored_once(
    store: Store, twin: Store
) -> None:
    results = await asyncio.gather(
        *((store, twin)[i % 2].add_inbound(text_in("U1", "hi", "ev-1")) for i in range(10))
    )
    assert sum(result is not None for result in results) == 1
    assert await seqs(twin, "U1") == [1]


async def test_recorded_event_ids_are_known_everywhere(store: Store, twin: Store) -> None:
    # a message event is recorded by its message, any other event by record_event
    assert await store.record_event("ev-follow")
    assert not await twin.record_event("ev-follow")
    assert await store.add_inbound(text_in("U1", "hi", "ev-msg")) is not None
    assert await twin.add_inbound(text_in("U1", "hi", "ev-msg")) is None
    assert await seqs(twin, "U1") == [1]


@asynccontextmanager
async def statements_run(store: Store) -> AsyncIterator[list[str]]:
    """The first three words of every SQL statement the database runs meanwhile,
    upper-cased (on SQLite as the database itself sees them, implicit BEGIN and
    COMMIT included: the inbound path hands its statements to the driver's thread
    in one call, past SQLAlchemy's cursor events)."""
    assert isinstance(store, SqlStore)
    statements: list[str] = []

    def seen(statement: str) -> None:
        statements.append(" ".join(statement.split()[:3]).upper())

    engine = store._engine.sync_engine
    if engine.dialect.name == "sqlite":
        await store._release_writer()
        await store._engine.dispose()  # every connection from now on is traced

        def trace(dbapi_connection: Any, _record: object) -> None:
            driver = dbapi_connection.driver_connection
            await_only(driver._execute(driver._conn.set_trace_callback, seen))

        event.listen(engine, "connect", trace)
        try:
            yield statements
        finally:
            event.remove(engine, "connect", trace)
            await store._release_writer()
            await store._engine.dispose()
        return

    def before(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


UPSERT, INSERT = "INSERT INTO LIVECHAT_CONVERSATIONS", "INSERT INTO LIVECHAT_MESSAGES"


async def test_an_inbound_message_is_two_statements(store: Store) -> None:
    """Every webhook's hot path: one upsert gives the seq (creating the conversation
    if needed), one insert stores the message; no separate event-id insert, no read."""
    async with statements_run(store) as statements:
        first = await store.add_inbound(text_in("U1", "one", "ev-1"))
        second = await store.add_inbound(text_in("U1", "two", "ev-2"))
    assert first is not None and first.new_conversation and first.message.seq == 1
    assert second is not None and not second.new_conversation and second.message.seq == 2
    assert [s for s in statements if s.startswith("INSERT")] == [UPSERT, INSERT, UPSERT, INSERT]
    assert not [s for s in statements if s.startswith("SELECT")]


async def test_an_inbound_message_returns_its_conversation_as_stored(store: Store) -> None:
    """The conversation_updated a message makes is sent from what the write
    returned, not read again: it must be what a read gives."""
    await store.update_conversation("U1", display_name="Pat", picture_url="https://p/1.png")
    await store.assign("U1", "alice")
    await store.add_inbound(text_in("U1", "one", "ev-1"))
    await store.mark_read("U1", 1)
    await store.set_conversation_status("U1", ConversationStatus.RESOLVED)
    reopened = await store.add_inbound(text_in("U1", "reopens", "ev-2"))
    assert reopened is not None and reopened.conversation is not None
    assert reopened.conversation == await store.get_conversation("U1")
    assert reopened.conversation.status is ConversationStatus.OPEN
    assert reopened.conversation.assignee is None and reopened.conversation.read_seq == 1
    assert reopened.conversation.display_name == "Pat"
    batch = await store.add_inbound_many([text_in("U2", "a", "ev-3"), text_in("U1", "b", "ev-4")])
    assert [r.conversation if r else None for r in batch] == [
        await store.get_conversation("U2"),
        await store.get_conversation("U1"),
    ]


async def test_a_batch_of_messages_is_one_transaction(store: Store) -> None:
    """A webhook's messages are stored together (group commit): one BEGIN, one
    COMMIT, two statements a message, and each message as `add_inbound` makes it."""
    assert isinstance(store, SqlStore)
    await store.add_inbound(text_in("U0", "before", "ev-0"))
    began: list[object] = []
    committed: list[object] = []

    def begin(conn: object) -> None:
        began.append(conn)

    def commit(conn: object) -> None:
        committed.append(conn)

    engine = store._engine.sync_engine
    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", commit)
    news = [text_in(f"U{i % 40}", f"m{i}", f"ev-{i + 1}") for i in range(100)]
    try:
        async with statements_run(store) as statements:
            stored = await store.add_inbound_many(news)
    finally:
        event.remove(engine, "begin", begin)
        event.remove(engine, "commit", commit)
    if engine.dialect.name == "sqlite":  # past SQLAlchemy: as the database saw them
        began = [s for s in statements if s.startswith("BEGIN")]
        committed = [s for s in statements if s.startswith("COMMIT")]
    assert (len(began), len(committed)) == (1, 1)
    assert [s for s in statements if s.startswith("INSERT")] == [UPSERT, INSERT] * 100
    assert all(result is not None for result in stored)
    results = [result for result in stored if result is not None]
    assert [r.message.text for r in results] == [f"m{i}" for i in range(100)]
    assert [r.message.seq for r in results[:41]] == [2] + [1] * 39 + [3]
    assert [r.new_conversation for r in results[:2]] == [False, True]
    assert (await store.history("U0", limit=10)).messages[1:] == [
        r.message for r in results if r.message.line_user_id == "U0"
    ]
    assert await seqs(store, "U39") == [1, 2]


async def test_a_batch_with_a_stored_event_keeps_the_others(store: Store, twin: Store) -> None:
    """A redelivered event in a batch (stored before, here by another node) is
    skipped and every other one is stored, once, in order."""
    assert await twin.add_inbound(text_in("U1", "b", "ev-b")) is not None
    news = [text_in("U1", body, f"ev-{body}") for body in "abc"]
    stored = await store.add_inbound_many(news)
    assert [r is None for r in stored] == [False, True, False]
    page = await store.history("U1", limit=10)
    assert [(m.seq, m.text) for m in page.messages] == [(1, "b"), (2, "a"), (3, "c")]


async def test_a_batch_delivered_to_two_nodes_at_once_is_stored_once(
    store: Store, twin: Store
) -> None:
    news = [text_in(f"U{i % 3}", f"m{i}", f"ev-{i}") for i in range(30)]
    both = await asyncio.gather(store.add_inbound_many(news), twin.add_inbound_many(news))
    assert [a is None for a in both[0]] == [b is not None for b in both[1]]
    for user in ("U0", "U1", "U2"):
        page = await store.history(user, limit=100)
        assert [m.seq for m in page.messages] == list(range(1, 11))
        assert sorted(m.text or "" for m in page.messages) == sorted(
            n.text or "" for n in news if n.line_user_id == user
        )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # aiosqlite only
async def test_a_batch_on_sqlite_is_one_call_to_the_driver_thread(store: Store) -> None:
    """aiosqlite runs each call on its thread, and SQLAlchemy's connection,
    transaction and pool steps around each cost more again: a message, or a batch
    of any size, is one call (BEGIN IMMEDIATE, the statements, COMMIT)."""
    assert isinstance(store, SqlStore)
    assert store._engine.dialect.name == "sqlite"
    import aiosqlite

    calls = 0
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await original(self, fn, *args, **kwargs)

    await store.add_inbound(text_in("U1", "warm", "ev-0"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiosqlite.Connection, "_execute", counted)
        await store.add_inbound_many([text_in(f"U{i}", "hi", f"ev-{i + 1}") for i in range(50)])
        batch, calls = calls, 0
        await store.add_inbound(text_in("U1", "one", "ev-one"))
    assert (batch, calls) == (1, 1)


async def test_messages_without_event_id_are_never_deduplicated(store: Store) -> None:
    await store.add_inbound(text_in("U1"))
    await store.add_inbound(text_in("U1"))
    assert await seqs(store, "U1") == [1, 2]


# outbound idempotency


async def test_outbound_is_pending_and_idempotent(store: Store, clock: FakeClock) -> None:
    first = await store.add_outbound("U1", "c-1", "admin-1", "hello")
    again = await store.add_outbound("U1", "c-1", "admin-2", "changed")
    assert first.created and not again.created
    assert again.message == first.message
    message = first.message
    assert message.status is MessageStatus.PENDING
    assert message.direction is Direction.OUTBOUND
    assert message.sender.type is SenderType.OPERATOR and message.sender.id == "admin-1"
    assert (message.kind, message.text, message.client_msg_id) == (MessageKind.TEXT, "hello", "c-1")
    assert message.created_at == clock.now
    assert await seqs(store, "U1") == [1]


async def test_outbound_key_is_per_conversation(store: Store) -> None:
    one = await store.add_outbound("U1", "c-1", "admin-1", "a")
    other_user = await store.add_outbound("U2", "c-1", "admin-1", "b")
    other_key = await store.add_outbound("U1", "c-2", "admin-1", "c")
    assert one.created and other_user.created and other_key.created
    assert await seqs(store, "U1") == [1, 2]


async def test_concurrent_outbound_repeats_on_two_engines_store_one(
    store: Store, twin: Store
) -> None:
    results = await asyncio.gather(
        *((store, twin)[i % 2].add_outbound("U1", "c-1", "admin-1", "hi") for i in range(10))
    )
    assert sum(result.created for result in results) == 1
    assert len({result.message.id for result in results}) == 1
    assert await seqs(store, "U1") == [1]


# claim and status


async def test_claim_holds_a_lease_until_it_expires(
    store: Store, twin: Store, clock: FakeClock
) -> None:
    message = (await store.add_outbound("U1", "c-1", "admin-1", "hi")).message
    assert await store.claim(message.id, 30)
    assert not await twin.claim(message.id, 30)
    clock.advance(29.9)
    assert not await twin.claim(message.id, 30)
    clock.advance(0.1)
    assert await twin.claim(message.id, 30)


async def test_concurrent_claims_have_one_winner(store: Store, twin: Store) -> None:
    message = (await store.add_outbound("U1", "c-1", "admin-1", "hi")).message
    won = await asyncio.gather(*((store, twin)[i % 2].claim(message.id, 30) for i in range(10)))
    assert sum(won) == 1


async def test_set_status_releases_the_lease_and_sent_cannot_be_claimed(store: Store) -> None:
    message = (await store.add_outbound("U1", "c-1", "admin-1", "hi")).message
    assert await store.claim(message.id, 30)
    failed = await store.set_status(message.id, MessageStatus.FAILED, error="timeout")
    assert failed.status is MessageStatus.FAILED and failed.error == "timeout"
    assert await store.claim(message.id, 30)
    await store.set_status(message.id, MessageStatus.SENT)
    assert not await store.claim(message.id, 30)


async def test_claim_refuses_inbound_and_unknown_messages(store: Store) -> None:
    inbound = await store.add_inbound(text_in("U1"))
    assert inbound is not None
    assert not await store.claim(inbound.message.id, 30)
    assert not await store.claim("no-such-id", 30)


async def test_set_status_merges_data_and_is_stored(store: Store) -> None:
    message = (await store.add_outbound("U1", "c-1", "admin-1", "hi")).message
    await store.set_status(message.id, MessageStatus.FAILED, error="boom", data={"a": 1})
    sent = await store.set_status(message.id, MessageStatus.SENT, data={"b": 2})
    assert sent.status is MessageStatus.SENT
    assert sent.error is None
    assert sent.data == {"a": 1, "b": 2}
    assert (await store.history("U1", limit=10)).messages == [sent]
    with pytest.raises(StoreError):
        await store.set_status("no-such-id", MessageStatus.SENT)


async def test_a_write_whose_caller_is_cancelled_mid_statement_completes(store: Store) -> None:
    """A socket that goes away cancels its handler, and shutdown cancels deliveries:
    the write in flight completes, and the store goes on writing (on SQLite such a
    cancel used to leave the write lock held, so later writes waited, then failed)."""
    assert isinstance(store, SqlStore)
    writing: asyncio.Task[object] | None = None

    def cancel_the_writer(conn: object, cursor: object, statement: str, *_: object) -> None:
        # the seq upsert: its RETURNING row, unread when the cancel lands, kept
        # SQLite's statement (and so its write lock) alive
        if writing is not None and statement.startswith("INSERT INTO livechat_conversations"):
            writing.cancel()  # lands while the driver runs the statement

    engine = store._engine.sync_engine
    event.listen(engine, "before_cursor_execute", cancel_the_writer)
    try:
        writing = asyncio.create_task(store.add_outbound("U1", "c-1", "admin-1", "cut short"))
        with pytest.raises(asyncio.CancelledError):
            await writing
    finally:
        event.remove(engine, "before_cursor_execute", cancel_the_writer)
    assert (await store.add_outbound("U1", "c-2", "admin-1", "next")).created
    page = await store.history("U1", limit=10)
    assert [(m.seq, m.client_msg_id) for m in page.messages] == [(1, "c-1"), (2, "c-2")]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # aiosqlite only
async def test_an_inbound_write_whose_caller_is_cancelled_completes(store: Store) -> None:
    """A webhook whose client goes away cancels its handler while the message's one
    call runs on aiosqlite's thread: the message is stored all the same (LINE's
    redelivery then finds it), and the store goes on writing."""
    assert isinstance(store, SqlStore)
    assert store._engine.dialect.name == "sqlite"
    import aiosqlite

    writing: asyncio.Task[object] | None = None
    original = aiosqlite.Connection._execute

    async def cancel_the_writer(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if writing is not None:
            writing.cancel()  # lands while the call is queued for the thread
        return await original(self, fn, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aiosqlite.Connection, "_execute", cancel_the_writer)
        writing = asyncio.create_task(store.add_inbound(text_in("U1", "cut short", "ev-1")))
        with pytest.raises(asyncio.CancelledError):
            await writing
        writing = None
    assert await store.add_inbound(text_in("U1", "cut short", "ev-1")) is None  # redelivered
    assert await store.add_inbound(text_in("U1", "next", "ev-2")) is not None
    page = await store.history("U1", limit=10)
    assert [(m.seq, m.text) for m in page.messages] == [(1, "cut short"), (2, "next")]


async def test_undelivered_outbound_lists_old_pending_ones(store: Store, clock: FakeClock) -> None:
    old = (await store.add_outbound("U1", "c-1", "admin-1", "old")).message
    done = (await store.add_outbound("U1", "c-2", "admin-1", "done")).message
    await store.set_status(done.id, MessageStatus.SENT)
    await store.add_inbound(text_in("U1"))
    cutoff = clock.advance(60)
    await store.add_outbound("U2", "c-3", "admin-1", "new")
    assert await store.undelivered_outbound(cutoff) == [old]


async def test_last_outbound_at(store: Store, clock: FakeClock) -> None:
    assert await store.last_outbound_at("U1") is None
    await store.add_inbound(text_in("U1"))
    assert await store.last_outbound_at("U1") is None
    await store.add_outbound("U1", "c-1", "admin-1", "a")
    sent_at = clock.now
    clock.advance(5)
    await store.add_inbound(text_in("U1"))
    assert await store.last_outbound_at("U1") == sent_at


# history


async def test_history_of_an_empty_conversation(store: Store) -> None:
    await store.update_conversation("U1")
    for page in (
        await store.history("U1", limit=5),
        await store.history("U1", limit=5, after_seq=0),
        await store.history("nobody", limit=5),
    ):
        assert page.messages == [] and not page.has_more


@pytest.mark.parametrize(("count", "has_more"), [(4, False), (5, False), (6, True)])
async def test_latest_history_at_the_limit(store: Store, count: int, has_more: bool) -> None:
    for _ in range(count):
        await store.add_inbound(text_in("U1"))
    page = await store.history("U1", limit=5)
    assert [m.seq for m in page.messages] == list(range(max(1, count - 4), count + 1))
    assert page.has_more is has_more


async def test_history_after_seq_pages_forward(store: Store) -> None:
    for _ in range(7):
        await store.add_inbound(text_in("U1"))
    first = await store.history("U1", limit=3, after_seq=0)
    second = await store.history("U1", limit=3, after_seq=3)
    last = await store.history("U1", limit=3, after_seq=6)
    end = await store.history("U1", limit=3, after_seq=7)
    assert ([m.seq for m in first.messages], first.has_more) == ([1, 2, 3], True)
    assert ([m.seq for m in second.messages], second.has_more) == ([4, 5, 6], True)
    assert ([m.seq for m in last.messages], last.has_more) == ([7], False)
    assert (end.messages, end.has_more) == ([], False)
    exact = await store.history("U1", limit=3, after_seq=4)
    assert ([m.seq for m in exact.messages], exact.has_more) == ([5, 6, 7], False)


async def test_history_before_seq_pages_backward(store: Store) -> None:
    for _ in range(7):
        await store.add_inbound(text_in("U1"))
    older = await store.history("U1", limit=3, before_seq=5)
    oldest = await store.history("U1", limit=3, before_seq=4)
    assert ([m.seq for m in older.messages], older.has_more) == ([2, 3, 4], True)
    assert ([m.seq for m in oldest.messages], oldest.has_more) == ([1, 2, 3], False)


# conversations


async def test_update_creates_a_conversation_and_get_reads_it(
    store: Store, clock: FakeClock
) -> None:
    assert await store.get_conversation("U1") is None
    created = await store.update_conversation("U1")
    clock.advance(10)
    again = await store.update_conversation("U1")  # nothing to change: nothing changes
    assert again == created == await store.get_conversation("U1")
    assert (created.last_seq, created.last_message, created.updated_at) == (
        0,
        None,
        clock.now - timedelta(seconds=10),
    )
    assert created.followed


async def test_update_conversation(store: Store, clock: FakeClock) -> None:
    made = await store.update_conversation("U1", display_name="Ann", picture_url="https://p/1")
    assert (made.display_name, made.picture_url, made.followed) == ("Ann", "https://p/1", True)
    clock.advance(10)
    kept = await store.update_conversation("U1", followed=False)
    assert (kept.display_name, kept.picture_url, kept.followed) == ("Ann", "https://p/1", False)
    assert kept.updated_at == made.updated_at
    touched = await store.update_conversation("U1", touch=True)
    assert touched.updated_at == clock.now
    assert await store.get_conversation("U1") == touched


async def test_apply_follow_records_the_event_with_the_change(
    store: Store, twin: Store, clock: FakeClock
) -> None:
    followed = await store.apply_follow("U1", True, "ev-f")
    assert followed is not None and followed.followed and followed.updated_at == clock.now
    clock.advance(10)
    unfollowed = await twin.apply_follow("U1", False, "ev-u")
    assert unfollowed is not None and not unfollowed.followed
    clock.advance(10)
    # a redelivered follow, on either engine, changes nothing
    assert await twin.apply_follow("U1", True, "ev-f") is None
    assert await store.apply_follow("U1", True, "ev-f") is None
    assert await store.get_conversation("U1") == unfollowed
    assert not await store.record_event("ev-u")


async def test_conversation_carries_its_last_message(store: Store) -> None:
    await store.add_inbound(text_in("U1", "first"))
    last = await store.add_outbound("U1", "c-1", "admin-1", "second")
    conversation = await store.get_conversation("U1")
    assert conversation is not None
    assert conversation.last_seq == 2
    assert conversation.last_message == last.message


async def test_list_conversations_newest_first_across_pages(store: Store, clock: FakeClock) -> None:
    for user in ("U1", "U2", "U3"):
        clock.advance(1)
        await store.add_inbound(text_in(user, f"from {user}"))
    clock.advance(1)
    await store.update_conversation("U4")
    await store.update_conversation("U5")  # same updated_at as U4: line_user_id breaks the tie
    clock.advance(1)
    await store.add_inbound(text_in("U1", "again"))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await store.list_conversations(limit=2, cursor=cursor)
        pages += 1
        seen += [c.line_user_id for c in page.conversations]
        for conversation in page.conversations:
            last = conversation.last_message
            assert (last.seq if last else 0) == conversation.last_seq
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["U1", "U5", "U4", "U3", "U2"]
    assert pages == 3
    first = (await store.list_conversations(limit=1)).conversations[0]
    assert first.last_message is not None and first.last_message.text == "again"


async def test_list_conversations_exact_page_has_no_cursor(store: Store) -> None:
    assert (await store.list_conversations(limit=2)).conversations == []
    await store.update_conversation("U1")
    await store.update_conversation("U2")
    page = await store.list_conversations(limit=2)
    assert len(page.conversations) == 2 and page.next_cursor is None


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "bm90IGpzb24",
        "WzEsIDJd",
        "WyJ4IiwgIlUxIl0",
        # what no store could look up, or what crashed the decoding
        pytest.param(_cursor(b'["2026-01-01T00:00:00+00:00", "U\\u0000"]'), id="nul-id"),
        pytest.param(_cursor(b'["2026-01-01T00:00:00+00:00", "' + b"U" * 65 + b'"]'), id="long-id"),
        pytest.param(_cursor(b'["0001-01-01T00:00:00+23:59", "U1"]'), id="before-year-1-in-utc"),
        pytest.param(_cursor(b"[" * 3000), id="deep"),
    ],
)
async def test_list_conversations_refuses_a_bad_cursor(store: Store, cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        await store.list_conversations(limit=2, cursor=cursor)


# schema and lifecycle


async def test_create_schema_twice_and_concurrently(open_store: OpenStore) -> None:
    first, second = await open_store(), await open_store()
    await asyncio.gather(first.create_schema(), second.create_schema())
    await first.create_schema()
    assert await second.add_inbound(text_in("U1")) is not None


async def test_driver_errors_are_store_errors(open_store: OpenStore) -> None:
    without_schema = await open_store()
    with pytest.raises(StoreError) as caught:
        await without_schema.add_inbound(text_in("U1"))
    assert caught.value.__cause__ is not None
    with pytest.raises(StoreError):
        await without_schema.list_conversations(limit=5)


async def test_store_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    await store.ping()


async def test_a_host_sqlite_engine_in_autocommit_still_gets_transactions(
    sqlite_url: str,
) -> None:
    """Our own SQLite engine lets the driver begin before the first write; a host's
    engine may run in autocommit, where only an explicit BEGIN makes a transaction."""
    engine = create_async_engine(sqlite_url, isolation_level="AUTOCOMMIT")
    try:
        store = create_store(engine=engine)
        await store.create_schema()
        assert await store.add_inbound(text_in("U1", "one", "ev-1")) is not None
        assert await store.add_inbound(text_in("U1", "again", "ev-1")) is None
        conversation = await store.get_conversation("U1")
        assert conversation is not None and conversation.last_seq == 1  # rolled back
        assert conversation.last_message is not None
        second = await store.add_inbound(text_in("U1", "two", "ev-2"))
        assert second is not None and second.message.seq == 2
    finally:
        await engine.dispose()


async def test_host_engine_is_left_open(db_url: str) -> None:
    engine = create_async_engine(db_url)
    pool = engine.pool
    try:
        store = create_store(engine=engine)
        await store.create_schema()
        await store.add_inbound(text_in("U1"))
        await store.close()
        assert engine.pool is pool  # dispose() would have replaced it
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM livechat_messages")) == 1
    finally:
        await engine.dispose()


# errors at the boundary (not parametrized: they need no running database)


async def test_unreachable_postgres_is_a_store_error() -> None:
    store = create_store(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/none")
    try:
        with pytest.raises(StoreError):
            await store.ping()
        with pytest.raises(StoreError):
            await store.add_inbound(text_in("U1"))
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["mysql+aiomysql://h/db", "sqlite:///x.db", "redis://h"])
def test_unknown_scheme_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"sqlite\+aiosqlite.*postgresql\+asyncpg"):
        create_store(url)


def test_invalid_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        create_store("not a url")


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(ConfigError, match=r"livechat-ext\[postgres\]"):
        create_store("postgresql+asyncpg://postgres@127.0.0.1/db")


async def test_unsend_clears_the_users_message(store: Store) -> None:
    kept = await store.add_inbound(
        NewInbound("Uu", MessageKind.TEXT, "keep", {"message_id": "111"})
    )
    gone = await store.add_inbound(
        NewInbound("Uu", MessageKind.TEXT, "my card number", {"message_id": "222"})
    )
    assert kept is not None and gone is not None
    assert await store.unsend("Uother", "222") is None  # another user's id: nothing
    hidden = await store.unsend("Uu", "222")
    assert hidden is not None and hidden.id == gone.message.id
    assert hidden.text is None and hidden.data == {"message_id": "222", "unsent": True}
    page = await store.history("Uu", limit=10)
    assert [(m.text, m.data.get("unsent")) for m in page.messages] == [("keep", None), (None, True)]
    assert await store.unsend("Uu", "999") is None


async def test_prune_events_forgets_old_ids_but_messages_stay_deduplicated(
    store: Store, clock: FakeClock
) -> None:
    first = await store.add_inbound(
        NewInbound("Up", MessageKind.TEXT, "hi", webhook_event_id="ev-old")
    )
    assert first is not None
    assert await store.record_event("ev-follow") is True
    clock.advance(8 * 86400)
    assert await store.record_event("ev-new") is True
    removed = await store.prune_events(clock() - timedelta(days=7))
    assert removed == 1
    # a message event is still refused by the messages' own unique id
    assert (
        await store.add_inbound(NewInbound("Up", MessageKind.TEXT, "hi", webhook_event_id="ev-old"))
        is None
    )
    assert await store.record_event("ev-new") is False
    assert await store.record_event("ev-follow") is True  # forgotten after the retention


async def test_nul_is_stored_as_a_stand_in_on_every_store(store: Store) -> None:
    """PostgreSQL text and jsonb cannot hold NUL (today a 503 that LINE redelivers
    for ever): every store keeps U+FFFD in its place, and returns what it keeps."""
    sub = "\ufffd"
    stored = await store.add_inbound(
        NewInbound(
            "Un",
            MessageKind.FILE,
            "a\x00b",
            {"file_name": "x\x00.txt", "k\x00": ["\x00"], "message_id": "m\x00"},
            webhook_event_id="ev\x00",
        )
    )
    assert stored is not None
    assert stored.message.text == f"a{sub}b"
    assert stored.message.data == {
        "file_name": f"x{sub}.txt",
        f"k{sub}": [sub],
        "message_id": f"m{sub}",
    }
    [read] = (await store.history("Un", limit=10)).messages
    assert read == stored.message
    again = NewInbound("Un", MessageKind.TEXT, "dup", webhook_event_id="ev\x00")
    assert await store.add_inbound(again) is None  # the event id is still recognised
    assert await store.record_event("follow\x00") is True
    assert await store.record_event("follow\x00") is False
    out = await store.add_outbound("Un", "c\x00", "op\x00", "hi\x00")
    assert (out.message.client_msg_id, out.message.sender.id, out.message.text) == (
        f"c{sub}",
        f"op{sub}",
        f"hi{sub}",
    )
    assert (await store.add_outbound("Un", "c\x00", "op\x00", "hi\x00")).created is False
    failed = await store.set_status(
        out.message.id, MessageStatus.FAILED, error="LINE said \x00", data={"x": "\x00"}
    )
    assert failed.error == f"LINE said {sub}" and failed.data == {"x": sub}
    assert await store.get_message(out.message.id) == failed
    named = await store.update_conversation("Un", display_name="N\x00", picture_url="h\x00")
    assert (named.display_name, named.picture_url) == (f"N{sub}", f"h{sub}")
    hidden = await store.unsend("Un", "m\x00")
    assert hidden is not None and hidden.id == stored.message.id
    # a look-up with a NUL finds nothing instead of failing
    assert await store.get_conversation("U\x00none") is None
    assert (await store.history("U\x00none", limit=5)).messages == []
