"""What the state machine asks its caller to do, as values."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CloseCode
from ..models import ConversationStatus
from ..operator import Operator
from ..protocol.client import MessageSendPayload, NoteSendPayload


@dataclass(frozen=True, slots=True)
class Reply:
    """Send this (already encoded) frame to the connection."""

    frame: str


@dataclass(frozen=True, slots=True)
class Close:
    """Send `final` after what is queued, then close the socket with `code`."""

    code: CloseCode
    reason: str
    final: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A token was accepted. `first`: the connection was not authenticated before,
    so it joins its rooms and counts for presence; a re-auth only extends it.
    The caller answers `auth_success` (it knows the operator list)."""

    operator: Operator
    ref: str | None
    first: bool


@dataclass(frozen=True, slots=True)
class Join:
    """Open a conversation: ask the hook, join its room, answer with history.
    A refusal must be reported back with `Session.join_refused`."""

    line_user_id: str
    after_seq: int | None
    ref: str | None
    after_rev: int | None = None  # catch-up by rev (1.1) wins over after_seq


@dataclass(frozen=True, slots=True)
class Leave:
    """Leave a conversation's room (the answer is already in a `Reply`)."""

    line_user_id: str
    ref: str | None


@dataclass(frozen=True, slots=True)
class Typing:
    """The operator started or stopped typing in a conversation."""

    line_user_id: str
    is_typing: bool
    ref: str | None


@dataclass(frozen=True, slots=True)
class Send:
    """Store and deliver an operator's message."""

    payload: MessageSendPayload
    ref: str | None


@dataclass(frozen=True, slots=True)
class Note:
    """Store an internal note and show it to the room (never to LINE)."""

    payload: NoteSendPayload
    ref: str | None


@dataclass(frozen=True, slots=True)
class Assign:
    """Assign the conversation to `admin_id` (None: nobody)."""

    line_user_id: str
    admin_id: str | None
    ref: str | None


@dataclass(frozen=True, slots=True)
class SetStatus:
    """Resolve or reopen the conversation."""

    line_user_id: str
    status: ConversationStatus
    ref: str | None


@dataclass(frozen=True, slots=True)
class MarkRead:
    """Mark the user's messages up to `seq` read, for the team and in LINE."""

    line_user_id: str
    seq: int
    ref: str | None


ConversationChange = Assign | SetStatus | MarkRead
"""The team workflow's changes to a conversation, each answered with it."""

Effect = Reply | Close | Authenticated | Join | Leave | Typing | Send | Note | ConversationChange


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one frame: its type (None when it could not be parsed) and
    the effects, in the order they must be carried out."""

    type: str | None
    effects: tuple[Effect, ...]
