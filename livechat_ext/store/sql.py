"""`SqlStore`: the `Store` on SQLAlchemy Core async, for SQLite and PostgreSQL.

`seq` is allocated inside the writing transaction by incrementing the
conversation's `last_seq`: the row lock serialises writers on PostgreSQL, and
`BEGIN IMMEDIATE` takes SQLite's write lock up front, so concurrent writers in
any number of processes get consecutive numbers and a rolled back write leaves
no gap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.schema import Table

from ..errors import ConfigError, StoreError
from ..models import Conversation, Direction, Message, MessageStatus, utcnow
from .base import ConversationPage, InboundResult, NewInbound, OutboundResult, Page
from .schema import (
    SCHEMA_VERSION,
    as_utc,
    conversation_from_row,
    conversation_select,
    conversations,
    decode_cursor,
    encode_cursor,
    message_from_row,
    messages,
    metadata,
    new_message_row,
    schema_version,
    webhook_events,
    without_nul,
)

_SCHEMA_LOCK_KEY = 0x6C69766563686174  # "livechat": serialises create_schema on PostgreSQL
_DIALECTS = ("sqlite", "postgresql")


class _ConflictError(StoreError):
    """A unique constraint refused a write (a concurrent duplicate)."""


class SqlStore:
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
        # On our own SQLite engine the driver opens a transaction before the first
        # write by itself; a host's engine may run in autocommit, so its write
        # transactions always begin explicitly.
        self._implicit_begin = owns_engine
        # built once, values bound at execution: SQLAlchemy then reuses the compiled form
        upsert = self._insert(conversations)
        col = conversations.c
        self._next_seq_stmt = upsert.on_conflict_do_update(
            index_elements=[col.line_user_id],
            set_={"last_seq": col.last_seq + 1, "updated_at": upsert.excluded.updated_at},
        ).returning(col.last_seq, col.display_name)

    async def start(self) -> None:
        await self.ping()

    async def close(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    async def ping(self) -> None:
        async with self._tx() as conn:
            await conn.execute(text("SELECT 1"))

    async def create_schema(self) -> None:
        async with self._tx(write=True) as conn:
            if not self._sqlite:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK_KEY}
                )
            await conn.run_sync(metadata.create_all)
            found = await conn.scalar(select(func.max(schema_version.c.version)))
            if found is not None and found > SCHEMA_VERSION:
                raise StoreError(f"the schema is version {found}, newer than {SCHEMA_VERSION}")
            row = {"version": SCHEMA_VERSION, "applied_at": self._clock()}
            await conn.execute(self._insert(schema_version).values(row).on_conflict_do_nothing())

    async def add_inbound(self, new: NewInbound) -> InboundResult | None:
        # the message returned is the one stored: with U+FFFD for NUL (see NulFreeText)
        new = replace(
            new,
            line_user_id=without_nul(new.line_user_id),
            text=without_nul(new.text),
            data=without_nul(dict(new.data)),
            webhook_event_id=without_nul(new.webhook_event_id),
        )
        now = self._clock()
        event_id = new.webhook_event_id
        try:
            # the message's own unique webhook_event_id is the record of the event
            async with self._tx(write=True, reads_first=False) as conn:
                seq, name = await self._next_seq(conn, new.line_user_id, now)
                row = new_message_row(new.line_user_id, seq, as_utc(new.created_at or now))
                row.update(kind=new.kind, text=new.text, data=dict(new.data))
                row.update(webhook_event_id=event_id, sender_id=new.line_user_id)
                await conn.execute(insert(messages), row)
        except _ConflictError:
            if event_id is not None and await self._event_in_messages(event_id):
                return None
            raise
        return InboundResult(message_from_row(row), seq == 1, name)

    async def record_event(self, webhook_event_id: str) -> bool:
        async with self._tx(write=True, reads_first=False) as conn:
            return await self._remember(conn, webhook_event_id, self._clock())

    async def prune_events(self, older_than: datetime) -> int:
        stmt = webhook_events.delete().where(webhook_events.c.received_at < older_than)
        async with self._tx(write=True, reads_first=False) as conn:
            return int((await conn.execute(stmt)).rowcount or 0)

    async def add_outbound(
        self, line_user_id: str, client_msg_id: str, sender_id: str, text: str
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
                seq, name = await self._next_seq(conn, line_user_id, now)
                row = new_message_row(line_user_id, seq, now, Direction.OUTBOUND)
                row.update(sender_id=sender_id, text=text, client_msg_id=client_msg_id)
                await conn.execute(insert(messages), row)
        except _ConflictError:
            # Another process stored the same pair first; its transaction won.
            async with self._tx() as conn:
                found = await self._find_outbound(conn, line_user_id, client_msg_id)
            if found is None:
                raise
            return OutboundResult(found, created=False)
        return OutboundResult(message_from_row(row), created=True, display_name=name)

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
            await conn.execute(update(messages).where(where).values(changes))
        return message_from_row({**row, **changes})

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
            data = {"message_id": line_message_id, "unsent": True}
            await conn.execute(
                update(messages).where(col.id == row["id"]).values(text=None, data=data)
            )
        return message_from_row({**row, "text": None, "data": data})

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
    ) -> Page:
        if limit < 0:
            raise ValueError("limit must not be negative")
        col = messages.c
        stmt = select(messages).where(col.line_user_id == line_user_id).limit(limit + 1)
        if before_seq is not None:
            stmt = stmt.where(col.seq < before_seq)
        if after_seq is not None:
            stmt = stmt.where(col.seq > after_seq).order_by(col.seq)
        else:
            stmt = stmt.order_by(col.seq.desc())
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        page = [message_from_row(row) for row in rows[:limit]]
        if after_seq is None:
            page.reverse()
        return Page(messages=page, has_more=len(rows) > limit)

    async def get_conversation(self, line_user_id: str) -> Conversation | None:
        async with self._tx() as conn:
            return await self._read_conversation(conn, line_user_id)

    async def ensure_conversation(self, line_user_id: str) -> tuple[Conversation, bool]:
        async with self._tx(write=True, reads_first=False) as conn:
            created = await self._insert_conversation(conn, line_user_id, self._clock())
            found = await self._read_conversation(conn, line_user_id)
        if found is None:
            raise StoreError(f"conversation {line_user_id!r} vanished")
        return found, created

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

    async def apply_follow(
        self, line_user_id: str, followed: bool, webhook_event_id: str
    ) -> Conversation | None:
        now = self._clock()
        changes = {"followed": followed, "updated_at": now}
        async with self._tx(write=True, reads_first=False) as conn:
            if not await self._remember(conn, webhook_event_id, now):
                return None
            return await self._update_conversation(conn, line_user_id, changes, now)

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
        self, *, limit: int, cursor: str | None = None
    ) -> ConversationPage:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        col = conversations.c
        stmt = conversation_select().order_by(col.updated_at.desc(), col.line_user_id.desc())
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
        row = {"line_user_id": line_user_id, "followed": True, "last_seq": 0}
        row.update(created_at=now, updated_at=now)
        stmt = self._insert(conversations).values(row).on_conflict_do_nothing()
        stored = await conn.execute(stmt.returning(conversations.c.line_user_id))
        return stored.first() is not None

    async def _next_seq(
        self, conn: AsyncConnection, line_user_id: str, now: datetime
    ) -> tuple[int, str | None]:
        """The conversation's next seq, creating the conversation if missing, in one
        upsert, and its display name (None while it has none)."""
        row = {"line_user_id": line_user_id, "followed": True, "last_seq": 1}
        row.update(created_at=now, updated_at=now)
        seq, name = (await conn.execute(self._next_seq_stmt, row)).one()
        return int(seq), name

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


def _describe(exc: SQLAlchemyError | OSError | TimeoutError) -> str:
    """The driver's own message, without the SQL and its parameters."""
    if isinstance(exc, DBAPIError):
        return f"{type(exc.orig).__name__}: {exc.orig}"
    return f"{type(exc).__name__}: {exc}"
