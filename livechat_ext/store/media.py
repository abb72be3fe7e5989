"""The media part of the store: the fetch state of users' content, one row per
LINE message id (the bytes themselves are files, see `store/files.py`)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .schema import media, without_nul

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.sql.schema import Table


class MediaState(StrEnum):
    PENDING = "pending"  # not fetched yet (LINE said 202, or not asked yet)
    READY = "ready"  # fetched: a node that lacks the file fetches it again
    GONE = "gone"  # unsent by the user (LINE's 410): deleted, never served again
    MISSING = "missing"  # LINE has no such content (404)
    TOO_LARGE = "too_large"  # over `media_max_bytes`: not kept
    FAILED = "failed"  # LINE refused it (a 4xx), or out of tries over several passes


@dataclass(frozen=True)
class MediaRecord:
    """One content's state. `preview_type` is set when a preview was kept."""

    line_message_id: str
    line_user_id: str
    kind: str
    state: MediaState
    content_type: str | None = None
    size: int | None = None
    preview_type: str | None = None
    file_name: str | None = None
    attempts: int = 0


class MediaStore(Protocol):
    """What the media flow and the content route use."""

    async def add_media(self, record: MediaRecord) -> bool:
        """Remember a content to fetch (state `pending`); False if known already."""

    async def add_media_many(self, records: list[MediaRecord]) -> set[str]:
        """`add_media` for several, in one transaction: the LINE message ids that
        were not known before."""

    async def get_media(self, line_message_id: str) -> MediaRecord | None:
        """One content's state, or None."""

    async def claim_media(self, line_message_id: str, lease_seconds: float) -> bool:
        """Take the right to fetch a `pending` content for a while; False while
        another holder's lease runs or when it is not pending."""

    async def set_media(
        self,
        line_message_id: str,
        state: MediaState,
        *,
        content_type: str | None = None,
        size: int | None = None,
        preview_type: str | None = None,
        attempts: int | None = None,
        line_user_id: str | None = None,
    ) -> None:
        """Record a fetch's outcome and release the lease. A `gone` content stays
        gone. `line_user_id`: only if the content is that user's."""

    async def release_media(self, line_message_id: str, attempts: int | None = None) -> None:
        """Release the lease of a content still `pending` (never changes another
        state), recording `attempts` if given."""

    async def pending_media(self, limit: int) -> list[MediaRecord]:
        """Pending contents whose lease ran out (left by a restart or a failure)."""

    async def gone_media(self, since: datetime | None, limit: int) -> list[str]:
        """LINE message ids of contents unsent since `since` (None: ever), the
        most recent first."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _whole(
    write: Callable[Concatenate[SqlMedia, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[SqlMedia, _P], Coroutine[Any, Any, _R]]:
    """A write runs to its end even if its caller is cancelled (as `SqlStore`'s do:
    aiosqlite cancelled mid-statement keeps SQLite's write lock)."""

    @functools.wraps(write)
    async def run(store: SqlMedia, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        task = asyncio.get_running_loop().create_task(write(store, *args, **kwargs))
        store._writes.add(task)
        task.add_done_callback(store._writes.discard)
        return await asyncio.shield(task)

    return run


def record_from_row(row: Mapping[Any, Any]) -> MediaRecord:
    return MediaRecord(
        line_message_id=row["line_message_id"],
        line_user_id=row["line_user_id"],
        kind=row["kind"],
        state=MediaState(row["state"]),
        content_type=row["content_type"],
        size=row["size"],
        preview_type=row["preview_type"],
        file_name=row["file_name"],
        attempts=row["attempts"],
    )


class SqlMedia:
    """`MediaStore` for `SqlStore` (mixed in: it uses the store's transactions)."""

    if TYPE_CHECKING:
        _clock: Callable[[], datetime]
        _writes: set[asyncio.Task[Any]]

        def _tx(
            self, *, write: bool = False, reads_first: bool = True
        ) -> AbstractAsyncContextManager[AsyncConnection]: ...

        def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert: ...

    async def add_media(self, record: MediaRecord) -> bool:
        return bool(await self.add_media_many([record]))

    @_whole
    async def add_media_many(self, records: list[MediaRecord]) -> set[str]:
        if not records:
            return set()
        now = self._clock()
        rows = [
            {
                "line_message_id": without_nul(record.line_message_id),
                "line_user_id": without_nul(record.line_user_id),
                "kind": record.kind,
                "state": MediaState.PENDING.value,
                "file_name": without_nul(record.file_name),
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            for record in records
        ]
        stmt = self._insert(media).values(rows).on_conflict_do_nothing()
        async with self._tx(write=True, reads_first=False) as conn:
            stored = await conn.execute(stmt.returning(media.c.line_message_id))
            return {row[0] for row in stored}

    async def get_media(self, line_message_id: str) -> MediaRecord | None:
        stmt = select(media).where(media.c.line_message_id == without_nul(line_message_id))
        async with self._tx() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return None if row is None else record_from_row(row)

    @_whole
    async def claim_media(self, line_message_id: str, lease_seconds: float) -> bool:
        now = self._clock()
        col = media.c
        stmt = (
            update(media)
            .where(col.line_message_id == line_message_id, col.state == MediaState.PENDING)
            .where(or_(col.lease_until.is_(None), col.lease_until <= now))
            .values(lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
            .returning(col.line_message_id)
        )
        async with self._tx(write=True, reads_first=False) as conn:
            return (await conn.execute(stmt)).first() is not None

    @_whole
    async def set_media(
        self,
        line_message_id: str,
        state: MediaState,
        *,
        content_type: str | None = None,
        size: int | None = None,
        preview_type: str | None = None,
        attempts: int | None = None,
        line_user_id: str | None = None,
    ) -> None:
        col = media.c
        changes: dict[str, Any] = {"state": state.value, "lease_until": None}
        changes.update(updated_at=self._clock())
        if state is MediaState.READY:
            changes.update(content_type=content_type, size=size, preview_type=preview_type)
        if attempts is not None:
            changes["attempts"] = attempts
        where = [col.line_message_id == line_message_id]
        if state is not MediaState.GONE:
            where.append(col.state != MediaState.GONE)  # an unsend wins over a late fetch
        if line_user_id is not None:
            where.append(col.line_user_id == without_nul(line_user_id))
        async with self._tx(write=True, reads_first=False) as conn:
            await conn.execute(update(media).where(*where).values(without_nul(changes)))

    @_whole
    async def release_media(self, line_message_id: str, attempts: int | None = None) -> None:
        col = media.c
        changes: dict[str, Any] = {"lease_until": None, "updated_at": self._clock()}
        if attempts is not None:
            changes["attempts"] = attempts
        stmt = (
            update(media)
            .where(col.line_message_id == line_message_id, col.state == MediaState.PENDING)
            .values(changes)
        )
        async with self._tx(write=True, reads_first=False) as conn:
            await conn.execute(stmt)

    async def pending_media(self, limit: int) -> list[MediaRecord]:
        col = media.c
        now = self._clock()
        stmt = (
            select(media)
            .where(col.state == MediaState.PENDING)
            .where(or_(col.lease_until.is_(None), col.lease_until <= now))
            .order_by(col.created_at)
            .limit(limit)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [record_from_row(row) for row in rows]

    async def gone_media(self, since: datetime | None, limit: int) -> list[str]:
        col = media.c
        stmt = select(col.line_message_id).where(col.state == MediaState.GONE)
        if since is not None:
            stmt = stmt.where(col.updated_at >= since)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt.order_by(col.updated_at.desc()).limit(limit))).all()
        return [str(row[0]) for row in rows]
