"""The per-connection state machine: a frame (and `now`) in, effects out.

No I/O and no event loop here: the WebSocket endpoint feeds frames and the
node's deadline scheduler feeds `tick(now)`; both carry out the effects.
"""

from .effects import (
    Assign,
    Authenticated,
    Close,
    ConversationChange,
    Effect,
    Join,
    Leave,
    MarkRead,
    Note,
    Reply,
    Send,
    SetStatus,
    Step,
    Typing,
)
from .machine import Limits, Session, Verified, Verify

__all__ = [
    "Assign",
    "Authenticated",
    "Close",
    "ConversationChange",
    "Effect",
    "Join",
    "Leave",
    "Limits",
    "MarkRead",
    "Note",
    "Reply",
    "Send",
    "Session",
    "SetStatus",
    "Step",
    "Typing",
    "Verified",
    "Verify",
]
