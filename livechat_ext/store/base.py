"""The store interface: conversations, messages with per-conversation `seq`,
webhook event ids and send idempotency."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..models import Conversation, Message, MessageKind, MessageStatus


@dataclass(frozen=True)
class NewInbound:
    """A message from a LINE user, as the webhook delivers it."""

    line_user_id: str
    kind: MessageKind
    text: str | None
    data: dict[str, Any] = field(default_factory=dict)
    webhook_event_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class InboundResult:
    """What `add_inbound` stored; `new_conversation` is true for the conversation's
    first message (seq 1), also when a follow event created the conversation before.
    `display_name` is the conversation's as the message was stored (None: none yet)."""

    message: Message
    new_conversation: bool
    display_name: str | None = None


@dataclass(frozen=True)
class OutboundResult:
    """What `add_outbound` found or stored; `created` is false for a repeat.
    `display_name` is the conversation's as a new message was stored (None: none yet)."""

    message: Message
    created: bool
    display_name: str | None = None


@dataclass(frozen=True)
class Page:
    """A page of messages, oldest first; `has_more` looks in the paging direction."""

    messages: list[Message]
    has_more: bool


@dataclass(frozen=True)
class ConversationPage:
    """A page of conversations, newest first; `next_cursor` continues it."""

    conversations: list[Conversation]
    next_cursor: str | None


@runtime_checkable
class Store(Protocol):
    """Persistence for livechat_ext. Driver errors surface as `StoreError`."""

    async def start(self) -> None:
        """Open connections. Does not create tables (see `create_schema`)."""

    async def close(self) -> None:
        """Release connections (a host-provided engine is left open)."""

    async def create_schema(self) -> None:
        """Create or upgrade the tables; safe to run from several processes at once."""

    async def ping(self) -> None:
        """Raise `StoreError` if the store cannot be reached."""

    async def add_inbound(self, new: NewInbound) -> InboundResult | None:
        """Store a LINE user's message with the next `seq`.

        Returns None when a message with this `webhook_event_id` was stored
        before (a redelivery): the message's unique event id is the record.
        """

    async def record_event(self, webhook_event_id: str) -> bool:
        """Remember the id of a webhook event that stores no message (follow,
        unsend); False if it was already known."""

    async def prune_events(self, older_than: datetime) -> int:
        """Forget webhook event ids recorded before `older_than` (LINE redelivers
        for minutes, not days); returns how many were removed."""

    async def add_outbound(
        self, line_user_id: str, client_msg_id: str, sender_id: str, text: str
    ) -> OutboundResult:
        """Store an operator's message as `pending`, idempotent on
        (`line_user_id`, `client_msg_id`): a repeat returns the stored one."""

    async def claim(self, message_id: str, lease_seconds: float) -> bool:
        """Take the right to deliver an outbound message that is not `sent`,
        for `lease_seconds`; False while another holder's lease runs."""

    async def set_status(
        self,
        message_id: str,
        status: MessageStatus,
        *,
        error: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Message:
        """Set an outbound message's status (and release its lease); `data` is merged."""

    async def unsend(self, line_user_id: str, line_message_id: str) -> Message | None:
        """Hide a LINE user's message they unsent (text and data cleared, `data.unsent`
        set); None when no stored message has that LINE message id."""

    async def get_message(self, message_id: str) -> Message | None:
        """One message by id, or None."""

    async def undelivered_outbound(self, older_than: datetime) -> list[Message]:
        """Outbound messages still `pending` created before `older_than` (for retry at start)."""

    async def history(
        self,
        line_user_id: str,
        *,
        limit: int,
        after_seq: int | None = None,
        before_seq: int | None = None,
    ) -> Page:
        """Messages oldest first. With `after_seq`: the first `limit` with a greater
        seq. Otherwise the latest `limit` (below `before_seq` if given)."""

    async def get_conversation(self, line_user_id: str) -> Conversation | None:
        """One conversation with its last message, or None."""

    async def ensure_conversation(self, line_user_id: str) -> tuple[Conversation, bool]:
        """The conversation, created empty if missing; the bool says it was created."""

    async def update_conversation(
        self,
        line_user_id: str,
        *,
        display_name: str | None = None,
        picture_url: str | None = None,
        followed: bool | None = None,
        touch: bool = False,
    ) -> Conversation:
        """Change a conversation's profile fields (None leaves a field as it is);
        `touch` moves its `updated_at` to now. Creates the conversation if missing."""

    async def apply_follow(
        self, line_user_id: str, followed: bool, webhook_event_id: str
    ) -> Conversation | None:
        """A follow or unfollow event: set `followed`, touch the conversation
        (creating it) and remember the event id, in one transaction. None, with
        nothing changed, when the event id was known (a redelivery)."""

    async def list_conversations(
        self, *, limit: int, cursor: str | None = None
    ) -> ConversationPage:
        """Conversations newest first (by `updated_at`, then `line_user_id`), paged
        by an opaque cursor: `next_cursor`, or `conversation_cursor(c)` to go on
        after any conversation `c`. A cursor the store cannot read is a `ValueError`."""

    async def last_inbound(self, line_user_id: str) -> Message | None:
        """The LINE user's latest message (its `data.mode` tells standby), or None."""

    async def last_outbound_at(self, line_user_id: str) -> datetime | None:
        """When an operator last sent a message in this conversation."""
