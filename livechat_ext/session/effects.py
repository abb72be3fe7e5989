"""What the state machine asks its caller to do, as values."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CloseCode
from ..operator import Operator
from ..protocol.client import MessageSendPayload


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


Effect = Reply | Close | Authenticated | Join | Leave | Typing | Send


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one frame: its type (None when it could not be parsed) and
    the effects, in the order they must be carried out."""

    type: str | None
    effects: tuple[Effect, ...]
