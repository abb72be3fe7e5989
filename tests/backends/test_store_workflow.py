"""The store's part of protocol 1.1 on SQLite and PostgreSQL: revs for every
change, catch-up by rev, notes, assignment, status and the shared read state."""

# ruff: noqa: F811 (the fixtures of the store contract, imported by name)

from __future__ import annotations

import asyncio

from livechat_ext.models import ConversationStatus, Direction, MessageKind, MessageStatus
from livechat_ext.store import NewInbound, Store

from .test_store_contract import (  # noqa: F401 (fixtures)
    clock,
    db_url,
    open_store,
    store,
    text_in,
    twin,
)


def with_token(user: str, event_id: str, token: str | None) -> NewInbound:
    data = {"mark_as_read_token": token} if token else {}
    return NewInbound(user, MessageKind.TEXT, event_id, data=data, webhook_event_id=event_id)


async def inbound(store: Store, user: str, event_id: str, token: str | None = None) -> int:
    stored = await store.add_inbound(with_token(user, event_id, token))
    assert stored is not None
    return stored.message.seq


async def test_every_new_message_and_every_change_takes_the_next_rev(store: Store) -> None:
    first = await store.add_inbound(text_in("U1", "a", "e1"))
    sent = await store.add_outbound("U1", "c-1", "admin-1", "b")
    assert first is not None
    assert (first.message.rev, sent.message.rev) == (1, 2)

    delivered = await store.set_status(sent.message.id, MessageStatus.SENT)
    hidden = await store.unsend("U1", "never-stored")
    assert delivered.rev == 3 and hidden is None

    conversation = await store.get_conversation("U1")
    assert conversation is not None and (conversation.last_seq, conversation.last_rev) == (2, 3)
    assert conversation.last_message is not None and conversation.last_message.rev == 3


async def test_catch_up_by_rev_holds_new_and_changed_messages_once_in_their_latest_form(
    store: Store,
) -> None:
    await store.add_inbound(
        NewInbound("U1", MessageKind.TEXT, "hi", data={"message_id": "L1"}, webhook_event_id="e1")
    )
    pending = await store.add_outbound("U1", "c-1", "admin-1", "one")
    seen = await store.get_conversation("U1")
    assert seen is not None
    after = seen.last_rev  # a client saw both messages, then lost its connection
    await store.set_status(pending.message.id, MessageStatus.FAILED, error="x")
    await store.set_status(pending.message.id, MessageStatus.SENT)
    await store.unsend("U1", "L1")
    await store.add_inbound(text_in("U1", "new", "e2"))

    page = await store.history("U1", limit=10, after_rev=after)

    assert [(m.seq, m.status) for m in page.messages] == [
        (2, MessageStatus.SENT),
        (1, MessageStatus.RECEIVED),
        (3, MessageStatus.RECEIVED),
    ]
    assert page.messages[1].data.get("unsent") is True and page.messages[1].text is None
    assert [m.rev for m in page.messages] == sorted(m.rev for m in page.messages)
    assert not page.has_more
    small = await store.history("U1", limit=2, after_rev=after)
    assert small.has_more and [m.seq for m in small.messages] == [2, 1]


async def test_a_note_is_internal_sent_and_shares_the_send_id_space(store: Store) -> None:
    note = await store.add_outbound("U1", "n-1", "admin-1", "check the order", note=True)
    again = await store.add_outbound("U1", "n-1", "admin-1", "check the order", note=True)
    as_message = await store.add_outbound("U1", "n-1", "admin-1", "other", note=False)

    assert note.created and not again.created and not as_message.created
    message = note.message
    assert (message.kind, message.direction, message.status) == (
        MessageKind.NOTE,
        Direction.INTERNAL,
        MessageStatus.SENT,
    )
    assert as_message.message.id == message.id
    assert await store.undelivered_outbound(older_than=message.created_at.replace(year=2100)) == []
    listed = await store.history("U1", limit=5)
    assert [m.kind for m in listed.messages] == [MessageKind.NOTE]


async def test_assign_resolve_and_reopen_say_whether_they_changed(store: Store) -> None:
    await store.add_inbound(text_in("U1", "hi", "e1"))

    assigned, changed = await store.assign("U1", "admin-2")
    assert changed and assigned.assignee == "admin-2"
    assert (await store.assign("U1", "admin-2"))[1] is False
    resolved, changed = await store.set_conversation_status("U1", ConversationStatus.RESOLVED)
    assert changed and resolved.status is ConversationStatus.RESOLVED
    assert resolved.assignee == "admin-2"
    assert (await store.set_conversation_status("U1", ConversationStatus.RESOLVED))[1] is False
    reopened, changed = await store.set_conversation_status("U1", ConversationStatus.OPEN)
    assert changed and reopened.assignee == "admin-2"
    cleared, changed = await store.assign("U1", None)
    assert changed and cleared.assignee is None


async def test_a_new_inbound_message_reopens_a_resolved_conversation_unassigned(
    store: Store,
) -> None:
    await store.add_inbound(text_in("U1", "hi", "e1"))
    await store.assign("U1", "admin-1")
    await store.set_conversation_status("U1", ConversationStatus.RESOLVED)
    await store.add_outbound("U1", "c-1", "admin-1", "bye")  # an operator's message does not
    still = await store.get_conversation("U1")
    assert still is not None and still.status is ConversationStatus.RESOLVED

    await store.add_inbound(text_in("U1", "one more thing", "e2"))

    conversation = await store.get_conversation("U1")
    assert conversation is not None
    assert (conversation.status, conversation.assignee) == (ConversationStatus.OPEN, None)


async def test_mark_read_raises_read_seq_never_lowers_it_and_counts_unread(store: Store) -> None:
    await inbound(store, "U1", "e1", "tok-1")
    await inbound(store, "U1", "e2", "tok-2")
    await store.add_outbound("U1", "c-1", "admin-1", "answer")  # seq 3
    await inbound(store, "U1", "e4")
    await inbound(store, "U1", "e5", "tok-5")
    before = await store.get_conversation("U1")
    assert before is not None and (before.read_seq, before.unread_count) == (0, 4)

    conversation, change = await store.mark_read("U1", 3)  # an outbound seq: up to 2

    assert change is not None and change.read_seq == 2 and change.token == "tok-2"
    assert [m.seq for m in change.messages] == [1, 2]
    assert all(m.data["read"] is True for m in change.messages)
    assert [m.rev for m in change.messages] == [before.last_rev + 1, before.last_rev + 2]
    assert (conversation.read_seq, conversation.unread_count) == (2, 2)
    assert conversation.last_rev == before.last_rev + 2

    lowered, nothing = await store.mark_read("U1", 1)
    assert nothing is None and lowered.read_seq == 2
    again, nothing = await store.mark_read("U1", 2)
    assert nothing is None and again.unread_count == 2

    _, change = await store.mark_read("U1", 4)  # no token in what it covers
    assert change is not None and change.token is None and change.read_seq == 4
    conversation, change = await store.mark_read("U1", 99)
    assert change is not None and change.token == "tok-5"
    assert (conversation.read_seq, conversation.unread_count) == (5, 0)
    caught_up = await store.history("U1", limit=10, after_rev=before.last_rev)
    assert [m.seq for m in caught_up.messages] == [1, 2, 4, 5]


async def test_concurrent_marks_and_messages_on_two_engines_keep_revs_unique(
    store: Store, twin: Store
) -> None:
    for i in range(6):
        await inbound(store, "U1", f"e{i}", f"t{i}")

    async def work(i: int) -> None:
        target = store if i % 2 else twin
        if i % 3 == 0:
            await target.mark_read("U1", i)
        else:
            await target.add_outbound("U1", f"c-{i}", "admin-1", "x")

    await asyncio.gather(*(work(i) for i in range(12)))

    conversation = await store.get_conversation("U1")
    page = await store.history("U1", limit=100)
    revs = [m.rev for m in page.messages]
    assert conversation is not None
    assert len(set(revs)) == len(revs) and max(revs) == conversation.last_rev
    assert conversation.read_seq == 6 and conversation.unread_count == 0


async def test_conversations_are_listed_by_status_and_assignee(store: Store) -> None:
    for user in ("Ua", "Ub", "Uc", "Ud"):
        await store.add_inbound(text_in(user, "hi", f"e-{user}"))
    await store.assign("Ua", "admin-1")
    await store.assign("Ub", "admin-2")
    await store.assign("Uc", "admin-1")
    await store.set_conversation_status("Uc", ConversationStatus.RESOLVED)

    async def ids(**filters: object) -> list[str]:
        page = await store.list_conversations(limit=10, **filters)  # type: ignore[arg-type]
        return sorted(c.line_user_id for c in page.conversations)

    assert await ids(status=ConversationStatus.OPEN, assignee="admin-1") == ["Ua"]
    assert await ids(assignee="admin-1") == ["Ua", "Uc"]
    assert await ids(status=ConversationStatus.OPEN, unassigned=True) == ["Ud"]
    assert await ids(status=ConversationStatus.RESOLVED) == ["Uc"]
    assert await ids(status=ConversationStatus.OPEN) == ["Ua", "Ub", "Ud"]
    first = await store.list_conversations(limit=1, status=ConversationStatus.OPEN)
    rest = await store.list_conversations(
        limit=10, cursor=first.next_cursor, status=ConversationStatus.OPEN
    )
    assert len(first.conversations) + len(rest.conversations) == 3
