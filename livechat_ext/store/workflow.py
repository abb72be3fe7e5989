"""The team workflow's writes (protocol 1.1): revs, assignment, status and the
shared read state, each inside a transaction the store opened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..models import Direction, Message
from .schema import conversations, message_from_row, messages


@dataclass(frozen=True)
class ReadChange:
    """What raising a conversation's `read_seq` changed: the messages now read
    (with their new revs) and the newest `markAsReadToken` among them, for LINE."""

    read_seq: int
    messages: list[Message]
    token: str | None


async def next_rev(conn: AsyncConnection, line_user_id: str, count: int = 1) -> int:
    """Take `count` consecutive revs of a conversation and return the first; the
    update's row lock orders concurrent writers on PostgreSQL."""
    col = conversations.c
    stmt = (
        update(conversations)
        .where(col.line_user_id == line_user_id)
        .values(last_rev=col.last_rev + count)
        .returning(col.last_rev)
    )
    last = (await conn.execute(stmt)).scalar_one()
    return int(last) - count + 1


async def set_fields(conn: AsyncConnection, line_user_id: str, changes: dict[str, Any]) -> bool:
    """Apply `changes` to a conversation unless it already has them; whether it changed."""
    col = conversations.c
    row = (
        await conn.execute(
            select(*(col[name] for name in changes))
            .where(col.line_user_id == line_user_id)
            .with_for_update()
        )
    ).first()
    if row is None or all(row[i] == value for i, value in enumerate(changes.values())):
        return False
    await conn.execute(
        update(conversations).where(col.line_user_id == line_user_id).values(changes)
    )
    return True


async def raise_read_seq(conn: AsyncConnection, line_user_id: str, seq: int) -> ReadChange | None:
    """Mark the user's messages up to `seq` read, never lowering `read_seq`: it
    becomes the highest inbound seq at or below `seq`. None when nothing changes."""
    c, m = conversations.c, messages.c
    found = await conn.execute(
        select(c.read_seq).where(c.line_user_id == line_user_id).with_for_update()
    )
    current = found.scalar_one_or_none()
    if current is None or seq <= current:
        return None
    inbound = (m.line_user_id == line_user_id) & (m.direction == Direction.INBOUND)
    rows = (
        (
            await conn.execute(
                select(messages).where(inbound, m.seq > current, m.seq <= seq).order_by(m.seq)
            )
        )
        .mappings()
        .all()
    )
    if not rows:
        return None
    first = await next_rev(conn, line_user_id, len(rows))
    changed = [
        {**row, "rev": first + i, "data": {**(row["data"] or {}), "read": True}}
        for i, row in enumerate(rows)
    ]
    await conn.execute(
        update(messages)
        .where(m.id == bindparam("b_id"))
        .values(rev=bindparam("b_rev"), data=bindparam("b_data")),
        [{"b_id": r["id"], "b_rev": r["rev"], "b_data": r["data"]} for r in changed],
    )
    read_seq = int(rows[-1]["seq"])
    unread = await conn.scalar(select(func.count()).where(inbound, m.seq > read_seq))
    await conn.execute(
        update(conversations)
        .where(c.line_user_id == line_user_id)
        .values(read_seq=read_seq, unread_count=int(unread or 0))
    )
    tokens = [r["data"].get("mark_as_read_token") for r in changed]
    token = next((t for t in reversed(tokens) if isinstance(t, str) and t), None)
    return ReadChange(read_seq, [message_from_row(r) for r in changed], token)
