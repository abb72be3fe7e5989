"""`SqlStore`: the `Store` on SQLAlchemy Core async, for SQLite and PostgreSQL.

`seq` is allocated inside the writing transaction by incrementing the
conversation's `last_seq`: the row lock serialises writers on PostgreSQL, and
`BEGIN IMMEDIATE` takes SQLite's write lock up front, so concurrent writers in
any number of processes get consecutive numbers and a rolled back write leaves
no gap."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import and_, case, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.schema import Table
from sqlalchemy.util import greenlet_spawn

from ..errors import ConfigError, StoreError
from ..models import (
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    utcnow,
)
from . import migrate
from .base import ConversationPage, InboundResult, NewInbound, OutboundResult, Page
from .media import SqlMedia
from .schema import (
    as_utc,
    conversation_from_row,
    conversation_select,
    conversations,
    decode_cursor,
    encode_cursor,
    message_from_row,
    messages,
    new_message_row,
    webhook_events,
    without_nul,
)
from .workflow import ReadChange, next_rev, raise_read_seq, set_fields

_INBOUND_RETURNS = tuple(
    conversations.c[name]
    for name in (
        "last_seq",
        "last_rev",
        "display_name",
        "picture_url",
        "followed",
        "assignee",
        "read_seq",
        "unread_count",
    )
)
_Returned = tuple[Any, ...]  # the values of _INBOUND_RETURNS
_SCHEMA_LOCK_KEY = 0x6C69766563686174  # "livechat": serialises create_schema on PostgreSQL
_DIALECTS = ("sqlite", "postgresql")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _whole(
    write: Callable[Concatenate[SqlStore, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[SqlStore, _P], Coroutine[Any, Any, _R]]:
    """A write runs to its end even if its caller is cancelled (who still gets
    the `CancelledError` at once). On SQLite, aiosqlite cancelled mid-statement
    leaves the write lock with a connection SQLAlchemy has given up on, and every
    later write waits out `busy_timeout`, then fails."""

    @functools.wraps(write)
    async def run(store: SqlStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        task = asyncio.get_running_loop().create_task(write(store, *args, **kwargs))
        store._writes.add(task)
        task.add_done_callback(store._writes.discard)
        return await asyncio.shield(task)

    return run


class _ConflictError(StoreError):
    """A unique constraint refused a write (a concurrent duplicate)."""


class SqlStore(SqlMedia):
    """The `Store` on a SQLAlchemy `AsyncEngine` (SQLite via aiosqlite, PostgreSQL).

    `owns_engine` says whether `close()` disposes the engine; `clock` gives the
    current UTC time. Raises `ConfigError` for an unsupported dialect."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        owns_engine: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if engine.dialect.name not in _DIALECTS:
            raise ConfigError(
                f"unsupported database {engine.dialect.name!r}; use one of {_DIALECTS}"
            )
        self._engine = engine
        self._owns_engine = owns_engine
        self._clock = clock
        self._sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time: queueing this process's writers here is
        # far cheaper than letting them collide in SQLite's sleeping busy handler
        self._write_lock = asyncio.Lock() if self._sqlite else None
        self._writes: set[asyncio.Task[Any]] = set()  # see `_whole`
        # On our own SQLite engine the driver opens a transaction before the first
        # write by itself; a host's engine may run in autocommit, so its write
        # transactions always begin explicitly.
        self._implicit_begin = owns_engine
        self._compiled_cache: dict[tuple[Any, tuple[str, ...]], _Compiled] = {}
        self._insert_message_stmt = insert(messages)
        self._writer: PoolProxiedConnection | None = None  # see `_one_call`
        self._writer_unavailable = False
        # built once, values bound at execution: SQLAlchemy then reuses the compiled form
        upsert = self._insert(conversations)
        col = conversations.c
        step = {
            "last_seq": col.last_seq + 1,
            "last_rev": col.last_rev + 1,
            "updated_at": upsert.excluded.updated_at,
        }
        self._next_seq_stmt = upsert.on_conflict_do_update(
            index_elements=[col.line_user_id], set_=step
        ).returning(col.last_seq, col.last_rev, col.display_name)
        # a message from the user: one more unread, and a resolved conversation
        # opens again, unassigned (the bot has it until an operator takes it)
        resolved = col.status == ConversationStatus.RESOLVED
        inbound_step = {
            **step,
            "unread_count": col.unread_count + 1,
            "status": ConversationStatus.OPEN.value,
            "assignee": case((resolved, None), else_=col.assignee),
        }
        # and the conversation as the message leaves it (its conversation_updated)
        self._next_inbound_seq_stmt = upsert.on_conflict_do_update(
            index_elements=[col.line_user_id], set_=inbound_step
        ).returning(*_INBOUND_RETURNS)

    async def start(self) -> None:
        await self.ping()
        if self._sqlite:  # the first webhook after start-up as fast as the rest
            assert self._write_lock is not None
            seq_rows, rows = _inbound_rows([NewInbound("U", MessageKind.TEXT, None)], utcnow())
            self._inbound_statements(seq_rows, rows)  # compiled now, not on the first message
            async with self._write_lock:
                await self._kept_writer()

    async def close(self) -> None:
        if self._writes:  # cut off by a cancel: let them end before the engine does
            await asyncio.wait(set(self._writes))
        await self._release_writer()
        if self._owns_engine:
            await self._engine.dispose()

    async def ping(self) -> None:
        async with self._tx() as conn:
            await conn.execute(text("SELECT 1"))

    async def create_schema(self) -> None:
        """Create the schema, or upgrade it to this code's migrations (stamping a
        database made before migrations with the baseline first)."""
        async with self._schema_tx() as conn:
            await conn.run_sync(migrate.upgrade)

    async def check_schema(self) -> migrate.SchemaState:
        """The schema's state; raises `SchemaError` (naming `livechat-ext db upgrade`)
        when an existing schema is behind this code, or unknown to it."""
        async with self._tx() as conn:
            return await conn.run_sync(migrate.require_current)

    @asynccontextmanager
    async def _schema_tx(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction that serialises schema changes across processes."""
        async with self._tx(write=True) as conn:
            if not self._sqlite:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK_KEY}
                )
            yield conn

    @_whole
    async def add_inbound(self, new: NewInbound) -> InboundResult | None:
        return await self._add_inbound(_stored_form(new), self._clock())

    @_whole
    async def add_inbound_many(self, news: Sequence[NewInbound]) -> list[InboundResult | None]:
        news = [_stored_form(new) for new in news]
        now = self._clock()
        if len(news) <= 1:
            return [await self._add_inbound(new, now) for new in news]
        try:
            return list(await self._write_inbound(news, now))
        except _ConflictError:
            # one of them was stored before (a redelivery, or another node has it
            # now): nothing of the batch was kept, so each is stored on its own
            return [await self._add_inbound(new, now) for new in news]

    async def _add_inbound(self, new: NewInbound, now: datetime) -> InboundResult | None:
        event_id = new.webhook_event_id
        try:
            # the message's own unique webhook_event_id is the record of the event
            [stored] = await self._write_inbound([new], now)
        except _ConflictError:
            if event_id is not None and await self._event_in_messages(event_id):
                return None
            raise
        return stored

    async def _write_inbound(self, news: list[NewInbound], now: datetime) -> list[InboundResult]:
        """Each message with the conversation's next seq (one upsert that creates the
        conversation if needed, one insert), all in one transaction."""
        seq_rows, rows = _inbound_rows(news, now)
        write = self._inbound_statements(seq_rows, rows) if self._sqlite else None
        taken = None if write is None else await self._one_call(write)
        if taken is None:
            async with self._tx(write=True, reads_first=False) as conn:
                taken = None if write is None else await self._one_call(write, conn)
                if taken is None:  # not aiosqlite: a statement at a time
                    taken = []
                    for seq_row, row in zip(seq_rows, rows, strict=True):
                        one = (await conn.execute(self._next_inbound_seq_stmt, seq_row)).one()
                        row.update(seq=int(one[0]), rev=int(one[1]))
                        await conn.execute(self._insert_message_stmt, row)
                        taken.append(tuple(one))
        results = []
        for row, returned in zip(rows, taken, strict=True):
            seq, rev, name, picture, followed, assignee, read_seq, unread = returned
            row.update(seq=int(seq), rev=int(rev))
            message = message_from_row(row)
            conversation = Conversation(
                line_user_id=message.line_user_id,
                display_name=name,
                picture_url=picture,
                last_message=message,
                last_seq=message.seq,
                last_rev=message.rev,
                status=ConversationStatus.OPEN,
                assignee=assignee,
                read_seq=int(read_seq),
                unread_count=int(unread),
                updated_at=now,
                followed=bool(followed),
            )
            results.append(InboundResult(message, message.seq == 1, name, conversation))
        return results

    def _inbound_statements(
        self, seq_rows: list[dict[str, Any]], rows: list[dict[str, Any]]
    ) -> Callable[[sqlite3.Connection], list[_Returned]]:
        """`_write_inbound`'s statements as one function for SQLite's driver thread.
        They are SQLAlchemy's, compiled once, their values bound by its own bind
        processors."""
        upsert = self._compiled(self._next_inbound_seq_stmt, seq_rows[0])
        add = self._compiled(self._insert_message_stmt, rows[0])

        def write(db: sqlite3.Connection) -> list[_Returned]:
            cursor = db.cursor()
            try:
                taken = []
                for seq_row, row in zip(seq_rows, rows, strict=True):
                    returned = cursor.execute(upsert.sql, upsert.bind(seq_row)).fetchone()
                    row.update(seq=returned[0], rev=returned[1])
                    cursor.execute(add.sql, add.bind(row))
                    taken.append(returned)
                return taken
            finally:
                cursor.close()

        return write

    async def _one_call(
        self,
        write: Callable[[sqlite3.Connection], _R],
        conn: AsyncConnection | None = None,
    ) -> _R | None:
        """`write` as one call on aiosqlite's thread instead of three or four round
        trips to it per statement, and without SQLAlchemy's connection, transaction
        and pool steps around it (together about 0.4 ms of CPU a transaction).

        Without `conn`: in a transaction of its own (BEGIN IMMEDIATE, `write`,
        COMMIT in that one call) on the connection this store keeps for it, when it
        owns a SQLite file engine. With `conn`: inside that transaction. None when
        neither can be done (then the caller runs the statements itself)."""
        if conn is not None:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            run = write
        else:
            if self._writer_unavailable:
                return None
            assert self._write_lock is not None  # SQLite
            async with self._write_lock:
                driver = await self._kept_writer()
                if driver is None:
                    return None
                return await self._driver_call(driver, functools.partial(_in_transaction, write))
        if not _calls_on_thread(driver):
            return None
        return await self._driver_call(driver, run)

    async def _driver_call(self, driver: Any, write: Callable[[sqlite3.Connection], _R]) -> _R:
        try:
            result: _R = await driver._execute(write, driver._conn)
        except sqlite3.IntegrityError as exc:
            raise _ConflictError(f"{type(exc).__name__}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{type(exc).__name__}: {exc}") from exc
        return result

    async def _kept_writer(self) -> Any | None:
        """The aiosqlite connection kept for `_one_call`, checked out of the pool on
        first use; None (for good) when the engine is not ours, is in memory (one
        connection for everything), or the driver cannot take a call."""
        if self._writer is None:
            url = self._engine.url
            memory = url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
            if not self._owns_engine or memory:
                self._writer_unavailable = True
                return None
            try:
                self._writer = await self._engine.raw_connection()
            except (SQLAlchemyError, OSError) as exc:
                raise StoreError(_describe(exc)) from exc
        driver = self._writer.driver_connection
        if not _calls_on_thread(driver):
            self._writer_unavailable = True
            await self._release_writer()
            return None
        return driver

    async def _release_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            await greenlet_spawn(writer.close)

    def _compiled(self, stmt: Any, row: dict[str, Any]) -> _Compiled:
        key = (stmt, tuple(row))
        found = self._compiled_cache.get(key)
        if found is None:
            found = _Compiled(stmt.compile(dialect=self._engine.dialect, column_keys=list(row)))
            self._compiled_cache[key] = found
        return found

    @_whole
    async def record_event(self, webhook_event_id: str) -> bool:
        async with self._tx(write=True, reads_first=False) as conn:
            return await self._remember(conn, webhook_event_id, self._clock())

    @_whole
    async def prune_events(self, older_than: datetime) -> int:
        stmt = webhook_events.delete().where(webhook_events.c.received_at < older_than)
        async with self._tx(write=True, reads_first=False) as conn:
            return int((await conn.execute(stmt)).rowcount or 0)

    @_whole
    async def add_outbound(
        self,
        line_user_id: str,
        client_msg_id: str,
        sender_id: str,
        text: str | None,
        *,
        note: bool = False,
        kind: MessageKind = MessageKind.TEXT,
        data: dict[str, Any] | None = None,
    ) -> OutboundResult:
        line_user_id, client_msg_id, sender_id, text = without_nul(
            [line_user_id, client_msg_id, sender_id, text]
        )
        try:
            async with self._tx(write=True) as conn:
                found = await self._find_outbound(conn, line_user_id, client_msg_id)
                if found is not None:
                    return OutboundResult(found, created=False)
                now = self._clock()
                seq, rev, name = await self._next_seq(conn, line_user_id, now)
                row = new_message_row(line_user_id, seq, rev, now, Direction.OUTBOUND)
                row.update(sender_id=sender_id, text=text, client_msg_id=client_msg_id)
                row.update(kind=kind, data=without_nul(dict(data or {})))
                if note:  # shown to the team only: stored as delivered, never pushed
                    row.update(direction=Direction.INTERNAL, kind=MessageKind.NOTE)
                    row.update(status=MessageStatus.SENT)
                await conn.execute(insert(messages), row)
        except _ConflictError:
            # Another process stored the same pair first; its transaction won.
            async with self._tx() as conn:
                found = await self._find_outbound(conn, line_user_id, client_msg_id)
            if found is None:
                raise
            return OutboundResult(found, created=False)
        return OutboundResult(message_from_row(row), created=True, display_name=name)

    @_whole
    async def claim(self, message_id: str, lease_seconds: float) -> bool:
        now = self._clock()
        col = messages.c
        stmt = (
            update(messages)
            .where(col.id == message_id, col.direction == Direction.OUTBOUND)
            .where(col.status != MessageStatus.SENT)
            .where(or_(col.lease_until.is_(None), col.lease_until <= now))
            .values(lease_until=now + timedelta(seconds=lease_seconds))
            .returning(col.id)
        )
        async with self._tx(write=True, reads_first=False) as conn:
            return (await conn.execute(stmt)).first() is not None

    @_whole
    async def set_status(
        self,
        message_id: str,
        status: MessageStatus,
        *,
        error: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Message:
        error, data = without_nul(error), without_nul(data)
        where = messages.c.id == message_id
        async with self._tx(write=True) as conn:
            found = await conn.execute(select(messages).where(where).with_for_update())
            row = found.mappings().first()
            if row is None:
                raise StoreError(f"no message with id {message_id!r}")
            if row["status"] == MessageStatus.SENT and status is not MessageStatus.SENT:
                return message_from_row(row)  # LINE has it: a late failure changes nothing
            changes: dict[str, Any] = {"status": status, "error": error, "lease_until": None}
            changes["data"] = {**(row["data"] or {}), **(data or {})}
            changes["rev"] = await self._next_rev(conn, row["line_user_id"])
            await conn.execute(update(messages).where(where).values(changes))
        return message_from_row({**row, **changes})

    @_whole
    async def unsend(self, line_user_id: str, line_message_id: str) -> Message | None:
        col = messages.c
        line_message_id = without_nul(line_message_id)  # bound as plain text: no NUL-free type
        where = and_(
            col.line_user_id == line_user_id,
            col.direction == Direction.INBOUND,
            col.data["message_id"].as_string() == line_message_id,
        )
        async with self._tx(write=True) as conn:
            row = (await conn.execute(select(messages).where(where))).mappings().first()
            if row is None:
                return None
            changes: dict[str, Any] = {"text": None}
            changes["data"] = {"message_id": line_message_id, "unsent": True}
            changes["rev"] = await self._next_rev(conn, line_user_id)
            await conn.execute(update(messages).where(col.id == row["id"]).values(changes))
        return message_from_row({**row, **changes})

    async def get_message(self, message_id: str) -> Message | None:
        async with self._tx() as conn:
            found = await conn.execute(select(messages).where(messages.c.id == message_id))
            row = found.mappings().first()
        return None if row is None else message_from_row(row)

    async def undelivered_outbound(self, older_than: datetime) -> list[Message]:
        col = messages.c
        stmt = (
            select(messages)
            .where(col.status == MessageStatus.PENDING, col.direction == Direction.OUTBOUND)
            .where(col.created_at < older_than)
            .order_by(col.created_at, col.line_user_id, col.seq)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [message_from_row(row) for row in rows]

    async def history(
        self,
        line_user_id: str,
        *,
        limit: int,
        after_seq: int | None = None,
        before_seq: int | None = None,
        after_rev: int | None = None,
    ) -> Page:
        if limit < 0:
            raise ValueError("limit must not be negative")
        col = messages.c
        stmt = select(messages).where(col.line_user_id == line_user_id).limit(limit + 1)
        if after_rev is not None:  # new and changed messages alike, in the order they changed
            stmt = stmt.where(col.rev > after_rev).order_by(col.rev)
        else:
            if before_seq is not None:
                stmt = stmt.where(col.seq < before_seq)
            if after_seq is not None:
                stmt = stmt.where(col.seq > after_seq).order_by(col.seq)
            else:
                stmt = stmt.order_by(col.seq.desc())
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        page = [message_from_row(row) for row in rows[:limit]]
        if after_seq is None and after_rev is None:
            page.reverse()
        return Page(messages=page, has_more=len(rows) > limit)

    async def get_conversation(self, line_user_id: str) -> Conversation | None:
        async with self._tx() as conn:
            return await self._read_conversation(conn, line_user_id)

    @_whole
    async def update_conversation(
        self,
        line_user_id: str,
        *,
        display_name: str | None = None,
        picture_url: str | None = None,
        followed: bool | None = None,
        touch: bool = False,
    ) -> Conversation:
        now = self._clock()
        fields = {"display_name": display_name, "picture_url": picture_url, "followed": followed}
        changes: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        if touch:
            changes["updated_at"] = now
        async with self._tx(write=True, reads_first=False) as conn:
            return await self._update_conversation(conn, line_user_id, changes, now)

    @_whole
    async def apply_follow(
        self, line_user_id: str, followed: bool, webhook_event_id: str
    ) -> Conversation | None:
        now = self._clock()
        changes = {"followed": followed, "updated_at": now}
        async with self._tx(write=True, reads_first=False) as conn:
            if not await self._remember(conn, webhook_event_id, now):
                return None
            return await self._update_conversation(conn, line_user_id, changes, now)

    @_whole
    async def assign(self, line_user_id: str, admin_id: str | None) -> tuple[Conversation, bool]:
        return await self._set_fields(line_user_id, {"assignee": without_nul(admin_id)})

    @_whole
    async def set_conversation_status(
        self, line_user_id: str, status: ConversationStatus
    ) -> tuple[Conversation, bool]:
        return await self._set_fields(line_user_id, {"status": status.value})

    @_whole
    async def mark_read(
        self, line_user_id: str, seq: int
    ) -> tuple[Conversation, ReadChange | None]:
        async with self._tx(write=True) as conn:
            change = await raise_read_seq(conn, line_user_id, seq)
            found = await self._read_conversation(conn, line_user_id)
        if found is None:
            found = await self.update_conversation(line_user_id)
        return found, change

    async def _set_fields(
        self, line_user_id: str, changes: dict[str, Any]
    ) -> tuple[Conversation, bool]:
        async with self._tx(write=True, reads_first=False) as conn:
            await self._insert_conversation(conn, line_user_id, self._clock())
            changed = await set_fields(conn, line_user_id, changes)
            found = await self._read_conversation(conn, line_user_id)
        if found is None:
            raise StoreError(f"conversation {line_user_id!r} vanished")
        return found, changed

    async def _update_conversation(
        self, conn: AsyncConnection, line_user_id: str, changes: dict[str, Any], now: datetime
    ) -> Conversation:
        await self._insert_conversation(conn, line_user_id, now)
        if changes:
            where = conversations.c.line_user_id == line_user_id
            await conn.execute(update(conversations).where(where).values(changes))
        found = await self._read_conversation(conn, line_user_id)
        if found is None:
            raise StoreError(f"conversation {line_user_id!r} vanished")
        return found

    async def list_conversations(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: ConversationStatus | None = None,
        assignee: str | None = None,
        unassigned: bool = False,
    ) -> ConversationPage:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        col = conversations.c
        stmt = conversation_select().order_by(col.updated_at.desc(), col.line_user_id.desc())
        if status is not None:
            stmt = stmt.where(col.status == status)
        if unassigned:
            stmt = stmt.where(col.assignee.is_(None))
        elif assignee is not None:
            stmt = stmt.where(col.assignee == assignee)
        if cursor is not None:
            when, after_id = decode_cursor(cursor)
            older = or_(
                col.updated_at < when, and_(col.updated_at == when, col.line_user_id < after_id)
            )
            stmt = stmt.where(older)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt.limit(limit + 1))).mappings().all()
        page = [conversation_from_row(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = encode_cursor(page[-1].updated_at, page[-1].line_user_id)
        return ConversationPage(conversations=page, next_cursor=next_cursor)

    async def last_outbound_at(self, line_user_id: str) -> datetime | None:
        col = messages.c
        stmt = (
            select(col.created_at)
            .where(col.line_user_id == line_user_id, col.direction == Direction.OUTBOUND)
            .order_by(col.seq.desc())
            .limit(1)
        )
        async with self._tx() as conn:
            found: datetime | None = await conn.scalar(stmt)
        return found

    async def last_inbound(self, line_user_id: str) -> Message | None:
        col = messages.c
        stmt = (
            select(messages)
            .where(col.line_user_id == line_user_id, col.direction == Direction.INBOUND)
            .order_by(col.seq.desc())
            .limit(1)
        )
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return None if row is None else message_from_row(row)

    @asynccontextmanager
    async def _tx(
        self, *, write: bool = False, reads_first: bool = True
    ) -> AsyncIterator[AsyncConnection]:
        """One transaction; driver errors leave it as `StoreError`.

        `reads_first=False` promises that the first statement writes: SQLite then
        takes the write lock with it (waiting for it, as `BEGIN IMMEDIATE` would)
        and the separate `BEGIN IMMEDIATE` round trip to the driver's thread is saved.
        """
        immediate = write and (reads_first or not self._implicit_begin)
        if write and self._write_lock is not None:
            async with self._write_lock:
                async with self._tx_unlocked(immediate=immediate) as conn:
                    yield conn
            return
        async with self._tx_unlocked(immediate=immediate) as conn:
            yield conn

    @asynccontextmanager
    async def _tx_unlocked(self, *, immediate: bool) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.connect() as conn, conn.begin():
                if immediate and self._sqlite:
                    # Take the write lock now: a deferred transaction that reads
                    # and then writes cannot wait for the lock and fails instead.
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
        except IntegrityError as exc:
            raise _ConflictError(_describe(exc)) from exc
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise StoreError(_describe(exc)) from exc

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        return sqlite.insert(table) if self._sqlite else postgresql.insert(table)

    async def _remember(self, conn: AsyncConnection, event_id: str, now: datetime) -> bool:
        row = {"webhook_event_id": event_id, "received_at": now}
        stmt = self._insert(webhook_events).values(row).on_conflict_do_nothing()
        stored = await conn.execute(stmt.returning(webhook_events.c.webhook_event_id))
        return stored.first() is not None

    async def _insert_conversation(
        self, conn: AsyncConnection, line_user_id: str, now: datetime
    ) -> bool:
        row = {"line_user_id": line_user_id, "followed": True, "last_seq": 0, "last_rev": 0}
        row.update(created_at=now, updated_at=now, unread_count=0)
        stmt = self._insert(conversations).values(row).on_conflict_do_nothing()
        stored = await conn.execute(stmt.returning(conversations.c.line_user_id))
        return stored.first() is not None

    async def _next_seq(
        self, conn: AsyncConnection, line_user_id: str, now: datetime
    ) -> tuple[int, int, str | None]:
        """The conversation's next seq and rev for an operator's message, creating
        the conversation if missing, in one upsert (seq 1 is the conversation's
        first message), and its display name (None while it has none)."""
        row = {"line_user_id": line_user_id, "followed": True, "last_seq": 1, "last_rev": 1}
        row.update(created_at=now, updated_at=now, unread_count=0)
        seq, rev, name = (await conn.execute(self._next_seq_stmt, row)).one()
        return int(seq), int(rev), name

    async def _next_rev(self, conn: AsyncConnection, line_user_id: str, count: int = 1) -> int:
        """Take `count` revs of the conversation (its row lock orders the writers);
        returns the first."""
        return await next_rev(conn, line_user_id, count)

    async def _find_outbound(
        self, conn: AsyncConnection, line_user_id: str, client_msg_id: str
    ) -> Message | None:
        col = messages.c
        stmt = select(messages).where(
            col.line_user_id == line_user_id, col.client_msg_id == client_msg_id
        )
        row = (await conn.execute(stmt)).mappings().first()
        return None if row is None else message_from_row(row)

    async def _event_in_messages(self, event_id: str) -> bool:
        stmt = select(messages.c.id).where(messages.c.webhook_event_id == event_id)
        async with self._tx() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def _read_conversation(
        self, conn: AsyncConnection, line_user_id: str
    ) -> Conversation | None:
        stmt = conversation_select().where(conversations.c.line_user_id == line_user_id)
        row = (await conn.execute(stmt)).mappings().first()
        return None if row is None else conversation_from_row(row)


def _calls_on_thread(driver: Any) -> bool:
    """Whether `driver` is an aiosqlite connection that runs a call on its thread."""
    return callable(getattr(driver, "_execute", None)) and hasattr(driver, "_conn")


def _in_transaction(write: Callable[[sqlite3.Connection], _R], db: sqlite3.Connection) -> _R:
    """`write` in a transaction of its own, committed (rolled back if it raises)."""
    db.execute("BEGIN IMMEDIATE")  # the write lock first, waiting for it (busy_timeout)
    try:
        result = write(db)
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return result


def _inbound_rows(
    news: list[NewInbound], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The seq upserts' rows and the messages' rows (seq and rev still 0)."""
    seq_rows, rows = [], []
    for new in news:
        seq_row = {"line_user_id": new.line_user_id, "followed": True, "last_seq": 1}
        seq_row.update(last_rev=1, created_at=now, updated_at=now, unread_count=1)
        seq_rows.append(seq_row)
        row = new_message_row(new.line_user_id, 0, 0, as_utc(new.created_at or now))
        row.update(kind=new.kind, text=new.text, data=dict(new.data))
        row.update(webhook_event_id=new.webhook_event_id, sender_id=new.line_user_id)
        rows.append(row)
    return seq_rows, rows


def _stored_form(new: NewInbound) -> NewInbound:
    """The message as it is stored: with U+FFFD for NUL (see NulFreeText)."""
    return replace(
        new,
        line_user_id=without_nul(new.line_user_id),
        text=without_nul(new.text),
        data=without_nul(dict(new.data)),
        webhook_event_id=without_nul(new.webhook_event_id),
    )


class _Compiled:
    """A statement compiled once for SQLite's driver: its SQL and how a row's
    values become its positional parameters (SQLAlchemy's bind processors)."""

    def __init__(self, compiled: Any) -> None:
        self.sql = str(compiled)
        self._compiled = compiled
        self._names = tuple(compiled.positiontup)
        processors = compiled._bind_processors
        self._processors = tuple(processors.get(name) for name in self._names)

    def bind(self, row: dict[str, Any]) -> tuple[Any, ...]:
        params = self._compiled.construct_params(row)
        return tuple(
            value if process is None else process(value)
            for value, process in zip(
                (params[name] for name in self._names), self._processors, strict=True
            )
        )


def _describe(exc: SQLAlchemyError | OSError | TimeoutError) -> str:
    """The driver's own message, without the SQL and its parameters."""
    if isinstance(exc, DBAPIError):
        return f"{type(exc.orig).__name__}: {exc.orig}"
    return f"{type(exc).__name__}: {exc}"
