"""The store interface: conversations, messages with per-conversation `seq`,
webhook event ids and send idempotency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..models import Conversation, ConversationStatus, Message, MessageKind, MessageStatus
from .media import MediaStore

if TYPE_CHECKING:
    from .migrate import SchemaState
    from .workflow import ReadChange


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
    `display_name` is the conversation's as the message was stored (None: none yet),
    `conversation` the whole conversation as the message left it (None: not known)."""

    message: Message
    new_conversation: bool
    display_name: str | None = None
    conversation: Conversation | None = None


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


class InboundStore(Protocol):
    """What the inbound flow writes: LINE users' messages and the webhook
    events that change a conversation."""

    async def add_inbound(self, new: NewInbound) -> InboundResult | None:
        """Store a LINE user's message with the next `seq`.

        Returns None when a message with this `webhook_event_id` was stored
        before (a redelivery): the message's unique event id is the record.
        """

    async def add_inbound_many(self, news: Sequence[NewInbound]) -> list[InboundResult | None]:
        """`add_inbound` for each message in order, in one transaction when none was
        stored before (a webhook's messages commit together); a result per message,
        None for one stored before. Never stores a message twice, also when
        another node stores some of them at the same time."""

    async def record_event(self, webhook_event_id: str) -> bool:
        """Remember the id of a webhook event that stores no message (follow,
        unsend); False if it was already known."""

    async def unsend(self, line_user_id: str, line_message_id: str) -> Message | None:
        """Hide a LINE user's message they unsent (text and data cleared, `data.unsent`
        set, a new `rev`); None when no stored message has that LINE message id."""

    async def apply_follow(
        self, line_user_id: str, followed: bool, webhook_event_id: str
    ) -> Conversation | None:
        """A follow or unfollow event: set `followed`, touch the conversation
        (creating it) and remember the event id, in one transaction. None, with
        nothing changed, when the event id was known (a redelivery)."""

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

    async def get_conversation(self, line_user_id: str) -> Conversation | None:
        """One conversation with its last message, or None."""

    async def last_inbound(self, line_user_id: str) -> Message | None:
        """The LINE user's latest message (its `data.mode` tells standby), or None."""


class OutboundStore(Protocol):
    """What the outbound flow needs: operators' messages and notes, their
    delivery lease and status."""

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
        """Store an operator's message as `pending`, idempotent on
        (`line_user_id`, `client_msg_id`): a repeat returns the stored one. With
        `note`: an internal note (kind `note`, direction `internal`, status `sent`),
        in the same id space. `kind` and `data`: a sticker (text None)."""

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
        """Set an outbound message's status (and release its lease) with a new `rev`;
        `data` is merged."""

    async def get_message(self, message_id: str) -> Message | None:
        """One message by id, or None."""

    async def undelivered_outbound(self, older_than: datetime) -> list[Message]:
        """Outbound messages still `pending` created before `older_than` (for retry at start)."""


class WorkflowStore(Protocol):
    """What the team workflow changes: assignment, status and the shared read state."""

    async def assign(self, line_user_id: str, admin_id: str | None) -> tuple[Conversation, bool]:
        """Set (None: clear) the conversation's assignee, creating it if missing;
        the bool says it changed (assigning the current assignee does not)."""

    async def set_conversation_status(
        self, line_user_id: str, status: ConversationStatus
    ) -> tuple[Conversation, bool]:
        """Resolve or reopen; the bool says it changed. The assignee is kept (a new
        message from the user reopens a resolved conversation unassigned)."""

    async def mark_read(
        self, line_user_id: str, seq: int
    ) -> tuple[Conversation, ReadChange | None]:
        """Raise `read_seq` to the highest inbound seq at or below `seq` (never lower
        it): those messages get `data.read` and new revs. None: nothing changed."""

    async def get_conversation(self, line_user_id: str) -> Conversation | None:
        """One conversation with its last message, or None."""


class ReadStore(Protocol):
    """What readers need: history, conversations and the facts the handoff check reads."""

    async def history(
        self,
        line_user_id: str,
        *,
        limit: int,
        after_seq: int | None = None,
        before_seq: int | None = None,
        after_rev: int | None = None,
    ) -> Page:
        """Messages oldest first. With `after_rev`: the first `limit` whose rev is
        greater, by rev (new and changed alike; it wins over the seq bounds). With
        `after_seq`: the first `limit` with a greater seq. Otherwise the latest
        `limit` (below `before_seq` if given)."""

    async def get_conversation(self, line_user_id: str) -> Conversation | None:
        """One conversation with its last message, or None."""

    async def list_conversations(
        self,
        *,
        limit: int,
        cursor: str | None = None,
        status: ConversationStatus | None = None,
        assignee: str | None = None,
        unassigned: bool = False,
    ) -> ConversationPage:
        """Conversations newest first (by `updated_at`, then `line_user_id`), paged
        by an opaque cursor: `next_cursor`, or `conversation_cursor(c)` to go on
        after any conversation `c`. A cursor the store cannot read is a `ValueError`.
        Only those with `status`, assigned to `assignee`, or `unassigned`, if given."""

    async def last_inbound(self, line_user_id: str) -> Message | None:
        """The LINE user's latest message (its `data.mode` tells standby), or None."""

    async def last_outbound_at(self, line_user_id: str) -> datetime | None:
        """When an operator last sent a message in this conversation."""


@runtime_checkable
class Store(InboundStore, OutboundStore, WorkflowStore, ReadStore, MediaStore, Protocol):
    """Persistence for livechat_ext: every narrow interface above, plus its
    lifecycle. Driver errors surface as `StoreError`."""

    async def start(self) -> None:
        """Open connections. Does not create tables (see `create_schema`)."""

    async def close(self) -> None:
        """Release connections (a host-provided engine is left open)."""

    async def create_schema(self) -> None:
        """Create the tables or upgrade them to this code's migrations (Alembic, in
        `livechat_alembic_version`); safe to run from several processes at once.
        Raises `SchemaError` for a schema a newer release made."""

    async def check_schema(self) -> SchemaState:
        """Where the schema stands; raises `SchemaError`, naming `livechat-ext db
        upgrade`, when an existing schema is behind this code or unknown to it."""

    async def ping(self) -> None:
        """Raise `StoreError` if the store cannot be reached."""

    async def prune_events(self, older_than: datetime) -> int:
        """Forget webhook event ids recorded before `older_than` (LINE redelivers
        for minutes, not days); returns how many were removed."""
